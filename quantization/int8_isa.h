// Which int8 GEMM kernel this CPU runs: plain C++, AVX2 (exact 16-bit multiply-adds) or
// AVX-512 VNNI (vpdpbusd: four u8 x s8 products summed into each int32 lane, one
// instruction). The choice follows tt::accel::ActiveIsa(), so a test that forces a lower
// ISA with tt::accel::ScopedIsa forces the int8 kernels down with it:
//
//   tt::quant::Int8Kernel k = tt::quant::ActiveInt8Kernel();  // e.g. kAvx512Vnni
//   {
//     tt::accel::ScopedIsa force(tt::accel::Isa::kAvx2Fma);
//     // ActiveInt8Kernel() == kAvx2 in here
//   }
//
// VNNI is a separate CPU feature from AVX-512F (Skylake-SP has AVX-512 without it;
// Ice Lake, Sapphire Rapids and Zen 4 have both), hence HasAvx512Vnni().
#ifndef TT_QUANTIZATION_INT8_ISA_H_
#define TT_QUANTIZATION_INT8_ISA_H_

namespace tt::quant {

// True when the CPU has AVX512_VNNI together with AVX-512 F/BW/VL and the OS saves the
// zmm registers (__builtin_cpu_supports checks CPUID and XGETBV). Computed once.
bool HasAvx512Vnni();

// The int8 GEMM kernels, lowest first. Each has its own packed weight layout
// (int8_gemm.h).
enum class Int8Kernel {
  kScalar,      // plain C++: the oracle's arithmetic, any CPU
  kAvx2,        // AVX2: u8/s8 widened to int16, vpmaddwd (exact), 6 x 16 tile
  kAvx512Vnni,  // AVX-512 VNNI: vpdpbusd u8 x s8 -> s32, register-blocked tile
};

// The kernel for tt::accel::ActiveIsa(): kAvx512 with VNNI -> kAvx512Vnni; kAvx512
// without VNNI, or kAvx2Fma -> kAvx2; kScalar -> kScalar.
Int8Kernel ActiveInt8Kernel();

// Whether this CPU can run `kernel` (kScalar: always).
bool Int8KernelSupported(Int8Kernel kernel);

// "scalar", "avx2", "avx512vnni".
const char* Int8KernelName(Int8Kernel kernel);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_INT8_ISA_H_
