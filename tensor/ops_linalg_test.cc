// MatMul, Conv2d, MaxPool2d: values against direct loops (a naive triple loop, a 7-loop
// convolution, a direct max pool), gradients against finite differences, shape contracts.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::DistinctValues;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

const char* TransName(Trans t) { return t == Trans::kYes ? "T" : "N"; }

// The stored shape of an operand whose op() is (rows, cols), with leading axes `batch`.
Shape Stored(const Shape& batch, int64_t rows, int64_t cols, Trans t) {
  Shape s(batch.size() + 2);
  std::copy(batch.begin(), batch.end(), s.begin());
  s[batch.size()] = t == Trans::kYes ? cols : rows;
  s[batch.size() + 1] = t == Trans::kYes ? rows : cols;
  return s;
}

// The naive triple loop, per batch element. b is shared by every batch when 2-D.
std::vector<float> ReferenceMatMul(const Tensor& a, const Tensor& b, Trans ta, Trans tb,
                                   int64_t batches, int64_t m, int64_t n, int64_t k) {
  std::vector<float> c(static_cast<size_t>(batches * m * n));
  const bool shared_b = b.dim() == 2;
  for (int64_t bi = 0; bi < batches; ++bi) {
    const float* pa = a.data() + bi * m * k;
    const float* pb = b.data() + (shared_b ? 0 : bi * k * n);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          const float av = ta == Trans::kYes ? pa[p * m + i] : pa[i * k + p];
          const float bv = tb == Trans::kYes ? pb[j * k + p] : pb[p * n + j];
          sum += static_cast<double>(av) * bv;
        }
        c[(bi * m + i) * n + j] = static_cast<float>(sum);
      }
    }
  }
  return c;
}

constexpr Trans kBothTrans[] = {Trans::kNo, Trans::kYes};

TEST(MatMulTest, TwoDimensionalAllSizesAndTransposes) {
  Rng rng(30);
  for (int64_t m : {1, 3, 17}) {
    for (int64_t k : {1, 3, 17}) {
      for (int64_t n : {1, 3, 17}) {
        for (Trans ta : kBothTrans) {
          for (Trans tb : kBothTrans) {
            Tensor a = Tensor::Randn(Stored({}, m, k, ta), rng);
            Tensor b = Tensor::Randn(Stored({}, k, n, tb), rng);
            EXPECT_TRUE(AllClose(MatMul(a, b, ta, tb), {m, n},
                                 ReferenceMatMul(a, b, ta, tb, 1, m, n, k), 1e-4f, 1e-4f))
                << "M=" << m << " K=" << k << " N=" << n << " " << TransName(ta) << TransName(tb);
          }
        }
      }
    }
  }
}

TEST(MatMulTest, GradCheckTwoDimensional) {
  Rng rng(31);
  struct Mkn {
    int64_t m, k, n;
  };
  for (const Mkn& s :
       std::vector<Mkn>{{1, 3, 17}, {3, 17, 1}, {17, 1, 3}, {3, 3, 3}, {2, 5, 4}, {17, 3, 3}}) {
    for (Trans ta : kBothTrans) {
      for (Trans tb : kBothTrans) {
        Tensor a = Param(Tensor::Randn(Stored({}, s.m, s.k, ta), rng));
        Tensor b = Param(Tensor::Randn(Stored({}, s.k, s.n, tb), rng));
        EXPECT_TRUE(GradCheck(
            [&](const std::vector<Tensor>& in) { return MatMul(in[0], in[1], ta, tb); }, {a, b}))
            << "M=" << s.m << " K=" << s.k << " N=" << s.n << " " << TransName(ta) << TransName(tb);
      }
    }
  }
}

struct BatchedCase {
  std::string name;
  Shape batch;    // leading axes of a
  bool shared_b;  // b is 2-D
};

const std::vector<BatchedCase>& BatchedCases() {
  static const auto* cases = new std::vector<BatchedCase>{
      {"3D", {3}, false}, {"4D", {2, 3}, false}, {"3Dx2D", {3}, true}, {"4Dx2D", {2, 2}, true}};
  return *cases;
}

