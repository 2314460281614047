#include "acceleration/cpu_features.h"

#include <string>

#include "gtest/gtest.h"

namespace tt::accel {
namespace {

TEST(CpuFeaturesTest, ScalarIsAlwaysSupported) { EXPECT_TRUE(IsaSupported(Isa::kScalar)); }

TEST(CpuFeaturesTest, BestIsaIsSupportedAndHighest) {
  const Isa best = BestIsa();
  EXPECT_TRUE(IsaSupported(best));
  // Levels are ordered: AVX-512 machines are also AVX2+FMA machines.
  if (IsaSupported(Isa::kAvx512)) {
    EXPECT_EQ(best, Isa::kAvx512);
    EXPECT_TRUE(IsaSupported(Isa::kAvx2Fma));
  }
  if (!IsaSupported(Isa::kAvx2Fma)) {
    EXPECT_EQ(best, Isa::kScalar);
  }
}

TEST(CpuFeaturesTest, Names) {
  EXPECT_EQ(std::string(IsaName(Isa::kScalar)), "scalar");
  EXPECT_EQ(std::string(IsaName(Isa::kAvx2Fma)), "avx2+fma");
  EXPECT_EQ(std::string(IsaName(Isa::kAvx512)), "avx512");
}

TEST(CpuFeaturesTest, ScopedIsaForcesAndRestores) {
  EXPECT_EQ(ActiveIsa(), BestIsa());
  {
    ScopedIsa outer(Isa::kScalar);
    EXPECT_EQ(ActiveIsa(), Isa::kScalar);
    if (IsaSupported(Isa::kAvx2Fma)) {
      ScopedIsa inner(Isa::kAvx2Fma);
      EXPECT_EQ(ActiveIsa(), Isa::kAvx2Fma);
    }
    EXPECT_EQ(ActiveIsa(), Isa::kScalar);
  }
  EXPECT_EQ(ActiveIsa(), BestIsa());
}

TEST(CpuFeaturesDeathTest, ScopedIsaRejectsUnsupported) {
  for (Isa isa : {Isa::kAvx2Fma, Isa::kAvx512}) {
    if (IsaSupported(isa)) continue;
    EXPECT_DEATH(ScopedIsa{isa}, "does not support");
    return;
  }
  GTEST_SKIP() << "this CPU supports every ISA; nothing to reject";
}

}  // namespace
}  // namespace tt::accel
