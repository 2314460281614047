// Which SIMD instruction sets this CPU can run, and which one the fast kernels use.
//
// Every SIMD kernel of this module is compiled for its ISA in its own library (the only
// code built with -m flags) and is called only when IsaSupported() says the CPU and the
// OS can run it. Dispatch asks ActiveIsa(); tests and benchmarks force a lower path with
// ScopedIsa, so that every path is exercised on a machine that has them all:
//
//   if (tt::accel::IsaSupported(tt::accel::Isa::kAvx2Fma)) {
//     tt::accel::ScopedIsa force(tt::accel::Isa::kAvx2Fma);
//     RunModel();  // every dispatched kernel in here uses the AVX2+FMA path
//   }
#ifndef TT_ACCELERATION_CPU_FEATURES_H_
#define TT_ACCELERATION_CPU_FEATURES_H_

namespace tt::accel {

// The instruction-set levels the kernels are written for, lowest first.
//   kScalar:  plain C++ (the compiler may still use the SSE2 every x86-64 has).
//   kAvx2Fma: 256-bit AVX2 with fused multiply-add (Haswell, Zen 1 and later).
//   kAvx512:  512-bit AVX-512 F/BW/VL/DQ (Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4).
enum class Isa { kScalar, kAvx2Fma, kAvx512 };

// Whether this CPU can run `isa` AND the OS saves its registers on context switches
// (__builtin_cpu_supports checks both: it reads CPUID and XGETBV). kScalar: always.
bool IsaSupported(Isa isa);

// The highest supported level: kAvx512, else kAvx2Fma, else kScalar.
Isa BestIsa();

// "scalar", "avx2+fma", "avx512".
const char* IsaName(Isa isa);

// The level dispatched kernels use: the innermost live ScopedIsa's, else BestIsa().
Isa ActiveIsa();

// Forces ActiveIsa() to `isa` for the guard's lifetime, process-wide (so pool threads see
// it too). `isa` must be supported (TT_CHECK). Guards nest; destroy them in reverse order
// of creation. Meant for tests and benchmarks, which run one of them at a time: two
// threads creating guards concurrently would see each other's choice.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  int previous_;  // the override before this guard, -1 for none
};

}  // namespace tt::accel

#endif  // TT_ACCELERATION_CPU_FEATURES_H_
