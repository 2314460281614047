#include "quantization/int8_conv.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quantization/int8_gemm.h"

namespace tt::quant {
namespace {

struct Case {
  int64_t batch, h, w, c, oc, k, stride, pad;
};

class Int8ConvTest : public ::testing::TestWithParam<Case> {};

// im2col + the packed int8 GEMM must equal the direct convolution exactly.
TEST_P(Int8ConvTest, Im2ColGemmEqualsDirectConvolution) {
  const Case p = GetParam();
  ConvShape s{p.batch, p.h, p.w, p.c, p.oc, p.k, p.stride, p.pad};
  std::mt19937 gen(static_cast<uint32_t>(p.h * 131 + p.c * 7 + p.k));
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127);
  std::vector<uint8_t> x(s.batch * s.height * s.width * s.in_channels);
  for (auto& v : x) v = static_cast<uint8_t>(u8(gen));
  std::vector<int8_t> w(s.out_channels * s.patch());
  for (auto& v : w) v = static_cast<int8_t>(s8(gen));
  const int32_t zp = 37;

  std::vector<int32_t> want(s.pixels() * s.out_channels);
  Int8Conv2dRef(s, x.data(), zp, w.data(), want.data());

  std::vector<uint8_t> cols(s.pixels() * s.patch());
  Im2ColNhwc(s, x.data(), static_cast<uint8_t>(zp), cols.data());
  const std::vector<int8_t> b = ConvWeightsToGemm(w.data(), s.out_channels, s.in_channels, s.kernel);
  PackedInt8Matrix packed = PackedInt8Matrix::Pack(b.data(), s.patch(), s.out_channels, s.out_channels);
  std::vector<int32_t> got(want.size(), -1);
  Int8GemmS32(packed, s.pixels(), cols.data(), s.patch(), zp, nullptr, got.data(), s.out_channels);
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Int8ConvTest,
                         ::testing::Values(Case{1, 28, 28, 1, 16, 3, 1, 1},   // CNN conv1
                                           Case{2, 14, 14, 16, 32, 3, 1, 1},  // CNN conv2
                                           Case{1, 5, 7, 3, 5, 3, 2, 0},      // stride 2
                                           Case{3, 4, 4, 2, 3, 1, 1, 0},      // 1x1
                                           Case{1, 6, 5, 3, 4, 5, 1, 2},      // wide padding
                                           Case{1, 3, 3, 1, 1, 3, 1, 0}));    // one pixel

TEST(MaxPool2dNhwcTest, MatchesBruteForce) {
  const int64_t batch = 2, h = 7, w = 6, c = 19, k = 2, stride = 2;
  std::mt19937 gen(3);
  std::vector<uint8_t> x(batch * h * w * c);
  for (auto& v : x) v = static_cast<uint8_t>(gen() & 255);
  const int64_t oh = (h - k) / stride + 1, ow = (w - k) / stride + 1;
  std::vector<uint8_t> got(batch * oh * ow * c);
  MaxPool2dNhwc(x.data(), batch, h, w, c, k, stride, got.data());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t ch = 0; ch < c; ++ch) {
          uint8_t m = 0;
          for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b)
              m = std::max(m, x[((n * h + i * stride + a) * w + j * stride + b) * c + ch]);
          ASSERT_EQ(got[((n * oh + i) * ow + j) * c + ch], m) << n << " " << i << " " << j;
        }
}

TEST(ConvWeightsToGemmTest, RowsArePatchOrder) {
  // OC=2, C=2, K=2: w[oc][c][kh][kw] = oc*8 + c*4 + kh*2 + kw.
  std::vector<int8_t> w(16);
  for (int i = 0; i < 16; ++i) w[i] = static_cast<int8_t>(i);
  const std::vector<int8_t> b = ConvWeightsToGemm(w.data(), 2, 2, 2);
  // Row (kh=1, kw=0, c=1) = (1*2+0)*2+1 = 5; column oc=1 -> 8 + 4 + 2 = 14.
  EXPECT_EQ(b[5 * 2 + 1], 14);
  EXPECT_EQ(b[0 * 2 + 0], 0);
}

}  // namespace
}  // namespace tt::quant
