#include "quantization/qparams.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quantization/quantize.h"

namespace tt::quant {
namespace {

using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Invariants of every QParams the Choose* functions return.
void ExpectValid(QParams p, QType type) {
  EXPECT_TRUE(std::isfinite(p.scale));
  EXPECT_GE(p.scale, kMinScale);
  EXPECT_GE(p.zero_point, QMin(type));
  EXPECT_LE(p.zero_point, QMax(type));
  for (int32_t q = QMin(type); q <= QMax(type); ++q) {
    ASSERT_TRUE(std::isfinite(DequantizeValue(q, p))) << "grid point q=" << q;
  }
  // 0 is on the grid: it quantizes to zero_point and comes back as exactly 0.
  EXPECT_EQ(QuantizeValue(0.0f, p, type), p.zero_point);
  EXPECT_EQ(QuantizeValue(-0.0f, p, type), p.zero_point);
  EXPECT_EQ(DequantizeValue(p.zero_point, p), 0.0f);
}

// |x - dq(q(x))| <= scale / 2 for x in [lo, hi], up to the float rounding of x * (1/scale)
// (relative 2^-23 of a value of at most ~383 steps) and of the dequantize multiply.
double RoundTripBound(double x, QParams p) { return p.scale * (0.5 + 1e-4) + std::fabs(x) * 1e-7; }

// Values spread over [lo, hi] plus both ends and 0.
std::vector<float> Probe(float lo, float hi) {
  std::vector<float> xs = {lo, hi, 0.0f};
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < 2000; ++i) {
    const double t = u(gen);
    xs.push_back(static_cast<float>(static_cast<double>(lo) + t * (static_cast<double>(hi) - lo)));
  }
  return xs;
}

void ExpectRoundTrip(float min, float max, QParams p, QType type, double slack_steps = 0.0) {
  const float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  for (float x : Probe(lo, hi)) {
    const int32_t q = QuantizeValue(x, p, type);
    const double err = std::fabs(static_cast<double>(x) - DequantizeValue(q, p));
    ASSERT_LE(err, RoundTripBound(x, p) + slack_steps * p.scale)
        << "x=" << x << " range [" << min << ", " << max << "] scale=" << p.scale
        << " zp=" << p.zero_point << " q=" << q;
  }
}

TEST(QTypeTest, Ranges) {
  EXPECT_EQ(QMin(QType::kInt8), -128);
  EXPECT_EQ(QMax(QType::kInt8), 127);
  EXPECT_EQ(QMin(QType::kUint8), 0);
  EXPECT_EQ(QMax(QType::kUint8), 255);
  EXPECT_STREQ(QTypeName(QType::kInt8), "int8");
  EXPECT_STREQ(QTypeName(QType::kUint8), "uint8");
}

TEST(CheckFiniteTest, AcceptsFiniteValues) {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, FLT_MAX, -FLT_MAX, 1e-45f, -1e-40f};
  EXPECT_TRUE(CheckFinite(x.data(), x.size(), "x").ok());
  EXPECT_TRUE(CheckFinite(nullptr, 0, "empty").ok());
}

TEST(CheckFiniteTest, NamesTheFirstBadValue) {
  std::vector<float> x(5000, 1.0f);
  x[3001] = kNaN;
  x[4000] = kInf;
  absl::Status s = CheckFinite(x.data(), x.size(), "fc1.weight");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("fc1.weight"));
  EXPECT_THAT(s.message(), HasSubstr("value 3001 of 5000 is NaN"));

  x[3001] = 1.0f;
  s = CheckFinite(x.data(), x.size(), "act");
  EXPECT_THAT(s.message(), HasSubstr("value 4000 of 5000 is +inf"));
  x[0] = -kInf;
  s = CheckFinite(x.data(), x.size(), "act");
  EXPECT_THAT(s.message(), HasSubstr("value 0 of 5000 is -inf"));
}

