// The vectorized elementwise kernels (elementwise.h) on every ISA this CPU has, each
// forced in turn with ScopedIsa, against ReferenceBackend: random data at sizes around
// the vector widths (tails), special values, in place, softmax properties, the fused
// bias + activation epilogue, and bad arguments. Accuracy against the double-precision
// functions is elementwise_accuracy_test.cc.
#include "acceleration/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::BinaryOp;
using tensor::ReferenceBackend;
using tensor::UnaryOp;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kSizes[] = {0, 1, 15, 16, 17, 31, 33, 1000003};
constexpr UnaryOp kUnaryOps[] = {UnaryOp::kExp,     UnaryOp::kLog,  UnaryOp::kSqrt, UnaryOp::kTanh,
                                 UnaryOp::kSigmoid, UnaryOp::kRelu, UnaryOp::kGelu, UnaryOp::kNeg};
constexpr BinaryOp kBinaryOps[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};

std::string UnaryName(UnaryOp op) {
  const char* names[] = {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "neg"};
  return names[static_cast<int>(op)];
}

// How close a result must be to the reference's (which uses libm's float functions).
// abs + rel * |want|; {0, 0} means bit-for-bit equal.
struct Tolerance {
  double abs = 0.0, rel = 0.0;
};

Tolerance UnaryTolerance(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp:  // ours < 1 ulp, libm's < 1 ulp; abs: the denormal results
      return {1e-44, 2.5e-7};
    case UnaryOp::kLog:
      return {1e-7, 3e-7};
    case UnaryOp::kTanh:
      return {1e-7, 3e-7};
    case UnaryOp::kSigmoid:
      return {1e-44, 4e-7};
    case UnaryOp::kGelu:  // the reference loses accuracy in 1 + tanh(u) for v < 0
      return {2e-6, 3e-7};
    default:
      return {};  // sqrt, relu, neg: exact
  }
}

bool Same(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Checks got against want elementwise: NaN where want is NaN, the same infinity, and
// otherwise within tol (or the same bits when tol is {0, 0}).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::vector<float>& input, Tolerance tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 5; ++i) {
    const float g = got[i], w = want[i];
    bool ok;
    if (tol.abs == 0.0 && tol.rel == 0.0) {
      ok = Same(g, w) || (std::isnan(g) && std::isnan(w));
    } else if (std::isnan(w) || std::isinf(w)) {
      ok = (std::isnan(g) && std::isnan(w)) || g == w;
    } else {
      ok = std::isfinite(g) &&
           std::fabs(static_cast<double>(g) - w) <= tol.abs + tol.rel * std::fabs(w);
    }
    if (!ok) {
      ADD_FAILURE() << what << " at " << i << " (input " << input[i] << "): got " << g
                    << ", reference " << w;
      ++reported;
    }
  }
}

// Random data in [lo, hi], with a guard of sentinel values after the end so that a
// kernel writing past n is caught.
std::vector<float> RandomVector(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// The inputs each op is tested on: its interesting range, past the saturation points.
std::vector<float> UnaryInput(UnaryOp op, int64_t n, uint32_t seed) {
  switch (op) {
    case UnaryOp::kExp:
      return RandomVector(n, -110.0f, 95.0f, seed);
    case UnaryOp::kLog:
    case UnaryOp::kSqrt:
      return RandomVector(n, -1.0f, 1000.0f, seed);  // some negatives: NaN
    case UnaryOp::kSigmoid:
      return RandomVector(n, -110.0f, 40.0f, seed);
    default:
      return RandomVector(n, -12.0f, 12.0f, seed);
  }
}

// Out of bounds writes: run f on a copy of `data` embedded in guards, check the guards.
constexpr int kGuard = 19;
constexpr float kSentinel = -12345.0f;
std::vector<float> Guarded(const std::vector<float>& data) {
  std::vector<float> g(data.size() + 2 * kGuard, kSentinel);
  std::copy(data.begin(), data.end(), g.begin() + kGuard);
  return g;
}
void ExpectGuardsIntact(const std::vector<float>& g, const std::string& what) {
  for (int i = 0; i < kGuard; ++i) {
    ASSERT_EQ(g[i], kSentinel) << what << ": wrote before the start";
    ASSERT_EQ(g[g.size() - 1 - i], kSentinel) << what << ": wrote past the end";
  }
}
std::vector<float> Unguard(const std::vector<float>& g) {
  return std::vector<float>(g.begin() + kGuard, g.end() - kGuard);
}

class ElementwiseTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
    force_.emplace(GetParam());
  }
  std::string Name() const { return IsaName(GetParam()); }

  ReferenceBackend reference_;
  std::optional<ScopedIsa> force_;
};

