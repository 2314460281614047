#include "acceleration/gemm_testing.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"

namespace tt::accel::testing {
namespace {

using tensor::Activation;
using tensor::Trans;

constexpr float kPadSentinel = 12345.0f;

const char* ActName(Activation act) {
  switch (act) {
    case Activation::kNone:
      return "none";
    case Activation::kRelu:
      return "relu";
    case Activation::kGelu:
      return "gelu";
  }
  return "?";
}

// A random problem and its buffers; Args() points into them.
struct Problem {
  GemmCase c;
  int64_t lda = 0, ldb = 0, ldc = 0;
  std::vector<float> a, b, c0, bias;

  int64_t ARows() const { return c.ta == Trans::kNo ? c.m : c.k; }
  int64_t BRows() const { return c.tb == Trans::kNo ? c.k : c.n; }
  float A(int64_t i, int64_t p) const {
    return c.ta == Trans::kNo ? a[i * lda + p] : a[p * lda + i];
  }
  float B(int64_t p, int64_t j) const {
    return c.tb == Trans::kNo ? b[p * ldb + j] : b[j * ldb + p];
  }

  GemmArgs Args(float* out) const {
    GemmArgs g;
    g.ta = c.ta;
    g.tb = c.tb;
    g.m = c.m;
    g.n = c.n;
    g.k = c.k;
    g.alpha = c.alpha;
    g.a = a.data();
    g.lda = lda;
    g.b = b.data();
    g.ldb = ldb;
    g.beta = c.beta;
    g.c = out;
    g.ldc = ldc;
    g.bias = c.bias ? bias.data() : nullptr;
    g.act = c.act;
    return g;
  }
};

Problem MakeProblem(const GemmCase& c, uint32_t seed) {
  Problem p;
  p.c = c;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  p.lda = (c.ta == Trans::kNo ? c.k : c.m) + c.pad;
  p.ldb = (c.tb == Trans::kNo ? c.n : c.k) + c.pad;
  p.ldc = c.n + c.pad;
  p.a.resize(p.ARows() * p.lda);
  p.b.resize(p.BRows() * p.ldb);
  for (float& v : p.a) v = uniform(rng);
  for (float& v : p.b) v = uniform(rng);
  p.c0.resize(c.m * p.ldc);
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < p.ldc; ++j) {
      float& v = p.c0[i * p.ldc + j];
      if (j >= c.n) {
        v = kPadSentinel;
      } else {
        // beta == 0 promises C is not read: NaN makes any read visible.
        v = c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : uniform(rng);
      }
    }
  }
  if (c.bias) {
    p.bias.resize(c.n);
    for (float& v : p.bias) v = uniform(rng);
  }
  return p;
}

double GeluDouble(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

}  // namespace

std::string GemmCase::ToString() const {
  return absl::StrCat("M=", m, " N=", n, " K=", k, " ta=", ta == Trans::kYes ? "T" : "N",
                      " tb=", tb == Trans::kYes ? "T" : "N", " alpha=", alpha, " beta=", beta,
                      " pad=", pad, " bias=", bias ? "yes" : "no", " act=", ActName(act));
}

std::vector<GemmCase> ShapeGridCases() {
  std::vector<GemmCase> cases;
  for (int64_t m : {1, 3, 17, 64, 255, 257}) {
    for (int64_t n : {1, 3, 17, 64, 255, 257}) {
      for (int64_t k : {1, 3, 17, 64, 255, 257}) {
        GemmCase c;
        c.m = m;
        c.n = n;
        c.k = k;
        cases.push_back(c);
      }
    }
  }
  return cases;
}

std::vector<GemmCase> TransposeCases() {
  std::vector<GemmCase> cases;
  const Trans kN = Trans::kNo, kT = Trans::kYes;
  for (auto [ta, tb] : {std::pair{kN, kT}, std::pair{kT, kN}, std::pair{kT, kT}}) {
    for (int64_t m : {1, 17, 64, 257}) {
      for (int64_t n : {1, 17, 64, 257}) {
        for (int64_t k : {1, 17, 64, 257}) {
          GemmCase c;
          c.m = m;
          c.n = n;
          c.k = k;
          c.ta = ta;
          c.tb = tb;
          cases.push_back(c);
        }
      }
    }
  }
  for (Trans ta : {kN, kT}) {
    for (Trans tb : {kN, kT}) {
      GemmCase c;
      c.m = 33;
      c.n = 47;
      c.k = 29;
      c.ta = ta;
      c.tb = tb;
      c.pad = 5;
      c.alpha = -0.5f;
      c.beta = 0.75f;
      cases.push_back(c);
    }
  }
  return cases;
}

