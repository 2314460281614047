#include "acceleration/cpu_features.h"

#include <atomic>

#include "tensor/check.h"

namespace tt::accel {
namespace {
// -1: no override; otherwise the Isa's value. Relaxed is enough: a guard is created
// before the work it governs is started (thread creation and the pool's job hand-off
// order the store before the worker's load).
std::atomic<int> g_override{-1};
}  // namespace

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2Fma:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      // The AVX-512 kernels use F only, but their library is compiled with BW/VL/DQ too
      // (the compiler may pick those encodings), so all four are required.
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

Isa BestIsa() {
  // Computed once: CPUID does not change while the process runs.
  static const Isa best = IsaSupported(Isa::kAvx512)    ? Isa::kAvx512
                          : IsaSupported(Isa::kAvx2Fma) ? Isa::kAvx2Fma
                                                        : Isa::kScalar;
  return best;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2Fma:
      return "avx2+fma";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

Isa ActiveIsa() {
  const int forced = g_override.load(std::memory_order_relaxed);
  return forced < 0 ? BestIsa() : static_cast<Isa>(forced);
}

ScopedIsa::ScopedIsa(Isa isa) : previous_(g_override.load(std::memory_order_relaxed)) {
  TT_CHECK(IsaSupported(isa), "ScopedIsa: this CPU does not support ", IsaName(isa));
  g_override.store(static_cast<int>(isa), std::memory_order_relaxed);
}

ScopedIsa::~ScopedIsa() { g_override.store(previous_, std::memory_order_relaxed); }

}  // namespace tt::accel
