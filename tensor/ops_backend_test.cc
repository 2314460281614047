// The backend seam as the ops use it: a counting backend selected with ScopedBackend sees
// MatMul's and Conv2d's GEMMs; the registry finds backends by name; ReferenceBackend::Gemm
// (the oracle of every fast GEMM) is checked against a naive loop.
#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::AllCloseTensor;
using ::tt::tensor::testing::Param;

class CountingBackend : public ReferenceBackend {
 public:
  explicit CountingBackend(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void Gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    ++gemm_calls;
    ReferenceBackend::Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void Im2Col(const ConvGeometry& g, const float* x, float* cols, int64_t ld) override {
    ++im2col_calls;
    ReferenceBackend::Im2Col(g, x, cols, ld);
  }

  int gemm_calls = 0;
  int im2col_calls = 0;

 private:
  std::string name_;
};

// Registered backends live forever (backend.h), so these are never deleted.
CountingBackend* RegisteredCounting() {
  static CountingBackend* backend = [] {
    auto* b = new CountingBackend("counting_for_test");
    RegisterBackend(b);
    return b;
  }();
  return backend;
}

TEST(BackendSeamTest, MatMulAndConv2dRunOnTheScopedBackend) {
  CountingBackend counting("counting");
  Rng rng(70);
  Tensor a = Tensor::Randn({4, 3}, rng);
  Tensor b = Tensor::Randn({3, 5}, rng);
  Tensor x = Tensor::Randn({2, 2, 5, 5}, rng);
  Tensor w = Tensor::Randn({3, 2, 3, 3}, rng);
  Tensor want_mm = MatMul(a, b);
  Tensor want_conv = Conv2d(x, w, Tensor(), {1, 1});
  {
    ScopedBackend use(&counting);
    EXPECT_EQ(&CurrentBackend(), &counting);
    Tensor mm = MatMul(a, b);
    EXPECT_GE(counting.gemm_calls, 1);
    EXPECT_TRUE(AllCloseTensor(mm, want_mm));
    const int after_matmul = counting.gemm_calls;
    Tensor conv = Conv2d(x, w, Tensor(), {1, 1});
    EXPECT_GT(counting.gemm_calls, after_matmul);
    EXPECT_GE(counting.im2col_calls, 1);
    EXPECT_TRUE(AllCloseTensor(conv, want_conv, 1e-5f, 1e-5f));
  }
  EXPECT_EQ(CurrentBackend().name(), "reference");
  EXPECT_NE(&CurrentBackend(), &counting);
  const int calls = counting.gemm_calls;
  MatMul(a, b);
  EXPECT_EQ(counting.gemm_calls, calls) << "the scope ended: the default is back";
}

TEST(BackendSeamTest, BackwardGemmsRunOnTheScopedBackendToo) {
  CountingBackend counting("counting");
  Rng rng(71);
  Tensor a = Param(Tensor::Randn({4, 3}, rng));
  Tensor b = Param(Tensor::Randn({3, 5}, rng));
  ScopedBackend use(&counting);
  Tensor loss = Sum(MatMul(a, b));
  const int forward = counting.gemm_calls;
  loss.Backward();
  EXPECT_GE(counting.gemm_calls, forward + 2) << "dA = G B^T and dB = A^T G";
}

TEST(BackendSeamTest, ScopesNestAndRestore) {
  CountingBackend outer("outer"), inner("inner");
  Backend* before = &CurrentBackend();
  {
    ScopedBackend use_outer(&outer);
    {
      ScopedBackend use_inner(&inner);
      EXPECT_EQ(&CurrentBackend(), &inner);
      MatMul(Tensor::Ones({2, 2}), Tensor::Ones({2, 2}));
    }
    EXPECT_EQ(&CurrentBackend(), &outer);
    MatMul(Tensor::Ones({2, 2}), Tensor::Ones({2, 2}));
  }
  EXPECT_EQ(&CurrentBackend(), before);
  EXPECT_GE(inner.gemm_calls, 1);
  EXPECT_GE(outer.gemm_calls, 1);
}

// Counts every kernel, to see that each op family reaches the backend it is given.
class KernelCountingBackend : public ReferenceBackend {
 public:
  std::string name() const override { return "kernel_counting"; }
  void Unary(UnaryOp op, const float* x, float* y, int64_t n) override {
    ++unary;
    ReferenceBackend::Unary(op, x, y, n);
  }
  void UnaryBackward(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                     int64_t n) override {
    ++unary_backward;
    ReferenceBackend::UnaryBackward(op, x, y, dy, dx, n);
  }
  void Binary(BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step, float* y,
              int64_t n) override {
    ++binary;
    ReferenceBackend::Binary(op, a, a_step, b, b_step, y, n);
  }
  void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log) override {
    ++softmax_rows;
    ReferenceBackend::SoftmaxRows(x, y, rows, cols, log);
  }
  void Col2Im(const ConvGeometry& g, const float* cols, int64_t ld, float* dx) override {
    ++col2im;
    ReferenceBackend::Col2Im(g, cols, ld, dx);
  }

  int unary = 0, unary_backward = 0, binary = 0, softmax_rows = 0, col2im = 0;
};