std::vector<GemmCase> EdgeCases() {
  std::vector<GemmCase> cases;
  auto add = [&](int64_t m, int64_t n, int64_t k) -> GemmCase& {
    GemmCase c;
    c.m = m;
    c.n = n;
    c.k = k;
    cases.push_back(c);
    return cases.back();
  };
  // Zero-sized dimensions: no-ops, except that K == 0 still scales C and runs the
  // epilogue.
  for (float beta : {0.0f, 1.0f, 0.5f}) {
    add(0, 5, 7).beta = beta;
    add(5, 0, 7).beta = beta;
    add(5, 7, 0).beta = beta;
    add(0, 0, 0).beta = beta;
  }
  GemmCase& k0 = add(6, 40, 0);
  k0.beta = 0.5f;
  k0.bias = true;
  k0.act = Activation::kRelu;
  // K much larger than M and N: many K blocks, beta applied once.
  add(3, 5, 4000);
  add(1, 1, 5000).beta = 1.0f;
  add(2, 70, 3000).pad = 1;
  // Non-square, thin and wide.
  add(100, 37, 300);
  add(37, 300, 100);
  add(300, 100, 37);
  add(1, 1000, 64);
  add(1000, 1, 64);
  add(15, 33, 1);
  add(29, 95, 130);
  // alpha and beta.
  for (auto [alpha, beta] : {std::pair{2.0f, 0.0f}, std::pair{1.0f, 1.0f},
                             std::pair{-1.0f, -2.5f}, std::pair{0.0f, 0.5f}}) {
    GemmCase& c = add(64, 65, 66);
    c.alpha = alpha;
    c.beta = beta;
  }
  // Strides larger than the rows, every transpose combination.
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      GemmCase& c = add(17, 19, 23);
      c.ta = ta;
      c.tb = tb;
      c.pad = 3;
      c.beta = 1.0f;
    }
  }
  // The epilogue: every activation, with and without bias, over beta 0 and 1.
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
    for (bool bias : {false, true}) {
      for (auto [m, n, k] : {std::tuple{17, 33, 64}, std::tuple{64, 100, 257},
                             std::tuple{3, 5, 4000}}) {
        GemmCase& c = add(m, n, k);
        c.act = act;
        c.bias = bias;
      }
      GemmCase& c = add(30, 70, 20);
      c.act = act;
      c.bias = bias;
      c.beta = 1.0f;
      c.pad = 2;
      c.tb = Trans::kYes;
    }
  }
  return cases;
}

std::vector<GemmCase> AllGemmCases() {
  std::vector<GemmCase> cases = ShapeGridCases();
  for (const auto& list : {TransposeCases(), EdgeCases()}) {
    cases.insert(cases.end(), list.begin(), list.end());
  }
  return cases;
}

std::vector<GemmCase> QuickGemmCases() {
  std::vector<GemmCase> cases = EdgeCases();
  const std::vector<GemmCase> transposes = TransposeCases();
  cases.insert(cases.end(), transposes.begin(), transposes.end());
  for (const GemmCase& c : ShapeGridCases()) {
    auto in = [](int64_t v) { return v == 1 || v == 17 || v == 257; };
    if (in(c.m) && in(c.n) && in(c.k)) cases.push_back(c);
  }
  return cases;
}

namespace {

// CheckGemm, plus a comparison with `other`'s result when it is given.
::testing::AssertionResult CheckGemmImpl(const GemmFn& fn, const GemmFn* other,
                                         const GemmCase& c, uint32_t seed) {
  const Problem p = MakeProblem(c, seed);
  std::vector<float> out = p.c0;
  fn(p.Args(out.data()));
  std::vector<float> other_out;
  if (other != nullptr) {
    other_out = p.c0;
    (*other)(p.Args(other_out.data()));
  }

  // tensor's reference, with its own epilogue ops.
  std::vector<float> ref = p.c0;
  tensor::ReferenceBackend backend;
  if (c.m > 0 && c.n > 0) {
    backend.Gemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, p.a.data(), p.lda, p.b.data(), p.ldb,
                 c.beta, ref.data(), p.ldc);
    for (int64_t i = 0; i < c.m; ++i) {
      float* row = ref.data() + i * p.ldc;
      if (c.bias) backend.Binary(tensor::BinaryOp::kAdd, row, 1, p.bias.data(), 1, row, c.n);
      if (c.act == Activation::kRelu) backend.Unary(tensor::UnaryOp::kRelu, row, row, c.n);
      if (c.act == Activation::kGelu) backend.Unary(tensor::UnaryOp::kGelu, row, row, c.n);
    }
  }

