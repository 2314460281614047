// Every registered acceleration backend against tensor's ReferenceBackend: each kernel
// of the seam on random and edge shapes, and whole models (forward and gradients), with
// each ISA forced in turn; plus the dispatch table.
#include "acceleration/backends.h"

#include <cmath>
#include <limits>

#include "acceleration/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/check.h"
#include "tensor/models.h"
#include "tensor/ops.h"

namespace tt::accel {
namespace {

using ::testing::HasSubstr;
using tensor::Tensor;
using tensor::Trans;

const char* const kBackends[] = {"blocked", "simd", "simd_threaded", "xnnpack", "auto"};

std::vector<float> Random(int64_t n, uint64_t seed) {
  tensor::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.Uniform(-1.0f, 1.0f);
  return v;
}

// |got - want| <= atol + rtol * |want| everywhere.
::testing::AssertionResult Close(const float* got, const float* want, int64_t n, float atol,
                                 float rtol) {
  for (int64_t i = 0; i < n; ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (!both_nan && !(std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i]))) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << ", want " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

tensor::Backend& Named(const char* name) {
  absl::StatusOr<tensor::Backend*> b = tensor::FindBackend(name);
  TT_CHECK(b.ok(), "backend ", name, " is not registered");
  return **b;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

TEST(BackendsTest, AllAreRegistered) {
  for (const char* name : kBackends) {
    absl::StatusOr<tensor::Backend*> b = tensor::FindBackend(name);
    ASSERT_TRUE(b.ok()) << name;
    EXPECT_EQ((*b)->name(), name);
  }
  EXPECT_FALSE(Named("blocked").PrefersFusedEpilogue());
  EXPECT_TRUE(Named("auto").PrefersFusedEpilogue());
}

TEST(BackendsTest, GemmMatchesReferenceForEveryShapeAndFlag) {
  tensor::ReferenceBackend reference;
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 17, 5}, {17, 3, 255}, {64, 64, 64},
                              {65, 129, 33}, {2, 3, 3000}, {200, 300, 150}};
  for (Isa isa : SupportedIsas()) {
    ScopedIsa force(isa);
    for (const char* name : kBackends) {
      tensor::Backend& backend = Named(name);
      for (const auto& s : sizes) {
        const int64_t m = s[0], n = s[1], k = s[2];
        for (Trans ta : {Trans::kNo, Trans::kYes}) {
          for (Trans tb : {Trans::kNo, Trans::kYes}) {
            const std::vector<float> a = Random(m * k, 1), b = Random(k * n, 2);
            std::vector<float> c0 = Random(m * n, 3), c1 = c0;
            const int64_t lda = ta == Trans::kNo ? k : m, ldb = tb == Trans::kNo ? n : k;
            reference.Gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f,
                           c0.data(), n);
            backend.Gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f,
                         c1.data(), n);
            // Summation order differs: allow K-proportional rounding.
            EXPECT_TRUE(Close(c1.data(), c0.data(), m * n, 2e-6f * k, 1e-5f))
                << name << " isa " << IsaName(isa) << " " << m << "x" << n << "x" << k
                << " ta " << (ta == Trans::kYes) << " tb " << (tb == Trans::kYes);
          }
        }
      }
    }
  }
}

TEST(BackendsTest, BetaZeroIgnoresNanInC) {
  for (const char* name : kBackends) {
    const std::vector<float> a = Random(4 * 5, 4), b = Random(5 * 6, 5);
    std::vector<float> c(4 * 6, std::numeric_limits<float>::quiet_NaN()), want(4 * 6);
    tensor::ReferenceBackend().Gemm(Trans::kNo, Trans::kNo, 4, 6, 5, 1.0f, a.data(), 5,
                                    b.data(), 6, 0.0f, want.data(), 6);
    Named(name).Gemm(Trans::kNo, Trans::kNo, 4, 6, 5, 1.0f, a.data(), 5, b.data(), 6, 0.0f,
                     c.data(), 6);
    EXPECT_TRUE(Close(c.data(), want.data(), 24, 1e-5f, 1e-5f)) << name;
  }
}