TEST_P(ElementwiseTest, UnaryMatchesReferenceAtEverySize) {
  for (UnaryOp op : kUnaryOps) {
    for (int64_t n : kSizes) {
      const std::string what = Name() + " " + UnaryName(op) + " n=" + std::to_string(n);
      const std::vector<float> x = UnaryInput(op, n, 7 + static_cast<uint32_t>(n));
      std::vector<float> want(x.size());
      reference_.Unary(op, x.data(), want.data(), n);
      // An odd offset: the kernels must not assume aligned arrays.
      std::vector<float> y = Guarded(std::vector<float>(x.size(), 0.0f));
      VUnary(op, x.data(), y.data() + kGuard, n);
      ExpectGuardsIntact(y, what);
      ExpectClose(Unguard(y), want, x, UnaryTolerance(op), what);
    }
  }
}

TEST_P(ElementwiseTest, UnaryInPlaceEqualsOutOfPlace) {
  for (UnaryOp op : kUnaryOps) {
    for (int64_t n : {int64_t{17}, int64_t{1000}}) {
      const std::vector<float> x = UnaryInput(op, n, 11);
      std::vector<float> out(x.size());
      VUnary(op, x.data(), out.data(), n);
      std::vector<float> in_place = x;
      VUnary(op, in_place.data(), in_place.data(), n);
      ExpectClose(in_place, out, x, {}, Name() + " in-place " + UnaryName(op));
    }
  }
}

TEST_P(ElementwiseTest, UnarySpecialValuesMatchReference) {
  const float denorm = std::numeric_limits<float>::denorm_min();
  const float fmax = std::numeric_limits<float>::max();
  const float fmin = std::numeric_limits<float>::min();
  const std::vector<float> x = {
      kNan,   -kNan,   kInf,    -kInf,   0.0f,    -0.0f,   1.0f,    -1.0f,   fmax,  -fmax,
      fmin,   -fmin,   denorm,  -denorm, 1e-30f,  -1e-30f, 88.72f,  88.73f,  89.5f, -87.3f,
      -87.4f, -100.0f, -103.9f, -104.1f, -150.0f, 0.625f,  -0.625f, 0.6249f, 9.5f,  -9.5f,
      10.5f,  20.0f,   -20.0f,  1e20f,   -1e20f,  1e13f,   -1e13f,  0.5f,    2.0f};
  for (UnaryOp op : kUnaryOps) {
    std::vector<float> want(x.size()), got(x.size());
    reference_.Unary(op, x.data(), want.data(), static_cast<int64_t>(x.size()));
    VUnary(op, x.data(), got.data(), static_cast<int64_t>(x.size()));
    Tolerance tol = UnaryTolerance(op);
    ExpectClose(got, want, x, tol, Name() + " special " + UnaryName(op));
    // Signed zeros come out as the reference's (relu(-0) = +0, tanh(-0) = -0, ...).
    for (size_t i = 0; i < x.size(); ++i) {
      if (want[i] == 0.0f && got[i] == 0.0f && op != UnaryOp::kExp) {
        EXPECT_EQ(std::signbit(got[i]), std::signbit(want[i]))
            << Name() << " " << UnaryName(op) << "(" << x[i] << ")";
      }
    }
  }
}

