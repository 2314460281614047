// Accuracy of the vectorized exp, log, tanh, sigmoid and GELU (and GELU's derivative)
// against the double-precision functions, on every ISA: every k-th float of each range
// (by bit pattern, so every binade is covered evenly) goes through VUnary and the largest
// error is asserted to be within the bound documented in elementwise.h and printed.
//
// k is 127 by default (~17M points per function); TT_SWEEP_STEP=1 makes the sweeps
// exhaustive (every float of each range; minutes), which is how the module README (elementwise section)'s
// numbers were measured:
//   bazel build //acceleration:elementwise_accuracy_test &&
//   TT_SWEEP_STEP=1 bazel-bin/acceleration/elementwise_accuracy_test
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using tensor::UnaryOp;

// The float constants the kernels (and the reference) use in GELU, exactly: the sweep
// measures the kernels' arithmetic, not the choice of constant.
constexpr double kC = static_cast<double>(0.797884583f);
constexpr double kA = static_cast<double>(0.044715f);

double TrueSigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// 0.5 v (1 + tanh(u)) written as v sigmoid(2u): identical, without the cancellation
// that makes even the double formula lose all digits for v < -5.
double TrueGelu(double v) { return v * TrueSigmoid(2.0 * kC * (v + kA * v * v * v)); }
double TrueGeluDerivative(double v) {
  const double s = TrueSigmoid(2.0 * kC * (v + kA * v * v * v));
  return s + 2.0 * v * kC * (1.0 + 3.0 * kA * v * v) * s * (1.0 - s);
}

uint32_t Step() {
  const char* env = std::getenv("TT_SWEEP_STEP");
  const long step = env != nullptr ? std::atol(env) : 127;
  return step >= 1 ? static_cast<uint32_t>(step) : 127u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// The spacing of floats at |t|: 2^(e - 23) for t in [2^e, 2^(e+1)), 2^-149 below 2^-126.
double UlpAt(double t) {
  const double a = std::fabs(t);
  if (a < std::ldexp(1.0, -126)) return std::ldexp(1.0, -149);
  int e;
  std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
  return std::ldexp(1.0, e - 24);
}

struct SweepResult {
  double max_ulp = 0.0, max_ulp_at = 0.0;
  double max_abs = 0.0, max_abs_at = 0.0;
  int64_t points = 0, special_mismatches = 0;
};

// Every step-th float in [lo, hi] through f (a batch of inputs -> outputs), compared
// with truth. Where the true value rounds to +-inf or is NaN the result must be exactly
// that. ulp errors count only for x >= ulp_from.
template <typename Batch>
SweepResult Sweep(float lo, float hi, Batch f, double (*truth)(double), double ulp_from) {
  SweepResult r;
  std::vector<float> xs, ys;
  xs.reserve(1 << 20);
  auto flush = [&] {
    ys.resize(xs.size());
    f(xs.data(), ys.data(), static_cast<int64_t>(xs.size()));
    for (size_t i = 0; i < xs.size(); ++i) {
      const double t = truth(xs[i]);
      const float rounded = static_cast<float>(t);
      if (std::isnan(t) || std::isinf(rounded)) {
        const bool ok = std::isnan(t) ? std::isnan(ys[i]) : ys[i] == rounded;
        if (!ok) ++r.special_mismatches;
        continue;
      }
      const double err = std::fabs(static_cast<double>(ys[i]) - t);
      if (!(err <= r.max_abs)) {  // also catches NaN
        r.max_abs = std::isnan(err) ? INFINITY : err;
        r.max_abs_at = xs[i];
      }
      const double ulp = err / UlpAt(t);
      if (xs[i] >= ulp_from && !(ulp <= r.max_ulp)) {
        r.max_ulp = std::isnan(ulp) ? INFINITY : ulp;
        r.max_ulp_at = xs[i];
      }
    }
    r.points += static_cast<int64_t>(xs.size());
    xs.clear();
  };
  const uint32_t step = Step();
  auto walk = [&](uint32_t from, uint32_t to) {  // bit patterns, inclusive
    for (uint64_t u = from; u <= to; u += step) {
      xs.push_back(FromBits(static_cast<uint32_t>(u)));
      if (xs.size() == xs.capacity()) flush();
    }
  };
  if (hi >= 0.0f) walk(lo > 0.0f ? BitsOf(lo) : 0u, BitsOf(hi));
  if (lo < 0.0f) walk(hi < 0.0f ? BitsOf(hi) : 0x80000000u, BitsOf(lo));
  flush();
  return r;
}

class AccuracyTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
    force_.emplace(GetParam());
  }

  // Sweeps VUnary(op), prints the result and returns it.
  SweepResult Run(const char* name, UnaryOp op, float lo, float hi, double (*truth)(double),
                  double ulp_from = -INFINITY) {
    const SweepResult r = Sweep(
        lo, hi, [op](const float* x, float* y, int64_t n) { VUnary(op, x, y, n); }, truth,
        ulp_from);
    std::printf(
        "%-8s %-8s [%g, %g] step %u: %lld points, max %.3f ulp at %.9g, max abs "
        "%.3g at %.9g\n",
        IsaName(GetParam()), name, lo, hi, Step(), static_cast<long long>(r.points), r.max_ulp,
        r.max_ulp_at, r.max_abs, r.max_abs_at);
    EXPECT_EQ(r.special_mismatches, 0) << name << ": wrong inf/NaN where the truth is one";
    return r;
  }

  std::optional<ScopedIsa> force_;
};

