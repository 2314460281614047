// GemmPacked on every ISA this CPU has (each forced in turn; unsupported ones skip),
// with the machine's blocking and with tiny blocks that run every loop edge (several
// NC, KC and MC blocks, partial panels) on small matrices.
#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/gemm_testing.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/internal/gemm_util.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using internal::Blocking;
using testing::AllGemmCases;
using testing::ExpectGemmPasses;
using testing::QuickGemmCases;

class GemmPackedTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
  }
};

TEST_P(GemmPackedTest, MatchesReferenceOnEveryCase) {
  const Isa isa = GetParam();
  ExpectGemmPasses([isa](const GemmArgs& g) { GemmPacked(g, isa); }, AllGemmCases());
}

TEST_P(GemmPackedTest, TinyBlocksRunEveryLoopEdge) {
  const Isa isa = GetParam();
  const internal::Ukernel& uk = internal::UkernelFor(isa);
  // kc = 5: K splits into many blocks with a partial last one; mc = 2 panels and
  // nc = 2 panels: several MC and NC blocks even at M, N = 17.
  const Blocking tiny{5, 2 * uk.mr, 2 * uk.nr};
  ExpectGemmPasses(
      [isa, tiny](const GemmArgs& g) { internal::GemmPackedWithBlocking(g, isa, tiny); },
      QuickGemmCases());
}

TEST_P(GemmPackedTest, BlockingFollowsTheCaches) {
  const internal::Ukernel& uk = internal::UkernelFor(GetParam());
  internal::CacheSizes caches;
  caches.l1 = 48 << 10;
  caches.l2 = 2 << 20;
  caches.l3 = 260 << 20;
  const Blocking b = internal::ComputeBlocking(uk, caches);
  // The kc x NR B micro-panel fits L1; the A block (mc x kc) and the B block (kc x nc)
  // fit L2 together.
  EXPECT_LE(b.kc * uk.nr * 4, caches.l1);
  EXPECT_LE(b.mc * b.kc * 4 + b.kc * b.nc * 4, caches.l2);
  EXPECT_EQ(b.mc % uk.mr, 0);
  EXPECT_EQ(b.nc % uk.nr, 0);
  EXPECT_GE(b.kc, 128);
  EXPECT_GE(b.nc, 4 * uk.nr);
}

// The vectorized GELU of the epilogue against tensor's Unary(kGelu) on exact inputs:
// C (1 x n) = A (1 x 1, holding 1) * B (1 x n, holding x), so C = x exactly before the
// epilogue.
TEST_P(GemmPackedTest, GeluEpilogueMatchesTensorReference) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.0123f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-4f, -1e-4f, 1e-20f, 30.0f, -30.0f, 100.0f, -100.0f}) {
    x.push_back(v);
  }
  const int64_t n = static_cast<int64_t>(x.size());
  const float one = 1.0f;
  std::vector<float> got(n), want(n);
  GemmArgs g;
  g.m = 1;
  g.n = n;
  g.k = 1;
  g.a = &one;
  g.lda = 1;
  g.b = x.data();
  g.ldb = n;
  g.c = got.data();
  g.ldc = n;
  g.act = tensor::Activation::kGelu;
  GemmPacked(g, GetParam());
  tensor::ReferenceBackend().Unary(tensor::UnaryOp::kGelu, x.data(), want.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    // 1e-6 relative, plus the reference's own rounding of 1 + tanh(z) near z = -1
    // (2^-24 absolute, times 0.5 |x|).
    const double tol = 1e-6 * std::fabs(want[i]) + std::ldexp(std::fabs(x[i]), -25);
    EXPECT_NEAR(got[i], want[i], tol) << "x = " << x[i];
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GemmPackedTest,
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

// The vectorized AVX-512 packing must write exactly what the plain loops write.
TEST(GemmPackingTest, Avx512PackingMatchesPlainPacking) {
  if (!IsaSupported(Isa::kAvx512)) GTEST_SKIP() << "avx512 not supported";
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> src(80 * 90);
  for (float& v : src) v = u(rng);
  internal::AlignedBuffer plain_buf, fast_buf;
  for (tensor::Trans trans : {tensor::Trans::kNo, tensor::Trans::kYes}) {
    for (int64_t kc : {1, 15, 16, 17, 40}) {
      for (int64_t mc : {1, 13, 14, 15, 28, 33}) {
        for (float alpha : {1.0f, -0.5f}) {
          // A block (mc x kc) at (i0, p0) = (2, 3) of a matrix with row stride 90.
          const size_t size = (mc + 13) / 14 * 14 * kc;
          float* plain = plain_buf.Get(size);
          float* fast = fast_buf.Get(size);
          std::fill(plain, plain + size, -7.0f);
          std::fill(fast, fast + size, -7.0f);
          internal::PackA(src.data(), 90, trans, alpha, 2, mc, 3, kc, 14, plain);
          internal::PackA14x32Avx512(src.data(), 90, trans, alpha, 2, mc, 3, kc, 14, fast);
          ASSERT_TRUE(std::equal(plain, plain + size, fast))
              << "PackA trans=" << (trans == tensor::Trans::kYes) << " mc=" << mc
              << " kc=" << kc << " alpha=" << alpha;
        }
      }
      for (int64_t nc : {1, 16, 17, 31, 32, 33, 70}) {
        const int64_t panels = (nc + 31) / 32;
        const size_t size = panels * kc * 32;
        for (auto [q0, q1] : {std::pair<int64_t, int64_t>{0, panels}, {panels - 1, panels}}) {
          float* plain = plain_buf.Get(size);
          float* fast = fast_buf.Get(size);
          std::fill(plain, plain + size, -7.0f);
          std::fill(fast, fast + size, -7.0f);
          internal::PackB(src.data(), 80, trans, 4, kc, 5, nc, 32, q0, q1, plain);
          internal::PackB14x32Avx512(src.data(), 80, trans, 4, kc, 5, nc, 32, q0, q1, fast);
          ASSERT_TRUE(std::equal(plain, plain + size, fast))
              << "PackB trans=" << (trans == tensor::Trans::kYes) << " nc=" << nc
              << " kc=" << kc << " panels " << q0 << ".." << q1;
        }
      }
    }
  }
}

TEST(GemmPackedDeathTest, RejectsBadBlocking) {
  const internal::Ukernel& uk = internal::UkernelFor(Isa::kScalar);
  float x[4] = {};
  GemmArgs g;
  g.m = g.n = g.k = 2;
  g.a = g.b = g.c = x;
  g.lda = g.ldb = g.ldc = 2;
  EXPECT_DEATH(internal::GemmPackedWithBlocking(g, Isa::kScalar, {4, uk.mr + 1, uk.nr}),
               "bad blocking");
}

TEST(GemmPackedDeathTest, RejectsNegativeSizes) {
  GemmArgs g;
  g.k = -3;
  EXPECT_DEATH(GemmPacked(g, Isa::kScalar), "GemmPacked: negative size");
}

}  // namespace
}  // namespace tt::accel
