// Test helpers for ops: a finite-difference gradient check and tensor comparisons.
//
// GradCheck runs f once with autograd and compares every input's gradient with central
// finite differences of the same scalar loss. The loss is L = sum(f(inputs) * R) with a
// fixed random R, so every output element (and a wrong sign or a swapped element in any
// of them) shows up in the gradient.
//
//   Rng rng(1);
//   Tensor a = Tensor::Randn({3, 4}, rng).set_requires_grad(true);
//   Tensor b = Tensor::Randn({4}, rng);  // no grad wanted: GradCheck checks it gets none
//   EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Add(in[0], in[1]); },
//                         {a, b}));
//
// Only inputs with requires_grad() are differentiated; the others must end with no
// gradient at all. f must be deterministic (re-create any Rng inside f).
#ifndef TT_TENSOR_GRADCHECK_H_
#define TT_TENSOR_GRADCHECK_H_

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tensor/autograd.h"
#include "tensor/tensor.h"

namespace tt::tensor::testing {

// Why these defaults, in float32:
// - Truncation error of a central difference is about eps^2/6 * |f'''|; with inputs and
//   derivatives of magnitude ~1 that is ~1e-6 at eps = 3e-3.
// - Round-off error is about ulp(L) / eps. L sums up to a few hundred products of
//   magnitude ~1, so |L| <= ~100 and ulp(L) ~ 1e-5 in float32 (2^-23 relative), giving
//   ~3e-3 at eps = 3e-3. That term dominates, which is why eps is not smaller: halving
//   eps doubles it. A larger eps (1e-2) trades round-off for truncation error and for
//   crossing kinks (relu at 0, a max switching element), which tests avoid by keeping
//   inputs > 2*eps away from them.
// - atol = rtol = 1e-2 then sits ~3x above the worst expected error while a real bug (a
//   missing factor, a wrong element, a dropped broadcast sum) is off by O(1).
// The numeric loss is accumulated in double so only f's own float32 rounding counts.
struct GradCheckOptions {
  float eps = 3e-3f;
  float atol = 1e-2f;
  float rtol = 1e-2f;
  uint64_t seed = 20240601;  // for R
};

using GradCheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

namespace internal_gradcheck {

// sum(y * r) in double, without going through the ops under test.
inline double WeightedSum(const Tensor& y, const std::vector<float>& r) {
  const float* p = y.data();
  double sum = 0.0;
  for (int64_t i = 0, n = y.numel(); i < n; ++i) {
    sum += static_cast<double>(p[i]) * static_cast<double>(r[i]);
  }
  return sum;
}

// The loss as a recorded op (its own backward: dL/dy = g * R), so a bug in Mul or Sum
// cannot hide or fake a bug in the op being checked.
inline Tensor WeightedSumOp(const Tensor& y, const std::vector<float>& r) {
  Tensor out = Tensor::Scalar(static_cast<float>(WeightedSum(y, r)));
  if (NeedsGrad({&y})) {
    Shape shape = y.shape();
    RecordOp(out, "gradcheck.weighted_sum", {y}, [r, shape](const Tensor& g) {
      const float scale = g.item();
      Tensor dy = Tensor::Empty(shape);
      float* d = dy.data();
      for (size_t i = 0; i < r.size(); ++i) d[i] = scale * r[i];
      return std::vector<Tensor>{dy};
    });
  }
  return out;
}

}  // namespace internal_gradcheck

inline ::testing::AssertionResult GradCheck(const GradCheckFn& f, std::vector<Tensor> inputs,
                                            const GradCheckOptions& options = {}) {
  bool any = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      return ::testing::AssertionFailure() << "GradCheck: input " << i << " is undefined";
    }
    inputs[i].ZeroGrad();
    any = any || inputs[i].requires_grad();
  }
  if (!any) return ::testing::AssertionFailure() << "GradCheck: no input requires grad";

  // Analytic gradients.
  Tensor y = f(inputs);
  if (!y.requires_grad()) {
    return ::testing::AssertionFailure()
           << "GradCheck: f's output does not require grad (nothing was recorded)";
  }
  Rng rng(options.seed);
  std::vector<float> r(static_cast<size_t>(y.numel()));
  for (float& v : r) v = rng.Uniform(-1.0f, 1.0f);
  const Shape out_shape = y.shape();
  internal_gradcheck::WeightedSumOp(y, r).Backward();
  y = Tensor();  // frees the graph before the numeric pass

  std::vector<std::vector<float>> analytic(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g = inputs[i].grad();
    if (!inputs[i].requires_grad()) {
      if (g.defined()) {
        return ::testing::AssertionFailure()
               << "GradCheck: input " << i << " (shape " << ShapeToString(inputs[i].shape())
               << ") does not require grad but received one";
      }
      continue;
    }
    if (g.defined() && g.shape() != inputs[i].shape()) {
      return ::testing::AssertionFailure()
             << "GradCheck: gradient of input " << i << " has shape " << ShapeToString(g.shape())
             << ", the input " << ShapeToString(inputs[i].shape());
    }
    // An unreached leaf has no gradient: that is right only if the numeric one is 0.
    analytic[i] =
        g.defined() ? g.ToVector() : std::vector<float>(static_cast<size_t>(inputs[i].numel()));
  }

  // Numeric gradients, and the worst element relative to its tolerance.
  NoGradGuard no_grad;
  double worst_ratio = -1.0;
  size_t worst_input = 0;
  int64_t worst_index = 0;
  double worst_analytic = 0.0, worst_numeric = 0.0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    float* x = inputs[i].data();
    for (int64_t j = 0, n = inputs[i].numel(); j < n; ++j) {
      const float saved = x[j];
      // Clone: f's output may be a view of the input (Reshape, Slice), which the next
      // perturbation would change under it.
      x[j] = saved + options.eps;
      Tensor plus = f(inputs).Clone();
      x[j] = saved - options.eps;
      Tensor minus = f(inputs).Clone();
      x[j] = saved;
      if (plus.shape() != out_shape || minus.shape() != out_shape) {
        return ::testing::AssertionFailure() << "GradCheck: f's output shape changed";
      }
      // Divide by the step actually taken (saved +- eps rounds in float32).
      const double step =
          static_cast<double>(saved + options.eps) - static_cast<double>(saved - options.eps);
      const double numeric =
          (internal_gradcheck::WeightedSum(plus, r) - internal_gradcheck::WeightedSum(minus, r)) /
          step;
      const double a = analytic[i][static_cast<size_t>(j)];
      const double tolerance = options.atol + options.rtol * std::fabs(numeric);
      const double err = std::fabs(a - numeric);
      const double ratio =
          std::isfinite(err) ? err / tolerance : std::numeric_limits<double>::infinity();
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        worst_input = i;
        worst_index = j;
        worst_analytic = a;
        worst_numeric = numeric;
      }
    }
  }
  if (worst_ratio > 1.0 || std::isnan(worst_ratio)) {
    return ::testing::AssertionFailure()
           << "GradCheck: worst element is input " << worst_input << " (shape "
           << ShapeToString(inputs[worst_input].shape()) << ") flat index " << worst_index
           << ": analytic " << worst_analytic << ", numeric " << worst_numeric << " (|diff| is "
           << worst_ratio << "x the tolerance atol " << options.atol << " + rtol " << options.rtol
           << " * |numeric|; eps " << options.eps << ")";
  }
  return ::testing::AssertionSuccess();
}