TEST(MatMulTest, BatchedMatchesReference) {
  Rng rng(32);
  const int64_t m = 3, k = 5, n = 4;
  for (const BatchedCase& c : BatchedCases()) {
    for (Trans ta : kBothTrans) {
      for (Trans tb : kBothTrans) {
        if (c.shared_b && ta == Trans::kYes) continue;  // TransposedBatchedAWithSharedB
        Tensor a = Tensor::Randn(Stored(c.batch, m, k, ta), rng);
        Tensor b = Tensor::Randn(Stored(c.shared_b ? Shape{} : c.batch, k, n, tb), rng);
        Shape out = c.batch;
        out.push_back(m);
        out.push_back(n);
        EXPECT_TRUE(AllClose(MatMul(a, b, ta, tb), out,
                             ReferenceMatMul(a, b, ta, tb, NumElements(c.batch), m, n, k), 1e-4f,
                             1e-4f))
            << c.name << " " << TransName(ta) << TransName(tb);
      }
    }
  }
}

TEST(MatMulTest, GradCheckBatched) {
  Rng rng(33);
  const int64_t m = 3, k = 2, n = 4;
  for (const BatchedCase& c : BatchedCases()) {
    for (Trans ta : kBothTrans) {
      for (Trans tb : kBothTrans) {
        if (c.shared_b && ta == Trans::kYes) continue;  // TransposedBatchedAWithSharedB
        Tensor a = Param(Tensor::Randn(Stored(c.batch, m, k, ta), rng));
        Tensor b = Param(Tensor::Randn(Stored(c.shared_b ? Shape{} : c.batch, k, n, tb), rng));
        EXPECT_TRUE(GradCheck(
            [&](const std::vector<Tensor>& in) { return MatMul(in[0], in[1], ta, tb); }, {a, b}))
            << c.name << " " << TransName(ta) << TransName(tb);
      }
    }
  }
}

// Values and gradients of a: (2, 3, K, M) with ta = kYes times a shared b: (K, N); the
// mismatches go to stderr.
bool TransposedBatchedASharedBMatches() {
  Rng rng(35);
  const int64_t m = 3, k = 5, n = 4;
  bool ok = true;
  for (Trans tb : kBothTrans) {
    Tensor a = Tensor::Randn(Stored({2, 3}, m, k, Trans::kYes), rng);
    Tensor b = Tensor::Randn(Stored({}, k, n, tb), rng);
    ::testing::AssertionResult values =
        AllClose(MatMul(a, b, Trans::kYes, tb), {2, 3, m, n},
                 ReferenceMatMul(a, b, Trans::kYes, tb, 6, m, n, k), 1e-4f, 1e-4f);
    ::testing::AssertionResult grads = GradCheck(
        [tb](const std::vector<Tensor>& in) { return MatMul(in[0], in[1], Trans::kYes, tb); },
        {Param(a.Clone()), Param(b.Clone())});
    if (!values || !grads) {
      std::fprintf(stderr, "T%s: %s %s\n", TransName(tb), values.message(), grads.message());
      ok = false;
    }
  }
  return ok;
}

// ops.h states op(a) = a^T for every form, so also for a: (..., K, M)^T x b: (K, N). Run in
// a child process so that a CHECK failure there cannot take the other tests down with it.
TEST(MatMulTest, TransposedBatchedAWithSharedB) {
  EXPECT_EXIT(std::exit(TransposedBatchedASharedBMatches() ? 0 : 1), ::testing::ExitedWithCode(0),
              "");
}

TEST(MatMulTest, GradOnlyWhereRequested) {
  Rng rng(34);
  Tensor a = Tensor::Randn({2, 3}, rng);
  Tensor b = Param(Tensor::Randn({3, 4}, rng));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return MatMul(in[0], in[1]); }, {a, b}));
}

TEST(MatMulDeathTest, InnerDimensionMismatchNamesOpAndShapes) {
  Tensor a = Tensor::Zeros({2, 3});
  Tensor b = Tensor::Zeros({4, 5});
  EXPECT_DEATH(MatMul(a, b), "[Mm]at[Mm]ul.*\\(2, 3\\).*\\(4, 5\\)");
}

