#include "quantization/int8_isa.h"

#include "acceleration/cpu_features.h"

namespace tt::quant {

bool HasAvx512Vnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni") &&
                          __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}

Int8Kernel ActiveInt8Kernel() {
  switch (accel::ActiveIsa()) {
    case accel::Isa::kAvx512:
      return HasAvx512Vnni() ? Int8Kernel::kAvx512Vnni : Int8Kernel::kAvx2;
    case accel::Isa::kAvx2Fma:
      return Int8Kernel::kAvx2;
    case accel::Isa::kScalar:
      break;
  }
  return Int8Kernel::kScalar;
}

bool Int8KernelSupported(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kScalar:
      return true;
    case Int8Kernel::kAvx2:
      return accel::IsaSupported(accel::Isa::kAvx2Fma);
    case Int8Kernel::kAvx512Vnni:
      return accel::IsaSupported(accel::Isa::kAvx512) && HasAvx512Vnni();
  }
  return false;
}

const char* Int8KernelName(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kScalar:
      return "scalar";
    case Int8Kernel::kAvx2:
      return "avx2";
    case Int8Kernel::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

}  // namespace tt::quant