  int64_t bad = 0;
  std::string first_errors;
  auto fail = [&](int64_t i, int64_t j, const std::string& what) {
    if (++bad <= 5) absl::StrAppend(&first_errors, "\n  C(", i, ",", j, "): ", what);
  };
  const double eps = std::ldexp(1.0, -23);
  std::vector<double> sum(c.n), mag(c.n);
  for (int64_t i = 0; i < c.m; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(mag.begin(), mag.end(), 0.0);
    for (int64_t q = 0; q < c.k; ++q) {
      const double a_iq = p.A(i, q);
      for (int64_t j = 0; j < c.n; ++j) {
        const double prod = a_iq * p.B(q, j);
        sum[j] += prod;
        mag[j] += std::fabs(prod);
      }
    }
    for (int64_t j = 0; j < p.ldc; ++j) {
      const float got = out[i * p.ldc + j];
      if (j >= c.n) {
        if (got != kPadSentinel) fail(i, j, absl::StrCat("padding overwritten with ", got));
        continue;
      }
      double want = c.alpha * sum[j];
      double scale = std::fabs(c.alpha) * mag[j];
      if (c.beta != 0.0f) {
        const double c0 = p.c0[i * p.ldc + j];
        want += c.beta * c0;
        scale += std::fabs(c.beta * c0);
      }
      if (c.bias) {
        want += p.bias[j];
        scale += std::fabs(p.bias[j]);
      }
      double tol = (c.k + 2) * eps * scale;
      if (c.act == Activation::kRelu) {
        want = want > 0.0 ? want : 0.0;
      } else if (c.act == Activation::kGelu) {
        const double x = want;
        want = GeluDouble(x);
        tol = 1.13 * tol + 1e-6 * std::fabs(want) + std::ldexp(std::fabs(x), -24);
      }
      const double reference = ref[i * p.ldc + j];
      if (!(std::fabs(got - want) <= tol)) {
        fail(i, j, absl::StrCat("got ", got, ", double reference ", want, ", error ",
                                std::fabs(got - want), " > tolerance ", tol));
      } else if (!(std::fabs(got - reference) <= 2 * tol)) {
        fail(i, j, absl::StrCat("got ", got, ", ReferenceBackend ", reference, ", error ",
                                std::fabs(got - reference), " > 2 x tolerance ", 2 * tol));
      } else if (other != nullptr) {
        const double theirs = other_out[i * p.ldc + j];
        if (!(std::fabs(got - theirs) <= 2 * tol)) {
          fail(i, j, absl::StrCat("got ", got, ", the other function ", theirs, ", error ",
                                  std::fabs(got - theirs), " > 2 x tolerance ", 2 * tol));
        }
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << c.ToString() << ": " << bad << " wrong elements" << first_errors;
}

}  // namespace

::testing::AssertionResult CheckGemm(const GemmFn& fn, const GemmCase& c, uint32_t seed) {
  return CheckGemmImpl(fn, nullptr, c, seed);
}

::testing::AssertionResult CheckGemmAgainst(const GemmFn& fn, const GemmFn& other,
                                            const GemmCase& c, uint32_t seed) {
  return CheckGemmImpl(fn, &other, c, seed);
}

void ExpectGemmPasses(const GemmFn& fn, const std::vector<GemmCase>& cases) {
  for (const GemmCase& c : cases) EXPECT_TRUE(CheckGemm(fn, c));
}

std::vector<float> RunGemm(const GemmFn& fn, const GemmCase& c, uint32_t seed) {
  const Problem p = MakeProblem(c, seed);
  std::vector<float> out = p.c0;
  fn(p.Args(out.data()));
  std::vector<float> result;
  for (int64_t i = 0; i < c.m; ++i) {
    result.insert(result.end(), out.begin() + i * p.ldc, out.begin() + i * p.ldc + c.n);
  }
  return result;
}

}  // namespace tt::accel::testing