TEST_P(AccuracyTest, ExpWithinOnePointZeroFiveUlp) {
  // [-104, 89] covers the whole finite range, denormal results and overflow to inf.
  const SweepResult r =
      Run("exp", UnaryOp::kExp, -104.0f, 89.0f, [](double x) { return std::exp(x); });
  EXPECT_LE(r.max_ulp, 1.05);
}

TEST_P(AccuracyTest, LogWithinOneUlp) {
  // Every positive float from the smallest denormal to FLT_MAX, plus +inf.
  const SweepResult r = Run("log", UnaryOp::kLog, FromBits(1), FromBits(0x7f800000u),
                            [](double x) { return std::log(x); });
  EXPECT_LE(r.max_ulp, 1.0);
}

TEST_P(AccuracyTest, TanhWithinOneAndAHalfUlp) {
  const SweepResult r =
      Run("tanh", UnaryOp::kTanh, -20.0f, 20.0f, [](double x) { return std::tanh(x); });
  EXPECT_LE(r.max_ulp, 1.5);
  EXPECT_LE(r.max_abs, 2e-7);
}

TEST_P(AccuracyTest, SigmoidWithinTwoAndAHalfUlp) {
  // Down to x = -104, where sigmoid(x) ~ e^x is denormal.
  const SweepResult r = Run("sigmoid", UnaryOp::kSigmoid, -104.0f, 40.0f, TrueSigmoid);
  EXPECT_LE(r.max_ulp, 2.5);
}

TEST_P(AccuracyTest, GeluWithinBoundsAbsoluteAndRelative) {
  // Absolute over [-20, 20]; relative where the result is not tiny (x >= -1). Below,
  // GELU(x) ~ x e^(-1.6 x - 0.07 x^3) and any float evaluation of the exponent loses
  // ~|x|^3 ulp of relative accuracy (far under 1e-12 absolute).
  const SweepResult r = Run("gelu", UnaryOp::kGelu, -20.0f, 20.0f, TrueGelu, /*ulp_from=*/-1.0);
  EXPECT_LE(r.max_abs, 6e-7);
  EXPECT_LE(r.max_ulp, 3.0);
}

TEST_P(AccuracyTest, GeluDerivativeWithinBounds) {
  const SweepResult r = Sweep(
      -20.0f, 20.0f,
      [](const float* x, float* dx, int64_t n) {
        const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
        VUnaryBackward(UnaryOp::kGelu, x, /*y=*/nullptr, ones.data(), dx, n);
      },
      TrueGeluDerivative, -INFINITY);
  std::printf("%-8s %-8s [-20, 20] step %u: %lld points, max abs %.3g at %.9g\n",
              IsaName(GetParam()), "gelu'", Step(), static_cast<long long>(r.points), r.max_abs,
              r.max_abs_at);
  EXPECT_EQ(r.special_mismatches, 0);
  EXPECT_LE(r.max_abs, 3e-7);
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, AccuracyTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(info.param == Isa::kScalar    ? "Scalar"
                                              : info.param == Isa::kAvx2Fma ? "Avx2Fma"
                                                                            : "Avx512");
                         });

}  // namespace
}  // namespace tt::accel