TEST_P(ElementwiseTest, UnaryBackwardMatchesReference) {
  for (UnaryOp op : kUnaryOps) {
    for (int64_t n : kSizes) {
      const std::string what = Name() + " d" + UnaryName(op) + " n=" + std::to_string(n);
      const std::vector<float> x = UnaryInput(op, n, 3);
      const std::vector<float> dy = RandomVector(n, -2.0f, 2.0f, 5);
      std::vector<float> y(x.size()), want(x.size());
      reference_.Unary(op, x.data(), y.data(), n);
      reference_.UnaryBackward(op, x.data(), y.data(), dy.data(), want.data(), n);
      std::vector<float> dx = Guarded(std::vector<float>(x.size(), 0.0f));
      VUnaryBackward(op, x.data(), y.data(), dy.data(), dx.data() + kGuard, n);
      ExpectGuardsIntact(dx, what);
      // Only GELU's derivative is recomputed from x (and the reference's 1 - tanh^2
      // cancels for |u| > 3); the others are the reference's arithmetic exactly.
      const Tolerance tol = op == UnaryOp::kGelu ? Tolerance{2e-6, 2e-6} : Tolerance{};
      ExpectClose(Unguard(dx), want, x, tol, what);
      // In place over dy.
      std::vector<float> in_place = dy;
      VUnaryBackward(op, x.data(), y.data(), in_place.data(), in_place.data(), n);
      ExpectClose(in_place, Unguard(dx), x, {}, what + " in place");
    }
  }
}

TEST_P(ElementwiseTest, BinaryMatchesReferenceForEveryStepPattern) {
  for (BinaryOp op : kBinaryOps) {
    for (int64_t n : kSizes) {
      const std::vector<float> a = RandomVector(n + 1, -10.0f, 10.0f, 21);
      const std::vector<float> b = RandomVector(n + 1, -10.0f, 10.0f, 22);
      for (int64_t sa : {0, 1}) {
        for (int64_t sb : {0, 1}) {
          const std::string what = Name() + " binary op " + std::to_string(static_cast<int>(op)) +
                                   " steps " + std::to_string(sa) + std::to_string(sb) +
                                   " n=" + std::to_string(n);
          std::vector<float> want(static_cast<size_t>(n));
          reference_.Binary(op, a.data(), sa, b.data(), sb, want.data(), n);
          std::vector<float> y = Guarded(want);
          VBinary(op, a.data(), sa, b.data(), sb, y.data() + kGuard, n);
          ExpectGuardsIntact(y, what);
          ExpectClose(Unguard(y), want, want, {}, what);
          if (sa == 1) {  // in place over a
            std::vector<float> in_place(a.begin(), a.begin() + n);
            VBinary(op, in_place.data(), 1, b.data(), sb, in_place.data(), n);
            ExpectClose(in_place, want, want, {}, what + " in place");
          }
        }
      }
    }
  }
}

TEST_P(ElementwiseTest, BinarySpecialValuesMatchReference) {
  const std::vector<float> a = {kNan, 1.0f, kInf, kInf, 0.0f, -0.0f, 1.0f, -1.0f, 3e38f, 1e-38f};
  const std::vector<float> b = {1.0f, kNan, kInf, -kInf, 0.0f, 0.0f, 0.0f, 0.0f, 3e38f, 1e-10f};
  const int64_t n = static_cast<int64_t>(a.size());
  for (BinaryOp op : kBinaryOps) {
    std::vector<float> want(a.size()), got(a.size());
    reference_.Binary(op, a.data(), 1, b.data(), 1, want.data(), n);
    VBinary(op, a.data(), 1, b.data(), 1, got.data(), n);
    ExpectClose(got, want, a, {}, Name() + " binary special");
  }
}

