// ActiveInt8Kernel follows tt::accel::ActiveIsa(), names, support.
#include "quantization/int8_isa.h"

#include <string>

#include "acceleration/cpu_features.h"
#include "gtest/gtest.h"

namespace tt::quant {
namespace {

TEST(Int8IsaTest, KernelFollowsTheActiveIsa) {
  {
    accel::ScopedIsa force(accel::Isa::kScalar);
    EXPECT_EQ(ActiveInt8Kernel(), Int8Kernel::kScalar);
  }
  if (accel::IsaSupported(accel::Isa::kAvx2Fma)) {
    accel::ScopedIsa force(accel::Isa::kAvx2Fma);
    EXPECT_EQ(ActiveInt8Kernel(), Int8Kernel::kAvx2);
  }
  if (accel::IsaSupported(accel::Isa::kAvx512)) {
    accel::ScopedIsa force(accel::Isa::kAvx512);
    EXPECT_EQ(ActiveInt8Kernel(), HasAvx512Vnni() ? Int8Kernel::kAvx512Vnni : Int8Kernel::kAvx2);
  }
  EXPECT_TRUE(Int8KernelSupported(ActiveInt8Kernel()));
  EXPECT_TRUE(Int8KernelSupported(Int8Kernel::kScalar));
  EXPECT_EQ(Int8KernelSupported(Int8Kernel::kAvx512Vnni),
            HasAvx512Vnni() && accel::IsaSupported(accel::Isa::kAvx512));
}

TEST(Int8IsaTest, Names) {
  EXPECT_EQ(std::string(Int8KernelName(Int8Kernel::kScalar)), "scalar");
  EXPECT_EQ(std::string(Int8KernelName(Int8Kernel::kAvx2)), "avx2");
  EXPECT_EQ(std::string(Int8KernelName(Int8Kernel::kAvx512Vnni)), "avx512vnni");
}

}  // namespace
}  // namespace tt::quant