TEST(CheckFiniteTest, BadSizes) {
  EXPECT_EQ(CheckFinite(nullptr, -1, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckFinite(nullptr, 3, "x").code(), absl::StatusCode::kInvalidArgument);
}

struct RangeCase {
  const char* name;
  float min, max;
};

// Every edge range of the issue: constant, one-sided, zero-only, tiny, huge, denormal.
const RangeCase kRanges[] = {
    {"symmetric", -1.0f, 1.0f},
    {"relu6", 0.0f, 6.0f},
    {"skewed", -0.5f, 6.0f},
    {"all_positive", 2.0f, 5.0f},
    {"all_negative", -3.0f, -1.0f},
    {"zero_only", 0.0f, 0.0f},
    {"constant_positive", 4.0f, 4.0f},
    {"constant_negative", -4.0f, -4.0f},
    {"constant_tiny", 1e-30f, 1e-30f},
    {"tiny", -1e-30f, 1e-30f},
    {"tiny_positive", 1e-32f, 3e-30f},
    {"denormal", -1e-40f, 1e-40f},
    {"smallest_denormal", 0.0f, 1.4e-45f},
    {"near_flt_min", -FLT_MIN, 0.0f},
    {"huge", -1e30f, 1e30f},
    {"huge_positive", 1e37f, 3e38f},
    {"huge_negative", -3e38f, -1e38f},
    {"huge_skewed", -1e38f, 2e38f},
};

class AffineRangeTest : public ::testing::TestWithParam<QType> {};

TEST_P(AffineRangeTest, EveryRangeGivesValidParamsAndBoundedError) {
  const QType type = GetParam();
  for (const RangeCase& c : kRanges) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<QParams> p = ChooseAffineQParams(c.min, c.max, type);
    ASSERT_TRUE(p.ok()) << p.status();
    ExpectValid(*p, type);
    ExpectRoundTrip(c.min, c.max, *p, type);
  }
}

TEST_P(AffineRangeTest, UsesTheFullRangeWhenNoFloorApplies) {
  const QType type = GetParam();
  const int32_t qmin = QMin(type), qmax = QMax(type);
  // The ends of the (widened) range land on the ends of the integer range.
  QParams p = ChooseAffineQParams(-0.5f, 6.0f, type).value();
  EXPECT_FLOAT_EQ(p.scale, 6.5f / 255);
  EXPECT_EQ(p.zero_point, qmin + 20);
  EXPECT_EQ(QuantizeValue(-0.5f, p, type), qmin);
  EXPECT_EQ(QuantizeValue(6.0f, p, type), qmax);

  // One-sided ranges are widened to include 0, which takes an end of the integer range.
  p = ChooseAffineQParams(2.0f, 5.0f, type).value();
  EXPECT_FLOAT_EQ(p.scale, 5.0f / 255);
  EXPECT_EQ(p.zero_point, qmin);
  EXPECT_EQ(QuantizeValue(5.0f, p, type), qmax);
  p = ChooseAffineQParams(-3.0f, -1.0f, type).value();
  EXPECT_FLOAT_EQ(p.scale, 3.0f / 255);
  EXPECT_EQ(p.zero_point, qmax);
  EXPECT_EQ(QuantizeValue(-3.0f, p, type), qmin);

  // Constant tensors: [c, c] becomes [0, c]; c itself is exactly the top of the grid.
  p = ChooseAffineQParams(4.0f, 4.0f, type).value();
  EXPECT_EQ(p.zero_point, qmin);
  EXPECT_EQ(QuantizeValue(4.0f, p, type), qmax);
  EXPECT_NEAR(DequantizeValue(qmax, p), 4.0f, 4e-6f);

  // [0, 0]: scale 1, centered zero point.
  p = ChooseAffineQParams(0.0f, 0.0f, type).value();
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, type == QType::kInt8 ? 0 : 128);
}

TEST_P(AffineRangeTest, ScaleIsRoundedUpSoTheGridCoversTheRange) {
  const QType type = GetParam();
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(-100.0f, 100.0f);
  for (int i = 0; i < 1000; ++i) {
    float a = u(gen), b = u(gen);
    if (a > b) std::swap(a, b);
    const QParams p = ChooseAffineQParams(a, b, type).value();
    const double lo = std::min(a, 0.0f), hi = std::max(b, 0.0f);
    EXPECT_GE(static_cast<double>(p.scale) * 255, hi - lo);
    ExpectValid(p, type);
  }
}

TEST_P(AffineRangeTest, TinyRangesUseTheScaleFloor) {
  const QType type = GetParam();
  const QParams p = ChooseAffineQParams(-1e-40f, 1e-40f, type).value();
  EXPECT_EQ(p.scale, kMinScale);
  // Centered: neither end saturates away from its nearest grid point.
  EXPECT_EQ(p.zero_point, type == QType::kInt8 ? 0 : 128);
}