TEST(BackendsTest, FusedEpilogueMatchesThreeSteps) {
  tensor::ReferenceBackend reference;
  for (const char* name : kBackends) {
    for (tensor::Activation act :
         {tensor::Activation::kNone, tensor::Activation::kRelu, tensor::Activation::kGelu}) {
      const int64_t m = 7, n = 33, k = 19;
      const std::vector<float> a = Random(m * k, 6), b = Random(k * n, 7), bias = Random(n, 8);
      std::vector<float> want(m * n), got(m * n);
      reference.GemmBiasAct(Trans::kNo, Trans::kNo, m, n, k, a.data(), k, b.data(), n,
                            bias.data(), act, want.data(), n);
      Named(name).GemmBiasAct(Trans::kNo, Trans::kNo, m, n, k, a.data(), k, b.data(), n,
                              bias.data(), act, got.data(), n);
      EXPECT_TRUE(Close(got.data(), want.data(), m * n, 1e-5f, 1e-5f))
          << name << " act " << static_cast<int>(act);
    }
  }
}

TEST(BackendsTest, ElementwiseSoftmaxAndPoolMatchReference) {
  tensor::ReferenceBackend reference;
  const int64_t n = 1037;
  std::vector<float> x = Random(n, 9), dy = Random(n, 10);
  for (float& v : x) v *= 4.0f;
  for (const char* name : kBackends) {
    tensor::Backend& backend = Named(name);
    for (tensor::UnaryOp op :
         {tensor::UnaryOp::kExp, tensor::UnaryOp::kTanh, tensor::UnaryOp::kSigmoid,
          tensor::UnaryOp::kRelu, tensor::UnaryOp::kGelu, tensor::UnaryOp::kNeg}) {
      std::vector<float> want(n), got(n), dwant(n), dgot(n);
      reference.Unary(op, x.data(), want.data(), n);
      backend.Unary(op, x.data(), got.data(), n);
      EXPECT_TRUE(Close(got.data(), want.data(), n, 1e-5f, 1e-5f))
          << name << " unary " << static_cast<int>(op);
      reference.UnaryBackward(op, x.data(), want.data(), dy.data(), dwant.data(), n);
      backend.UnaryBackward(op, x.data(), want.data(), dy.data(), dgot.data(), n);
      EXPECT_TRUE(Close(dgot.data(), dwant.data(), n, 1e-5f, 1e-5f))
          << name << " unary backward " << static_cast<int>(op);
    }
    std::vector<float> want(n), got(n);
    reference.Binary(tensor::BinaryOp::kMul, x.data(), 1, dy.data(), 0, want.data(), n);
    backend.Binary(tensor::BinaryOp::kMul, x.data(), 1, dy.data(), 0, got.data(), n);
    EXPECT_TRUE(Close(got.data(), want.data(), n, 0.0f, 1e-6f)) << name;
    for (bool log : {false, true}) {
      reference.SoftmaxRows(x.data(), want.data(), 17, 61, log);
      backend.SoftmaxRows(x.data(), got.data(), 17, 61, log);
      EXPECT_TRUE(Close(got.data(), want.data(), 17 * 61, 1e-6f, 1e-5f)) << name << log;
    }
    // Pooling: identical values and argmax (the first maximum wins).
    std::vector<float> img = Random(3 * 10 * 10, 11);
    img[5] = img[6] = 9.0f;  // a tie
    std::vector<float> py0(3 * 25), py1(3 * 25);
    std::vector<int32_t> am0(3 * 25), am1(3 * 25);
    reference.MaxPool2d(img.data(), 3, 10, 10, 2, 2, py0.data(), am0.data());
    backend.MaxPool2d(img.data(), 3, 10, 10, 2, 2, py1.data(), am1.data());
    EXPECT_EQ(py0, py1) << name;
    EXPECT_EQ(am0, am1) << name;
  }
}

