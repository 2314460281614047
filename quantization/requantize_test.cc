// QuantizeMultiplier and RequantizeRef against exact and double-precision arithmetic.
//
// Allowed differences, as requantize.h documents them:
//   - against acc * real_q (real_q = multiplier / 2^shift, computed exactly in long
//     double): none. RequantizeRef is round-half-up of it, exactly.
//   - against acc * real (the unquantized double): at most 1, and only at near-ties,
//     where acc * real is within |acc| * real * 2^-30 of a half-integer.
#include "quantization/requantize.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace tt::quant {
namespace {

constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();

int64_t Clamp(long double v, int32_t lo, int32_t hi) {
  return static_cast<int64_t>(std::fmin(std::fmax(v, static_cast<long double>(lo)), hi));
}

TEST(QuantizeMultiplierTest, PowersOfTwoAreExact) {
  for (int e = -32; e < 15; ++e) {
    const double real = std::ldexp(1.0, e);
    const FixedPointMultiplier m = QuantizeMultiplier(real).value();
    EXPECT_EQ(m.multiplier, 1 << 30) << e;
    EXPECT_EQ(m.shift, 30 - e) << e;
    EXPECT_EQ(MultiplierToDouble(m), real);
    EXPECT_TRUE(IsValidMultiplier(m));
  }
  const FixedPointMultiplier one;  // the default is 1.0
  EXPECT_EQ(MultiplierToDouble(one), 1.0);
}

TEST(QuantizeMultiplierTest, RelativeErrorAtMost2ToMinus31) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> log2(-32.0, 15.0);
  for (int i = 0; i < 100000; ++i) {
    const double real = std::exp2(log2(rng));
    if (real >= kMaxRequantizeScale) continue;
    const FixedPointMultiplier m = QuantizeMultiplier(real).value();
    ASSERT_GE(m.multiplier, 1 << 30);
    ASSERT_GE(m.shift, 15);
    ASSERT_LE(m.shift, 62);
    ASSERT_LE(std::abs(MultiplierToDouble(m) - real), 0x1p-31 * real) << real;
  }
  // Just below 2^15 rounds up to exactly 2^15 (renormalized), the smallest shift.
  const FixedPointMultiplier top = QuantizeMultiplier(std::nextafter(0x1p15, 0.0)).value();
  EXPECT_EQ(top.multiplier, 1 << 30);
  EXPECT_EQ(top.shift, 15);
}

TEST(QuantizeMultiplierTest, RejectsOutOfRange) {
  for (double bad : {0.0, -0.0, -1.0, 0x1p15, 1e10, 0x1p-33, 1e-300,
                     std::numeric_limits<double>::denorm_min(),
                     std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    const absl::StatusOr<FixedPointMultiplier> m = QuantizeMultiplier(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("[2^-32, 2^15)"), std::string::npos) << m.status();
  }
}

TEST(RequantizeRefTest, TiesRoundUp) {
  const FixedPointMultiplier half = QuantizeMultiplier(0.5).value();
  EXPECT_EQ(RequantizeRef(1, half, 0, -100, 100), 1);    // 0.5 -> 1
  EXPECT_EQ(RequantizeRef(-1, half, 0, -100, 100), 0);   // -0.5 -> 0
  EXPECT_EQ(RequantizeRef(-3, half, 0, -100, 100), -1);  // -1.5 -> -1
  EXPECT_EQ(RequantizeRef(5, half, 0, -100, 100), 3);    // 2.5 -> 3
  EXPECT_EQ(RequantizeRef(-2, half, 0, -100, 100), -1);
  EXPECT_EQ(RequantizeRef(7, half, 10, 0, 255), 14);     // + zero point
  EXPECT_EQ(RequantizeRef(1000, half, 10, 0, 255), 255);  // clamps
  EXPECT_EQ(RequantizeRef(-1000, half, 10, 0, 255), 0);
  EXPECT_EQ(RequantizeRef(-1000, half, 10, 10, 255), 10);  // fused ReLU
}

TEST(RequantizeRefTest, ExactAgainstLongDoubleOfTheQuantizedScale) {
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int32_t> any(kMin32, kMax32), mult(1, kMax32), shift(1, 62);
  std::uniform_int_distribution<int32_t> zp(-300, 300);
  for (int i = 0; i < 200000; ++i) {
    const int32_t acc = i < 4 ? (i % 2 ? kMin32 : kMax32) : any(rng);
    const FixedPointMultiplier m{i < 4 ? kMax32 : mult(rng), i < 2 ? 1 : shift(rng)};
    const int32_t z = zp(rng);
    // acc * multiplier (62 bits) is exact in a long double's 64-bit mantissa, and so are
    // the scaling by 2^-shift and the + 1/2.
    const long double exact = std::ldexp(static_cast<long double>(acc) * m.multiplier, -m.shift);
    const int64_t want = Clamp(std::floor(exact + 0.5L) + z, kMin32, kMax32);
    ASSERT_EQ(RequantizeRef(acc, m, z, kMin32, kMax32), want)
        << acc << " * " << m.multiplier << " / 2^" << m.shift;
  }
}

TEST(RequantizeRefTest, AgainstDoubleReferenceOnlyNearTiesDiffer) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> log2(-24.0, 4.0);
  std::uniform_int_distribution<int32_t> small(-(1 << 20), 1 << 20), any(kMin32, kMax32);
  int64_t near_ties = 0;
  for (int i = 0; i < 200000; ++i) {
    const double real = std::exp2(log2(rng));
    const FixedPointMultiplier m = QuantizeMultiplier(real).value();
    const int32_t acc = i % 3 == 0 ? any(rng) : small(rng);
    const long double v = static_cast<long double>(acc) * real;
    const int64_t want = Clamp(std::floor(v + 0.5L), -(1 << 30), 1 << 30);
    const int64_t got = RequantizeRef(acc, m, 0, -(1 << 30), 1 << 30);
    if (got == want) continue;
    // Only where the quantized scale's error (<= |acc| real 2^-31) can move acc * real
    // across a rounding boundary (a half-integer).
    const long double distance = std::fabs(v - std::floor(v) - 0.5L);
    ASSERT_LE(distance, std::fabs(v) * 0x1p-30) << acc << " * " << real;
    ASSERT_EQ(std::abs(got - want), 1);
    ++near_ties;
  }
  // The window is |acc| real 2^-30 wide around each half-integer: for the third of the
  // accumulators drawn from the whole int32 range it reaches 2^-4 of a unit at
  // |acc real| ~ 2^26, so a few hundred of 200000 land in it; none elsewhere.
  EXPECT_LT(near_ties, 2000);
}

TEST(RequantizeRefTest, ValidMultipliers) {
  EXPECT_TRUE(IsValidMultiplier({1, 1}));
  EXPECT_TRUE(IsValidMultiplier({kMax32, 62}));
  EXPECT_FALSE(IsValidMultiplier({0, 10}));
  EXPECT_FALSE(IsValidMultiplier({-5, 10}));
  EXPECT_FALSE(IsValidMultiplier({1 << 30, 0}));
  EXPECT_FALSE(IsValidMultiplier({1 << 30, 63}));
}

TEST(RequantizeRefDeathTest, BadArgumentsStop) {
  EXPECT_DEATH(RequantizeRef(1, {1 << 30, 0}, 0, 0, 255), "invalid multiplier");
  EXPECT_DEATH(RequantizeRef(1, {1 << 30, 30}, 0, 10, 5), "qmin 10 > qmax 5");
}

}  // namespace
}  // namespace tt::quant
