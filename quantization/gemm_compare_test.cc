// CompareInt8Gemm runs the three engines and returns positive, finite figures. (Timings
// are not asserted: they are noisy; the report and the benchmark print them.)
#include "quantization/gemm_compare.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tt::quant {
namespace {

TEST(GemmCompareTest, ReturnsFiguresForEveryEngine) {
  const Int8GemmFigures f = CompareInt8Gemm(64, 0.0);
  EXPECT_EQ(f.size, 64);
  EXPECT_GT(f.int8_gops, 0.0);
  EXPECT_GT(f.f32_gflops, 0.0);
  EXPECT_TRUE(std::isfinite(f.int8_gops));
  EXPECT_TRUE(std::isfinite(f.f32_gflops));
  // XNNPACK runs on every x86-64 with SSE2; NaN would mean it failed to initialize.
  EXPECT_GT(f.xnnpack_qs8_gops, 0.0);
  EXPECT_STRNE(f.kernel, "");
  EXPECT_FALSE(f.load.empty());
}

TEST(GemmCompareDeathTest, BadArgumentsStop) {
  EXPECT_DEATH(CompareInt8Gemm(0, 0.1), "size 0");
  EXPECT_DEATH(CompareInt8Gemm(8, -1.0), "min_seconds");
}

}  // namespace
}  // namespace tt::quant