// A whole CNN: forward logits and every parameter gradient agree with the reference.
TEST(BackendsTest, CnnForwardAndGradientsMatchReference) {
  tensor::CnnConfig config;
  config.height = config.width = 12;
  config.conv_channels = {4, 8};
  config.hidden = 16;
  tensor::Rng rng(12);
  const Tensor x = Tensor::Randn({3, 1, 12, 12}, rng);
  const std::vector<int32_t> labels = {1, 7, 3};
  auto run = [&](tensor::Backend* backend, std::vector<std::vector<float>>* grads) {
    tensor::ScopedBackend use(backend);
    auto cnn = tensor::MakeCnn(config, 13);
    Tensor logits = cnn->Forward(x);
    tensor::CrossEntropy(logits, labels).Backward();
    for (const Tensor& p : cnn->Parameters()) grads->push_back(p.grad().ToVector());
    return logits.ToVector();
  };
  tensor::ReferenceBackend reference;
  std::vector<std::vector<float>> want_grads;
  const std::vector<float> want = run(&reference, &want_grads);
  for (Isa isa : SupportedIsas()) {
    ScopedIsa force(isa);
    for (const char* name : kBackends) {
      std::vector<std::vector<float>> grads;
      const std::vector<float> got = run(&Named(name), &grads);
      EXPECT_TRUE(Close(got.data(), want.data(), got.size(), 1e-4f, 1e-4f))
          << name << " " << IsaName(isa);
      for (size_t i = 0; i < grads.size(); ++i) {
        EXPECT_TRUE(Close(grads[i].data(), want_grads[i].data(), grads[i].size(), 1e-4f, 1e-3f))
            << name << " " << IsaName(isa) << " gradient of parameter " << i;
      }
    }
  }
}

TEST(BackendsTest, XnnpackServesPinnedWeightsAndSeesUpdates) {
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{{8, 6, 3}}, 14);
  tensor::Rng rng(15);
  const Tensor x = Tensor::Randn({5, 8}, rng);
  tensor::NoGradGuard no_grad;
  const std::vector<float> want = mlp->Forward(x).ToVector();
  XnnpackBackend& xnn = Xnnpack();
  xnn.PinWeights(mlp->Parameters());
  tensor::ScopedBackend use(&xnn);
  EXPECT_TRUE(Close(mlp->Forward(x).ToVector().data(), want.data(), want.size(), 1e-5f, 1e-5f));
  // An in-place update (as an optimizer makes) must reach the cached operator.
  mlp->Parameters()[0].Fill(0.01f);
  std::vector<float> updated;
  {
    tensor::ReferenceBackend reference;
    tensor::ScopedBackend ref(&reference);
    updated = mlp->Forward(x).ToVector();
  }
  EXPECT_TRUE(Close(mlp->Forward(x).ToVector().data(), updated.data(), updated.size(), 1e-5f,
                    1e-5f));
  xnn.ClearCache();
}

TEST(DispatchTableTest, DefaultSplitsAtTheThreadingThreshold) {
  const DispatchTable t = DispatchTable::Default();
  EXPECT_EQ(t.Choose(8, 8, 8), GemmEngine::kSimd);
  EXPECT_EQ(t.Choose(1024, 1024, 1024), GemmEngine::kSimdThreaded);
  EXPECT_EQ(t.Choose(64, 64, 64), t.Choose(64, 64, 64));  // deterministic
}

TEST(DispatchTableTest, ParseRoundTripsAndRejectsBadTables) {
  absl::StatusOr<DispatchTable> t = DispatchTable::Parse("# comment\n1.5 simd\ninf simd_threaded\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->Choose(10, 10, 10), GemmEngine::kSimd);          // 2000 FLOPs
  EXPECT_EQ(t->Choose(100, 100, 100), GemmEngine::kSimdThreaded);  // 2 MFLOP
  absl::StatusOr<DispatchTable> again = DispatchTable::Parse(t->ToString());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->rules().size(), 2u);
  EXPECT_THAT(std::string(DispatchTable::Parse("1 simd\n").status().message()),
              HasSubstr("last rule must be 'inf"));
  EXPECT_THAT(std::string(DispatchTable::Parse("1 gpu\ninf simd\n").status().message()),
              HasSubstr("line 1"));
  EXPECT_THAT(std::string(DispatchTable::Parse("5 simd\n2 simd\ninf simd\n").status().message()),
              HasSubstr("must increase"));
  EXPECT_FALSE(DispatchTable::Parse("").ok());
}

}  // namespace
}  // namespace tt::accel