// ops.h: "the heavy kernels (GEMM, im2col, elementwise maps, softmax rows) run on
// CurrentBackend()": an accelerated backend must see them all.
TEST(BackendSeamTest, ElementwiseSoftmaxAndCol2ImRunOnTheScopedBackend) {
  KernelCountingBackend counting;
  Rng rng(73);
  Tensor x = Param(Tensor::Randn({3, 4}, rng));
  Tensor img = Param(Tensor::Randn({1, 2, 5, 5}, rng));
  Tensor k = Tensor::Randn({2, 2, 3, 3}, rng);
  ScopedBackend use(&counting);
  Tensor r = Relu(x);
  EXPECT_GE(counting.unary, 1) << "Relu";
  Tensor s = Add(x, x);
  EXPECT_GE(counting.binary, 1) << "Add";
  Tensor p = Softmax(x);
  EXPECT_GE(counting.softmax_rows, 1) << "Softmax";
  Sum(r).Backward();
  EXPECT_GE(counting.unary_backward, 1) << "Relu backward";
  Sum(Conv2d(img, k, Tensor(), {1, 1})).Backward();
  EXPECT_GE(counting.col2im, 1) << "Conv2d backward to its input";
}

TEST(BackendRegistryTest, FindsRegisteredBackendsByName) {
  CountingBackend* counting = RegisteredCounting();
  absl::StatusOr<Backend*> found = FindBackend("counting_for_test");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, counting);
  absl::StatusOr<Backend*> reference = FindBackend("reference");
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_EQ((*reference)->name(), "reference");
  std::vector<std::string> names = BackendNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "reference"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "counting_for_test"), names.end());
}

TEST(BackendRegistryTest, UnknownNameIsNotFoundAndListsTheRegisteredOnes) {
  RegisteredCounting();
  absl::StatusOr<Backend*> found = FindBackend("no_such_backend");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  const std::string message(found.status().message());
  EXPECT_NE(message.find("no_such_backend"), std::string::npos) << message;
  EXPECT_NE(message.find("reference"), std::string::npos) << message;
  EXPECT_NE(message.find("counting_for_test"), std::string::npos) << message;
}

// --- ReferenceBackend::Gemm against the definition ------------------------------------

// C = alpha * op(A) op(B) + beta * C on padded buffers; returns every element of C,
// padding included (which must come back untouched).
struct GemmCase {
  Trans ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad;  // extra elements per row of A, B and C
};

TEST(ReferenceGemmTest, MatchesNaiveLoopForTransposesAlphaBetaAndLeadingDims) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const float kSentinel = -12345.0f;
  Rng rng(72);
  ReferenceBackend gemm;
  std::vector<GemmCase> cases;
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      for (const auto& [alpha, beta] : std::vector<std::pair<float, float>>{
               {1.0f, 0.0f}, {1.0f, 1.0f}, {1.5f, 0.5f}, {-2.0f, 0.0f}}) {
        for (int64_t pad : {0, 3}) cases.push_back({ta, tb, 5, 7, 4, alpha, beta, pad});
      }
      cases.push_back({ta, tb, 1, 1, 1, 1.0f, 0.0f, 2});
      cases.push_back({ta, tb, 17, 3, 9, 0.5f, 2.0f, 1});
    }
  }
  for (const GemmCase& g : cases) {
    const int64_t a_rows = g.ta == Trans::kYes ? g.k : g.m;
    const int64_t a_cols = g.ta == Trans::kYes ? g.m : g.k;
    const int64_t b_rows = g.tb == Trans::kYes ? g.n : g.k;
    const int64_t b_cols = g.tb == Trans::kYes ? g.k : g.n;
    const int64_t lda = a_cols + g.pad, ldb = b_cols + g.pad, ldc = g.n + g.pad;
    // Padding of A and B holds NaN: reading it would poison the result.
    std::vector<float> a(a_rows * lda, kNaN), b(b_rows * ldb, kNaN), c(g.m * ldc, kSentinel);
    for (int64_t r = 0; r < a_rows; ++r) {
      for (int64_t col = 0; col < a_cols; ++col) a[r * lda + col] = rng.Uniform(-1, 1);
    }
    for (int64_t r = 0; r < b_rows; ++r) {
      for (int64_t col = 0; col < b_cols; ++col) b[r * ldb + col] = rng.Uniform(-1, 1);
    }
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        // beta == 0: C may hold NaN and must not be read.
        c[i * ldc + j] = g.beta == 0.0f ? kNaN : rng.Uniform(-1, 1);
      }
    }
    std::vector<float> want = c;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < g.k; ++p) {
          const float av = g.ta == Trans::kYes ? a[p * lda + i] : a[i * lda + p];
          const float bv = g.tb == Trans::kYes ? b[j * ldb + p] : b[p * ldb + j];
          sum += static_cast<double>(av) * bv;
        }
        const double old = g.beta == 0.0f ? 0.0 : g.beta * static_cast<double>(c[i * ldc + j]);
        want[i * ldc + j] = static_cast<float>(g.alpha * sum + old);
      }
    }
    gemm.Gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c.data(),
              ldc);
    for (size_t i = 0; i < c.size(); ++i) {
      ASSERT_NEAR(c[i], want[i], 1e-5f)
          << "element " << i << " (row " << i / ldc << ", col " << i % ldc << ") for "
          << (g.ta == Trans::kYes ? "T" : "N") << (g.tb == Trans::kYes ? "T" : "N") << " m " << g.m
          << " n " << g.n << " k " << g.k << " alpha " << g.alpha << " beta " << g.beta << " pad "
          << g.pad;
    }
  }
}

}  // namespace
}  // namespace tt::tensor
