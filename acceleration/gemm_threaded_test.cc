// GemmThreaded with 1 and 2 threads, every ISA forced in turn: correct on the contract
// cases, and bitwise equal to single-threaded GemmPacked (same blocks, same order).
#include <thread>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/gemm_testing.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/thread_pool.h"
#include "gtest/gtest.h"

namespace tt::accel {
namespace {

using internal::Blocking;
using testing::AllGemmCases;
using testing::ExpectGemmPasses;
using testing::GemmCase;
using testing::QuickGemmCases;
using testing::RunGemm;

class GemmThreadedTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
  }
};

TEST_P(GemmThreadedTest, MatchesReferenceWithOneAndTwoThreads) {
  const Isa isa = GetParam();
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    ThreadPool pool(threads);
    ExpectGemmPasses([&](const GemmArgs& g) { GemmThreaded(g, isa, &pool); }, AllGemmCases());
  }
}

TEST_P(GemmThreadedTest, AlwaysSplitsEvenSmallProblemsCorrectly) {
  // Below the size threshold GemmThreaded is GemmPacked; force the split to test it.
  const Isa isa = GetParam();
  const internal::Ukernel& uk = internal::UkernelFor(isa);
  ThreadPool pool(2);
  const Blocking tiny{5, 2 * uk.mr, 2 * uk.nr};
  const Blocking normal = internal::DefaultBlocking(uk);
  for (const Blocking& b : {tiny, normal}) {
    SCOPED_TRACE(b.kc);
    ExpectGemmPasses(
        [&](const GemmArgs& g) { internal::GemmThreadedAlways(g, isa, &pool, b); },
        QuickGemmCases());
  }
  // A shared-B budget of 3 kc blocks of 2 panels: K splits into several super-blocks.
  const int64_t budget = 3 * tiny.kc * tiny.nc;
  ExpectGemmPasses(
      [&](const GemmArgs& g) { internal::GemmThreadedAlways(g, isa, &pool, tiny, budget); },
      QuickGemmCases());
}

TEST_P(GemmThreadedTest, EqualsSingleThreadedBitwise) {
  const Isa isa = GetParam();
  const internal::Ukernel& uk = internal::UkernelFor(isa);
  const Blocking b = internal::DefaultBlocking(uk);
  ThreadPool pool(2);
  for (auto [m, n, k] : {std::tuple{300, 200, 500}, std::tuple{5, 700, 300},
                         std::tuple{257, 3, 1000}, std::tuple{64, 64, 64}}) {
    GemmCase c;
    c.m = m;
    c.n = n;
    c.k = k;
    c.beta = 0.5f;
    c.bias = true;
    c.act = tensor::Activation::kGelu;
    const std::vector<float> one = RunGemm(
        [&](const GemmArgs& g) { internal::GemmPackedWithBlocking(g, isa, b); }, c);
    const std::vector<float> two = RunGemm(
        [&](const GemmArgs& g) { internal::GemmThreadedAlways(g, isa, &pool, b); }, c);
    EXPECT_EQ(one, two) << c.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GemmThreadedTest,
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

TEST(GemmThreadedConcurrencyTest, TwoCallersShareOnePool) {
  // While one call owns the workers, the other runs inline: both must be right.
  ThreadPool pool(2);
  GemmCase c;
  c.m = 200;
  c.n = 150;
  c.k = 300;
  auto run = [&] {
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(testing::CheckGemm(
          [&](const GemmArgs& g) { GemmThreaded(g, BestIsa(), &pool); }, c));
    }
  };
  std::thread other(run);
  run();
  other.join();
}

TEST(GemmFastTest, MatchesReference) {
  ExpectGemmPasses([](const GemmArgs& g) { GemmFast(g); }, testing::EdgeCases());
}

}  // namespace
}  // namespace tt::accel