// Elementwise |got - want| <= atol + rtol * |want|, same shape. Infinities must match
// exactly; NaN never matches. Names the first bad element.
inline ::testing::AssertionResult AllClose(const Tensor& got, const Shape& want_shape,
                                           const std::vector<float>& want, float atol = 1e-5f,
                                           float rtol = 1e-5f) {
  if (got.shape() != want_shape) {
    return ::testing::AssertionFailure()
           << "shape " << ShapeToString(got.shape()) << ", want " << ShapeToString(want_shape);
  }
  if (static_cast<int64_t>(want.size()) != got.numel()) {
    return ::testing::AssertionFailure()
           << "test bug: " << want.size() << " expected values for shape "
           << ShapeToString(want_shape);
  }
  const float* g = got.data();
  for (size_t i = 0; i < want.size(); ++i) {
    const float w = want[i];
    const bool ok = std::isinf(w) ? g[i] == w : std::fabs(g[i] - w) <= atol + rtol * std::fabs(w);
    if (!ok) {
      return ::testing::AssertionFailure() << "element " << i << " of " << ShapeToString(want_shape)
                                           << ": got " << g[i] << ", want " << w;
    }
  }
  return ::testing::AssertionSuccess();
}

// The same against another tensor (named apart from AllClose so that a brace-initialized
// shape `{}` cannot silently pick this overload).
inline ::testing::AssertionResult AllCloseTensor(const Tensor& got, const Tensor& want,
                                                 float atol = 1e-5f, float rtol = 1e-5f) {
  return AllClose(got, want.shape(), want.ToVector(), atol, rtol);
}

// Inputs of magnitude in [lo, hi] with a random sign: away from 0 (relu's kink, log's and
// division's poles) by much more than a GradCheck step.
inline Tensor AwayFromZero(const Shape& shape, Rng& rng, float lo = 0.2f, float hi = 1.5f) {
  Tensor t = Tensor::Empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    const float v = rng.Uniform(lo, hi);
    p[i] = rng.Uniform() < 0.5f ? -v : v;
  }
  return t;
}

// Distinct values (a shuffled 0.1 * (0..n-1) shifted to be centered): every max and
// argmax is unique and stays so under a GradCheck step.
inline Tensor DistinctValues(const Shape& shape, Rng& rng) {
  const int64_t n = NumElements(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1f * static_cast<float>(i - n / 2);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.UniformInt(i + 1)]);
  return Tensor::FromVector(v, shape);
}

// A leaf that requires grad (set_requires_grad returns a reference to its argument).
inline Tensor Param(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

}  // namespace tt::tensor::testing

#endif  // TT_TENSOR_GRADCHECK_H_