// --- Conv2d ---------------------------------------------------------------------------

// The direct definition: 7 nested loops, zero padding read as 0.
std::vector<float> ReferenceConv2d(const Tensor& x, const Tensor& w, const Tensor& bias,
                                   int64_t stride, int64_t pad) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t oc = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1;
  std::vector<float> y;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < oc; ++o) {
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double sum = bias.defined() ? bias.data()[o] : 0.0;
          for (int64_t ci = 0; ci < c; ++ci) {
            for (int64_t u = 0; u < kh; ++u) {
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t iy = i * stride - pad + u, ix = j * stride - pad + v;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                sum += static_cast<double>(x.at({b, ci, iy, ix})) * w.at({o, ci, u, v});
              }
            }
          }
          y.push_back(static_cast<float>(sum));
        }
      }
    }
  }
  return y;
}

struct ConvCase {
  int64_t n, c, h, w, oc, kh, kw, stride, pad;
  bool bias;
  std::string Name() const {
    return absl::StrCat("x(", n, ",", c, ",", h, ",", w, ") w(", oc, ",", c, ",", kh, ",", kw,
                        ") stride ", stride, " pad ", pad, bias ? " bias" : " no bias");
  }
};

TEST(Conv2dTest, MatchesDirectConvolution) {
  Rng rng(35);
  for (const ConvCase& k : std::vector<ConvCase>{{2, 3, 5, 7, 4, 3, 3, 1, 0, true},
                                                 {2, 3, 5, 7, 4, 3, 3, 1, 1, false},
                                                 {2, 3, 5, 7, 4, 3, 3, 2, 0, false},
                                                 {2, 3, 6, 7, 4, 3, 3, 2, 1, true},
                                                 {1, 1, 4, 4, 1, 1, 1, 1, 0, true},
                                                 {3, 2, 4, 6, 5, 2, 3, 1, 1, true},
                                                 {1, 4, 8, 5, 2, 3, 3, 2, 1, true}}) {
    Tensor x = Tensor::Randn({k.n, k.c, k.h, k.w}, rng);
    Tensor w = Tensor::Randn({k.oc, k.c, k.kh, k.kw}, rng);
    Tensor b = k.bias ? Tensor::Randn({k.oc}, rng) : Tensor();
    const int64_t oh = (k.h + 2 * k.pad - k.kh) / k.stride + 1;
    const int64_t ow = (k.w + 2 * k.pad - k.kw) / k.stride + 1;
    Tensor y = Conv2d(x, w, b, {k.stride, k.pad});
    EXPECT_TRUE(
        AllClose(y, {k.n, k.oc, oh, ow}, ReferenceConv2d(x, w, b, k.stride, k.pad), 1e-4f, 1e-4f))
        << k.Name();
  }
}

TEST(Conv2dTest, GradCheckInputWeightAndBias) {
  Rng rng(36);
  for (const ConvCase& k : std::vector<ConvCase>{{2, 2, 5, 6, 3, 3, 3, 1, 0, true},
                                                 {2, 2, 5, 6, 3, 3, 3, 1, 1, false},
                                                 {2, 2, 5, 6, 3, 3, 3, 2, 0, true},
                                                 {2, 2, 6, 5, 3, 3, 3, 2, 1, true},
                                                 {1, 3, 4, 5, 2, 2, 3, 1, 1, true}}) {
    Tensor x = Param(Tensor::Randn({k.n, k.c, k.h, k.w}, rng));
    Tensor w = Param(Tensor::Randn({k.oc, k.c, k.kh, k.kw}, rng));
    const Conv2dOptions options{k.stride, k.pad};
    if (k.bias) {
      Tensor b = Param(Tensor::Randn({k.oc}, rng));
      EXPECT_TRUE(GradCheck(
          [&](const std::vector<Tensor>& in) { return Conv2d(in[0], in[1], in[2], options); },
          {x, w, b}))
          << k.Name();
    } else {
      EXPECT_TRUE(GradCheck(
          [&](const std::vector<Tensor>& in) { return Conv2d(in[0], in[1], Tensor(), options); },
          {x, w}))
          << k.Name();
    }
  }
}

