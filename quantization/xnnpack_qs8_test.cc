// XnnpackQs8FullyConnected against the course's Int8Gemm on the same layer (int8 data
// shifted by 128 to uint8), within 1: XNNPACK requantizes in float with ties to even,
// Int8Gemm in fixed point with ties up. Also the (N, K) layout and the errors.
#include "quantization/xnnpack_qs8.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "quantization/int8_gemm.h"
#include "quantization/requantize.h"

namespace tt::quant {
namespace {

struct Case {
  int64_t m, k, n;
  accel::WeightLayout layout;
  bool relu;
};

TEST(XnnpackQs8Test, MatchesInt8GemmWithinOne) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int> s8(-128, 127), bias_dist(-3000, 3000);
  for (const Case& c : {Case{1, 1, 1, accel::WeightLayout::kKN, false},
                        Case{7, 33, 17, accel::WeightLayout::kKN, false},
                        Case{64, 300, 50, accel::WeightLayout::kKN, true},
                        Case{5, 64, 24, accel::WeightLayout::kNK, false},
                        Case{130, 17, 100, accel::WeightLayout::kNK, true}}) {
    std::vector<int8_t> x(c.m * c.k + 16), w(c.k * c.n), w_kn(c.k * c.n), y(c.m * c.n);
    std::vector<int32_t> bias(c.n);
    for (int8_t& v : x) v = static_cast<int8_t>(s8(rng));
    for (int8_t& v : w) v = static_cast<int8_t>(s8(rng));
    for (int32_t& v : bias) v = bias_dist(rng);
    // Our GEMM takes (K, N).
    for (int64_t p = 0; p < c.k; ++p) {
      for (int64_t j = 0; j < c.n; ++j) {
        w_kn[p * c.n + j] =
            c.layout == accel::WeightLayout::kKN ? w[p * c.n + j] : w[j * c.k + p];
      }
    }
    XnnpackQs8Params p;
    p.k = c.k;
    p.n = c.n;
    p.layout = c.layout;
    p.input_zero_point = -7;
    p.input_scale = 0.03f;
    p.kernel_scale = 0.005f;
    p.output_zero_point = 11;
    // Outputs spread over the int8 range: acc ~ 74 * 128 * sqrt(K).
    p.output_scale = static_cast<float>(0.03 * 0.005 * 74.0 * 128.0 * std::sqrt(c.k) / 60.0);
    p.output_min = c.relu ? p.output_zero_point : -128;
    auto fc = XnnpackQs8FullyConnected::Create(w.data(), bias.data(), p);
    ASSERT_TRUE(fc.ok()) << fc.status();
    ASSERT_TRUE((*fc)->Run(c.m, x.data(), y.data()).ok());

    std::vector<uint8_t> a(c.m * c.k), ours(c.m * c.n);
    for (int64_t i = 0; i < c.m * c.k; ++i) a[i] = static_cast<uint8_t>(x[i] + 128);
    const PackedInt8Matrix packed = PackedInt8Matrix::Pack(w_kn.data(), c.k, c.n, c.n);
    const FixedPointMultiplier mult =
        QuantizeMultiplier(static_cast<double>(p.input_scale) * p.kernel_scale / p.output_scale)
            .value();
    Int8Epilogue ep;
    ep.bias = bias.data();
    ep.multipliers = &mult;
    ep.per_channel = false;
    ep.output_zero_point = p.output_zero_point + 128;
    ep.output_min = p.output_min + 128;
    ep.output_max = p.output_max + 128;
    Int8Gemm(packed, c.m, a.data(), c.k, p.input_zero_point + 128, ep, ours.data(), c.n);

    int64_t differ = 0;
    for (int64_t i = 0; i < c.m * c.n; ++i) {
      const int diff = static_cast<int>(ours[i]) - 128 - y[i];
      ASSERT_LE(std::abs(diff), 1) << "M=" << c.m << " K=" << c.k << " N=" << c.n << " at " << i;
      differ += diff != 0;
    }
    // Off by one only at (near-)ties and float rounding: a small fraction.
    EXPECT_LE(differ, c.m * c.n / 20 + 1) << "M=" << c.m << " K=" << c.k << " N=" << c.n;
  }
}

TEST(XnnpackQs8Test, BadParametersAreErrors) {
  const int8_t w[4] = {1, 2, 3, 4};
  XnnpackQs8Params p;
  p.k = 2;
  p.n = 2;
  EXPECT_TRUE(XnnpackQs8FullyConnected::Create(w, nullptr, p).ok());

  XnnpackQs8Params bad = p;
  bad.k = 0;
  EXPECT_EQ(XnnpackQs8FullyConnected::Create(w, nullptr, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = p;
  bad.input_zero_point = 128;
  EXPECT_EQ(XnnpackQs8FullyConnected::Create(w, nullptr, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = p;
  bad.output_scale = 0.0f;
  EXPECT_EQ(XnnpackQs8FullyConnected::Create(w, nullptr, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = p;
  bad.output_min = 5;
  bad.output_max = 5;
  EXPECT_EQ(XnnpackQs8FullyConnected::Create(w, nullptr, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(XnnpackQs8FullyConnected::Create(nullptr, nullptr, p).status().code(),
            absl::StatusCode::kInvalidArgument);
  // XNNPACK itself refuses requantization scales >= 256.
  bad = p;
  bad.input_scale = 100.0f;
  bad.kernel_scale = 100.0f;
  EXPECT_FALSE(XnnpackQs8FullyConnected::Create(w, nullptr, bad).ok());

  auto fc = XnnpackQs8FullyConnected::Create(w, nullptr, p);
  ASSERT_TRUE(fc.ok());
  int8_t x[2 + 16] = {}, y[2];
  EXPECT_EQ((*fc)->Run(-1, x, y).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*fc)->Run(0, nullptr, nullptr).ok());
  EXPECT_EQ((*fc)->Run(1, nullptr, y).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tt::quant