TEST_P(AffineRangeTest, TheWidestRangeKeepsTheGridFinite) {
  const QType type = GetParam();
  const QParams p = ChooseAffineQParams(-FLT_MAX, FLT_MAX, type).value();
  ExpectValid(p, type);
  EXPECT_GE(static_cast<double>(p.scale) * 255, static_cast<double>(FLT_MAX) * 1.99);
  // The documented exception: near +-FLT_MAX the error may reach one step.
  ExpectRoundTrip(-FLT_MAX, FLT_MAX, p, type, /*slack_steps=*/0.5);
  // Everywhere else the half-step bound holds.
  ExpectRoundTrip(-0.99f * FLT_MAX, 0.99f * FLT_MAX, p, type);
}

TEST_P(AffineRangeTest, RejectsBadRanges) {
  const QType type = GetParam();
  for (auto [lo, hi] : {std::pair{kNaN, 1.0f}, std::pair{0.0f, kNaN}, std::pair{-kInf, 1.0f},
                        std::pair{0.0f, kInf}}) {
    absl::StatusOr<QParams> p = ChooseAffineQParams(lo, hi, type);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr("not finite"));
  }
  absl::StatusOr<QParams> p = ChooseAffineQParams(2.0f, 1.0f, type);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("min 2 > max 1"));
}

INSTANTIATE_TEST_SUITE_P(Types, AffineRangeTest, ::testing::Values(QType::kInt8, QType::kUint8),
                         [](const auto& info) { return std::string(QTypeName(info.param)); });

TEST(SymmetricTest, RestrictedRange) {
  QParams p = ChooseSymmetricQParams(2.54f, QType::kInt8).value();
  EXPECT_FLOAT_EQ(p.scale, 0.02f);
  EXPECT_EQ(p.zero_point, 0);
  EXPECT_EQ(QuantizeValue(2.54f, p, QType::kInt8), 127);
  EXPECT_EQ(QuantizeValue(-2.54f, p, QType::kInt8), -127);  // symmetric: never -128 inside
  EXPECT_EQ(QuantizeValue(-1.0f, p, QType::kInt8), -QuantizeValue(1.0f, p, QType::kInt8));
  EXPECT_EQ(QuantizeValue(-3.0f, p, QType::kInt8), -128);  // beyond the range: saturates

  p = ChooseSymmetricQParams(2.54f, QType::kUint8).value();
  EXPECT_FLOAT_EQ(p.scale, 0.02f);
  EXPECT_EQ(p.zero_point, 128);
  EXPECT_EQ(QuantizeValue(2.54f, p, QType::kUint8), 255);
  EXPECT_EQ(QuantizeValue(-2.54f, p, QType::kUint8), 1);
  // The uint8 grid is the int8 grid shifted by 128.
  const QParams s8 = ChooseSymmetricQParams(2.54f, QType::kInt8).value();
  for (float x : Probe(-2.54f, 2.54f)) {
    ASSERT_EQ(QuantizeValue(x, p, QType::kUint8), QuantizeValue(x, s8, QType::kInt8) + 128);
  }
}

