// GemmNaive against tensor's reference on every contract case (gemm_testing.h).
#include "acceleration/gemm.h"
#include "acceleration/gemm_testing.h"
#include "gtest/gtest.h"

namespace tt::accel {
namespace {

using testing::AllGemmCases;
using testing::ExpectGemmPasses;

TEST(GemmNaiveTest, MatchesReferenceOnEveryCase) {
  ExpectGemmPasses([](const GemmArgs& g) { GemmNaive(g); }, AllGemmCases());
}

TEST(GemmNaiveDeathTest, RejectsBadArguments) {
  GemmArgs g;
  g.m = -1;
  EXPECT_DEATH(GemmNaive(g), "GemmNaive: negative size");
  float x[4] = {};
  g.m = g.n = g.k = 2;
  g.a = g.b = g.c = x;
  g.lda = 1;  // shorter than a row of A (K = 2)
  g.ldb = g.ldc = 2;
  EXPECT_DEATH(GemmNaive(g), "lda 1 < 2");
}

}  // namespace
}  // namespace tt::accel
