// VIm2Col / VCol2Im against tensor's ReferenceBackend, bit for bit, with every ISA
// forced in turn: strides, paddings (including wider than the kernel), kernels from
// 1x1 to wider than the input, widths around the vector lengths (8, 16, 32), a row
// stride ld larger than OH*OW (a batch's images side by side), and bad geometry.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/im2col.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using tensor::ConvGeometry;

class Im2ColTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
    force_ = std::make_unique<ScopedIsa>(GetParam());
  }
  void TearDown() override { force_.reset(); }

 private:
  std::unique_ptr<ScopedIsa> force_;
};

std::vector<ConvGeometry> Geometries() {
  std::vector<ConvGeometry> out;
  for (int64_t width : {1, 5, 8, 14, 16, 17, 28, 33}) {
    for (int64_t kernel : {1, 2, 3, 5}) {
      for (int64_t pad : {0, 1, 2, 6}) {
        for (int64_t stride : {1, 2}) {
          ConvGeometry g{2, 7, width, kernel, kernel, stride, stride, pad, pad};
          if (g.out_h() >= 1 && g.out_w() >= 1) out.push_back(g);
        }
      }
    }
  }
  out.push_back({16, 14, 14, 3, 3, 1, 1, 1, 1});  // the CNN's second convolution
  out.push_back({1, 28, 28, 3, 3, 1, 1, 1, 1});   // and its first
  out.push_back({3, 9, 20, 3, 5, 2, 1, 1, 2});    // stride 2 down, 1 across
  out.push_back({3, 9, 20, 5, 3, 1, 3, 2, 1});    // stride 3 across: the reference loops
  return out;
}

std::string Describe(const ConvGeometry& g) {
  return "C=" + std::to_string(g.channels) + " H=" + std::to_string(g.height) +
         " W=" + std::to_string(g.width) + " kernel " + std::to_string(g.kernel_h) + "x" +
         std::to_string(g.kernel_w) + " stride " + std::to_string(g.stride_h) + "x" +
         std::to_string(g.stride_w) + " pad " + std::to_string(g.pad_h) + "x" +
         std::to_string(g.pad_w);
}

TEST_P(Im2ColTest, Im2ColEqualsReferenceBitForBit) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const ConvGeometry& g : Geometries()) {
    const int64_t rows = g.channels * g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w();
    std::vector<float> x(g.channels * g.height * g.width);
    for (float& v : x) v = u(rng);
    for (int64_t extra : {0, 5}) {  // ld = P, or P + 5 with the gaps left untouched
      const int64_t ld = p + extra;
      std::vector<float> want(rows * ld, 7.0f), got(rows * ld, 7.0f);
      tensor::ReferenceBackend().Im2Col(g, x.data(), want.data(), ld);
      VIm2Col(g, x.data(), got.data(), ld);
      EXPECT_EQ(got, want) << Describe(g) << " ld " << ld;
    }
  }
}

TEST_P(Im2ColTest, Col2ImEqualsReferenceBitForBit) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const ConvGeometry& g : Geometries()) {
    const int64_t rows = g.channels * g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w();
    for (int64_t extra : {0, 3}) {
      const int64_t ld = p + extra;
      std::vector<float> cols(rows * ld);
      for (float& v : cols) v = u(rng);
      std::vector<float> want(g.channels * g.height * g.width);
      for (float& v : want) v = u(rng);  // col2im adds into dx
      std::vector<float> got = want;
      tensor::ReferenceBackend().Col2Im(g, cols.data(), ld, want.data());
      VCol2Im(g, cols.data(), ld, got.data());
      EXPECT_EQ(got, want) << Describe(g) << " ld " << ld;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Im2ColTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           switch (info.param) {
                             case Isa::kScalar:
                               return std::string("Scalar");
                             case Isa::kAvx2Fma:
                               return std::string("Avx2Fma");
                             case Isa::kAvx512:
                               return std::string("Avx512");
                           }
                           return std::string("Unknown");
                         });

TEST(Im2ColDeathTest, RejectsBadGeometry) {
  float x[16] = {}, cols[64] = {};
  EXPECT_DEATH(VIm2Col({1, 4, 4, 3, 3, 0, 1, 0, 0}, x, cols, 4), "VIm2Col: bad geometry");
  EXPECT_DEATH(VIm2Col({1, 2, 2, 3, 3, 1, 1, 0, 0}, x, cols, 4), "does not fit");
  EXPECT_DEATH(VCol2Im({1, 4, 4, 3, 3, 1, 1, 0, 0}, cols, 3, x), "VCol2Im: ld 3 < OH\\*OW = 4");
}

}  // namespace
}  // namespace tt::accel