TEST_P(ElementwiseTest, SoftmaxMatchesReference) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {3, 17},    {2, 33},    {4, 15},     {0, 5},
                                                {5, 0}, {64, 1000}, {256, 256}, {2, 1000003}};
  for (bool log : {false, true}) {
    for (auto [rows, cols] : shapes) {
      const std::string what = Name() + (log ? " log-softmax " : " softmax ") +
                               std::to_string(rows) + "x" + std::to_string(cols);
      const std::vector<float> x = RandomVector(rows * cols, -20.0f, 20.0f, 31);
      std::vector<float> want(x.size());
      reference_.SoftmaxRows(x.data(), want.data(), rows, cols, log);
      std::vector<float> y = Guarded(std::vector<float>(x.size(), 0.0f));
      VSoftmaxRows(x.data(), y.data() + kGuard, rows, cols, log);
      ExpectGuardsIntact(y, what);
      ExpectClose(Unguard(y), want, x, log ? Tolerance{1e-6, 3e-7} : Tolerance{1e-12, 1e-6}, what);
      std::vector<float> in_place = x;
      VSoftmaxRows(in_place.data(), in_place.data(), rows, cols, log);
      ExpectClose(in_place, Unguard(y), x, {}, what + " in place");
    }
  }
}

TEST_P(ElementwiseTest, SoftmaxRowsSumToOne) {
  const int64_t rows = 8, cols = 1001;
  const std::vector<float> x = RandomVector(rows * cols, -30.0f, 30.0f, 41);
  std::vector<float> y(x.size());
  VSoftmaxRows(x.data(), y.data(), rows, cols, /*log=*/false);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      ASSERT_GE(y[r * cols + j], 0.0f);
      sum += y[r * cols + j];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << Name() << " row " << r;
  }
}

TEST_P(ElementwiseTest, LogSoftmaxStaysExactAtHugeLogits) {
  // Logits of +-1000: exp(x) overflows, exp(x - max) does not; the result is
  // (x - max) - log(sum), compared with the same formula in double.
  const int64_t rows = 4, cols = 37;
  std::vector<float> x = RandomVector(rows * cols, -1.0f, 1.0f, 51);
  for (size_t i = 0; i < x.size(); ++i) x[i] += (i % 3 == 0) ? 1000.0f : -1000.0f;
  std::vector<float> logp(x.size()), p(x.size()), want(x.size());
  VSoftmaxRows(x.data(), logp.data(), rows, cols, /*log=*/true);
  VSoftmaxRows(x.data(), p.data(), rows, cols, /*log=*/false);
  reference_.SoftmaxRows(x.data(), want.data(), rows, cols, /*log=*/true);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * cols;
    double mx = -kInf, sum = 0.0, psum = 0.0;
    for (int64_t j = 0; j < cols; ++j) mx = std::max<double>(mx, row[j]);
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - mx);
    for (int64_t j = 0; j < cols; ++j) {
      const double exact = (row[j] - mx) - std::log(sum);
      const float got = logp[r * cols + j];
      ASSERT_TRUE(std::isfinite(got)) << Name();
      // (x - max) is exact in float here; what remains is rounding at |result| ~ 2000.
      EXPECT_NEAR(got, exact, 1e-6 * std::fabs(exact) + 1e-6) << Name() << " " << r << "," << j;
      EXPECT_NEAR(got, want[r * cols + j], 1e-6 * std::fabs(exact) + 1e-6) << Name();
      psum += p[r * cols + j];
    }
    EXPECT_NEAR(psum, 1.0, 1e-6) << Name() << " row " << r;
  }
}