TEST(Conv2dTest, GradOnlyForTheWeight) {
  Rng rng(37);
  Tensor x = Tensor::Randn({2, 2, 4, 4}, rng);
  Tensor w = Param(Tensor::Randn({3, 2, 3, 3}, rng));
  Tensor b = Tensor::Randn({3}, rng);
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Conv2d(in[0], in[1], in[2], {1, 1});
      },
      {x, w, b}));
}

TEST(Conv2dDeathTest, ChannelMismatchNamesOpAndShapes) {
  Tensor x = Tensor::Zeros({1, 3, 5, 5});
  Tensor w = Tensor::Zeros({2, 2, 3, 3});
  EXPECT_DEATH(Conv2d(x, w, Tensor()), "[Cc]onv2d.*\\(1, 3, 5, 5\\).*\\(2, 2, 3, 3\\)");
}

// --- MaxPool2d ------------------------------------------------------------------------

std::vector<float> ReferenceMaxPool(const Tensor& x, int64_t kernel, int64_t stride) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  std::vector<float> y;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ci = 0; ci < c; ++ci) {
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t u = 0; u < kernel; ++u) {
            for (int64_t v = 0; v < kernel; ++v) {
              m = std::max(m, x.at({b, ci, i * stride + u, j * stride + v}));
            }
          }
          y.push_back(m);
        }
      }
    }
  }
  return y;
}

struct PoolCase {
  Shape x;
  int64_t kernel, stride;
};

const std::vector<PoolCase>& PoolCases() {
  static const auto* cases = new std::vector<PoolCase>{
      {{2, 3, 6, 8}, 2, 2}, {{1, 2, 5, 7}, 2, 2}, {{2, 2, 7, 9}, 3, 2}, {{1, 1, 6, 5}, 3, 2}};
  return *cases;
}

TEST(MaxPool2dTest, MatchesDirectPooling) {
  Rng rng(38);
  for (const PoolCase& p : PoolCases()) {
    Tensor x = DistinctValues(p.x, rng);
    Shape out = {p.x[0], p.x[1], (p.x[2] - p.kernel) / p.stride + 1,
                 (p.x[3] - p.kernel) / p.stride + 1};
    EXPECT_TRUE(
        AllClose(MaxPool2d(x, p.kernel, p.stride), out, ReferenceMaxPool(x, p.kernel, p.stride)))
        << ShapeToString(p.x) << " k" << p.kernel << " s" << p.stride;
  }
  Tensor neg = Tensor::Full({1, 1, 2, 2}, -3.0f);
  EXPECT_TRUE(AllClose(MaxPool2d(neg, 2, 2), {1, 1, 1, 1}, {-3.0f}));
}

TEST(MaxPool2dTest, GradCheckIncludingOverlappingWindows) {
  Rng rng(39);
  for (const PoolCase& p : PoolCases()) {
    Tensor x = Param(DistinctValues(p.x, rng));
    EXPECT_TRUE(GradCheck(
        [&](const std::vector<Tensor>& in) { return MaxPool2d(in[0], p.kernel, p.stride); }, {x}))
        << ShapeToString(p.x) << " k" << p.kernel << " s" << p.stride;
  }
}

TEST(MaxPool2dTest, OverlappingWindowsAccumulateIntoASharedMaximum) {
  // The 9 at (2, 2) is the max of all four 3x3 windows at stride 2 of this 5x5 input.
  std::vector<float> v(25, 0.0f);
  v[2 * 5 + 2] = 9.0f;
  Tensor x = Param(Tensor::FromVector(v, {1, 1, 5, 5}));
  Tensor y = MaxPool2d(x, 3, 2);
  EXPECT_TRUE(AllClose(y, {1, 1, 2, 2}, {9, 9, 9, 9}));
  Sum(y).Backward();
  std::vector<float> want(25, 0.0f);
  want[2 * 5 + 2] = 4.0f;
  EXPECT_TRUE(AllClose(x.grad(), {1, 1, 5, 5}, want));
}

}  // namespace
}  // namespace tt::tensor