TEST(SymmetricTest, EdgeValues) {
  for (QType type : {QType::kInt8, QType::kUint8}) {
    for (float absmax : {0.0f, 1e-45f, 1e-40f, FLT_MIN, 1e-30f, 1.0f, 1e30f, 1e38f, FLT_MAX}) {
      SCOPED_TRACE(absmax);
      const QParams p = ChooseSymmetricQParams(absmax, type).value();
      ExpectValid(p, type);
      ExpectRoundTrip(-0.99f * absmax, 0.99f * absmax, p, type);
    }
    EXPECT_EQ(ChooseSymmetricQParams(0.0f, type).value().scale, 1.0f);
    EXPECT_EQ(ChooseSymmetricQParams(1e-40f, type).value().scale, kMinScale);
    for (float bad : {-1.0f, kNaN, kInf}) {
      EXPECT_EQ(ChooseSymmetricQParams(bad, type).status().code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(PerChannelTest, ColumnsAndRows) {
  // (3, 4); column 2 is all zero. No value lands on a rounding tie.
  const std::vector<float> w = {
      1.0f,  -2.0f, 0.0f, 0.5f,   //
      -4.0f, 1.5f,  0.0f, -0.3f,  //
      3.0f,  0.5f,  0.0f, 0.125f,
  };
  ChannelQParams cols = ChoosePerChannelSymmetric(w.data(), 3, 4, 1).value();
  EXPECT_EQ(cols.axis, 1);
  ASSERT_EQ(cols.size(), 4);
  EXPECT_FLOAT_EQ(cols.scale[0], 4.0f / 127);
  EXPECT_FLOAT_EQ(cols.scale[1], 2.0f / 127);
  EXPECT_EQ(cols.scale[2], 1.0f);  // all-zero channel: still a valid positive scale
  EXPECT_FLOAT_EQ(cols.scale[3], 0.5f / 127);
  EXPECT_THAT(cols.zero_point, ::testing::Each(0));

  ChannelQParams rows = ChoosePerChannelSymmetric(w.data(), 3, 4, 0).value();
  EXPECT_EQ(rows.axis, 0);
  ASSERT_EQ(rows.size(), 3);
  EXPECT_FLOAT_EQ(rows.scale[0], 2.0f / 127);
  EXPECT_FLOAT_EQ(rows.scale[1], 4.0f / 127);
  EXPECT_FLOAT_EQ(rows.scale[2], 3.0f / 127);

  std::vector<int8_t> q(12);
  QuantizePerChannel(w.data(), 3, 4, cols, q.data());
  const std::vector<int8_t> expected_cols = {32, -127, 0, 127, -127, 95, 0, -76, 95, 32, 0, 32};
  EXPECT_EQ(q, expected_cols);
  QuantizePerChannel(w.data(), 3, 4, rows, q.data());
  // Each element equals QuantizeInt8 of its row with the row's parameters.
  for (int64_t i = 0; i < 3; ++i) {
    std::vector<int8_t> row(4);
    QuantizeInt8Ref(w.data() + i * 4, 4, rows.channel(i), row.data());
    EXPECT_EQ(std::vector<int8_t>(q.begin() + i * 4, q.begin() + i * 4 + 4), row);
  }
}

TEST(PerChannelTest, MatchesPerTensorQuantizeOnRandomWeights) {
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  const int64_t rows = 37, cols = 19;
  std::vector<float> w(rows * cols);
  for (float& v : w) v = normal(gen);
  const ChannelQParams p = ChoosePerChannelSymmetric(w.data(), rows, cols, 1).value();
  std::vector<int8_t> q(rows * cols);
  QuantizePerChannel(w.data(), rows, cols, p, q.data());
  for (int64_t j = 0; j < cols; ++j) {
    for (int64_t i = 0; i < rows; ++i) {
      const float x = w[i * cols + j];
      ASSERT_EQ(q[i * cols + j], QuantizeValue(x, p.channel(j), QType::kInt8));
      ASSERT_LE(std::fabs(x - DequantizeValue(q[i * cols + j], p.channel(j))),
                RoundTripBound(x, p.channel(j)));
      ASSERT_NE(q[i * cols + j], -128);
    }
  }
}

TEST(PerChannelTest, EmptyAndBadInput) {
  ChannelQParams p = ChoosePerChannelSymmetric(nullptr, 0, 5, 1).value();
  EXPECT_EQ(p.size(), 5);
  EXPECT_THAT(p.scale, ::testing::Each(1.0f));
  p = ChoosePerChannelSymmetric(nullptr, 0, 5, 0).value();
  EXPECT_EQ(p.size(), 0);

  std::vector<float> w(6, 1.0f);
  EXPECT_EQ(ChoosePerChannelSymmetric(w.data(), 2, 3, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChoosePerChannelSymmetric(w.data(), -2, 3, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  w[4] = kNaN;
  absl::Status s = ChoosePerChannelSymmetric(w.data(), 2, 3, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("weight (1, 1) of (2, 3) is NaN"));
}

TEST(PerChannelDeathTest, MismatchedParams) {
  std::vector<float> w(6, 1.0f);
  std::vector<int8_t> q(6);
  ChannelQParams p = ChoosePerChannelSymmetric(w.data(), 2, 3, 1).value();
  EXPECT_DEATH(QuantizePerChannel(w.data(), 3, 2, p, q.data()), "3 scales .* 2 channels");
  p.scale[1] = 0.0f;
  EXPECT_DEATH(QuantizePerChannel(w.data(), 2, 3, p, q.data()), "channel 1 has scale 0");
}

}  // namespace
}  // namespace tt::quant