TEST_P(ElementwiseTest, SoftmaxSpecialRowsMatchReference) {
  // A causal-mask row (-inf entries get probability 0), an all -inf row and a row with
  // +inf or NaN (both NaN everywhere, as in the reference).
  const std::vector<float> x = {1.0f,  -kInf, 2.0f, -kInf, 0.5f,   -kInf, -kInf, -kInf,
                                -kInf, -kInf, 1.0f, kInf,  2.0f,   3.0f,  4.0f,  5.0f,
                                1.0f,  kNan,  2.0f, 3.0f,  -1e30f, 1e30f, 0.0f,  7.0f};
  const int64_t rows = 6, cols = 4;
  for (bool log : {false, true}) {
    std::vector<float> want(x.size()), got(x.size());
    reference_.SoftmaxRows(x.data(), want.data(), rows, cols, log);
    VSoftmaxRows(x.data(), got.data(), rows, cols, log);
    ExpectClose(got, want, x, {1e-7, 1e-6}, Name() + (log ? " log" : "") + " special rows");
  }
}

TEST_P(ElementwiseTest, BiasActEqualsBinaryThenUnary) {
  struct Case {
    int64_t rows, cols, ldc;
  };
  for (Case c : {Case{1, 1, 1}, Case{3, 17, 17}, Case{5, 33, 40}, Case{256, 512, 512},
                 Case{2, 15, 16}, Case{0, 8, 8}, Case{4, 0, 3}}) {
    for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
      for (bool with_bias : {false, true}) {
        const std::string what = Name() + " bias_act " + std::to_string(c.rows) + "x" +
                                 std::to_string(c.cols) + " ldc " + std::to_string(c.ldc) +
                                 " act " + std::to_string(static_cast<int>(act)) +
                                 (with_bias ? " +bias" : "");
        const std::vector<float> start = RandomVector(c.rows * c.ldc, -6.0f, 6.0f, 61);
        const std::vector<float> bias = RandomVector(c.cols, -1.0f, 1.0f, 62);
        const float* b = with_bias ? bias.data() : nullptr;
        // The same ISA's separate steps, and the reference's.
        std::vector<float> steps = start, ref = start;
        for (int64_t r = 0; r < c.rows; ++r) {
          float* row = steps.data() + r * c.ldc;
          float* ref_row = ref.data() + r * c.ldc;
          if (b != nullptr) VBinary(BinaryOp::kAdd, row, 1, b, 1, row, c.cols);
          if (b != nullptr) reference_.Binary(BinaryOp::kAdd, ref_row, 1, b, 1, ref_row, c.cols);
          if (act != Activation::kNone) {
            const UnaryOp op = act == Activation::kRelu ? UnaryOp::kRelu : UnaryOp::kGelu;
            VUnary(op, row, row, c.cols);
            reference_.Unary(op, ref_row, ref_row, c.cols);
          }
        }
        std::vector<float> fused = start;
        VBiasAct(fused.data(), c.rows, c.cols, c.ldc, b, act);
        // Exactly the separate steps; the padding columns (ldc > cols) untouched.
        ExpectClose(fused, steps, start, {}, what);
        ExpectClose(fused, ref, start,
                    act == Activation::kGelu ? UnaryTolerance(UnaryOp::kGelu) : Tolerance{},
                    what + " vs reference");
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, ElementwiseTest,
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

TEST(ElementwiseDeathTest, BadArgumentsStopWithAMessage) {
  std::vector<float> v(8, 1.0f);
  EXPECT_DEATH(VBinary(BinaryOp::kAdd, v.data(), 2, v.data(), 1, v.data(), 4),
               "VBinary: steps must be 0 or 1, got 2 and 1");
  EXPECT_DEATH(VUnary(UnaryOp::kExp, v.data(), v.data(), -1), "VUnary: n must be >= 0");
  EXPECT_DEATH(VUnaryBackward(UnaryOp::kExp, v.data(), v.data(), v.data(), v.data(), -3),
               "VUnaryBackward: n must be >= 0");
  EXPECT_DEATH(VSoftmaxRows(v.data(), v.data(), -1, 4, false), "VSoftmaxRows: needs rows");
  EXPECT_DEATH(VBiasAct(v.data(), 2, 4, 3, nullptr, Activation::kRelu),
               "VBiasAct: row stride ldc 3 < cols 4");
}

}  // namespace
}  // namespace tt::accel
