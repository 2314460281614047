// The pieces of GemmPacked that GemmThreaded reuses, and knobs for tests and tuning.
// Internal to the acceleration module.
#ifndef TT_ACCELERATION_INTERNAL_GEMM_PACKED_INTERNAL_H_
#define TT_ACCELERATION_INTERNAL_GEMM_PACKED_INTERNAL_H_

#include <cstdint>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {

// One ISA's micro-kernel, its tile, and the packing routines that feed it.
struct Ukernel {
  int mr = 0, nr = 0;
  GemmUkernelFn fn = nullptr;
  PackAFn pack_a = nullptr;
  PackBFn pack_b = nullptr;
  const char* name = "";
};

// The micro-kernel GemmPacked uses for `isa`; TT_CHECKs that the CPU supports it.
const Ukernel& UkernelFor(Isa isa);

// Data cache sizes in bytes, per core for L1/L2 and in total for L3.
struct CacheSizes {
  int64_t l1 = 32 << 10, l2 = 1 << 20, l3 = 32 << 20;
};
// From sysconf (glibc reads CPUID), the defaults above where it reports nothing.
CacheSizes DetectCacheSizes();

// The three cache-blocking sizes of the BLIS loop nest (see gemm_packed.cc and
// ComputeBlocking there for the rules and the sweeps behind them):
//   kc: K steps per packed block; the kc x NR B micro-panel fills L1.
//   mc: rows of A per packed block (a multiple of MR); the mc x kc A block: L2 / 8.
//   nc: columns of B per packed block (a multiple of NR); the kc x nc B block: 3/4 L2.
struct Blocking {
  int64_t kc = 0, mc = 0, nc = 0;
};
Blocking ComputeBlocking(const Ukernel& ukernel, const CacheSizes& caches);
// ComputeBlocking for this machine's caches, computed once per ukernel.
Blocking DefaultBlocking(const Ukernel& ukernel);

// C[0:mc, 0:nc] (row stride ldc) = the products of the packed A block (ceil(mc/MR)
// panels of kc x MR) with the packed B panels starting at b_packed (ceil(nc/NR) panels
// of kc x NR), through the micro-kernel: beta, bias (nc values or nullptr) and act as in
// GemmUkernelArgs. Loops: B micro-panel outer (it stays in L1), A micro-panel inner.
void MacroKernel(const Ukernel& ukernel, int64_t mc, int64_t nc, int64_t kc,
                 const float* a_packed, const float* b_packed, float* c, int64_t ldc,
                 float beta, const float* bias, tensor::Activation act);

// GemmPacked with explicit blocking (kc >= 1, mc a positive multiple of MR, nc of NR):
// tests use tiny blocks to run every loop edge on small matrices; benchmarks sweep them.
void GemmPackedWithBlocking(const GemmArgs& args, Isa isa, const Blocking& blocking);

// The most floats of packed B that GemmThreaded shares at once (16 MiB): K is cut into
// super-blocks of as many kc blocks as fit (at least one).
inline constexpr int64_t kMaxSharedB = 4 << 20;

// GemmThreaded without the size threshold (when the pool has >= 2 threads), with
// explicit blocking and shared-B budget; for tests and for measuring the crossover.
void GemmThreadedAlways(const GemmArgs& args, Isa isa, ThreadPool* pool,
                        const Blocking& blocking, int64_t max_shared_b = kMaxSharedB);

// GemmSmallM with the columns split over `pool` in runs of 64 (nullptr or a 1-thread
// pool: the calling thread does all). Bitwise equal to GemmSmallM for any pool.
void GemmSmallMThreaded(const GemmArgs& args, Isa isa, ThreadPool* pool);

}  // namespace tt::accel::internal

#endif  // TT_ACCELERATION_INTERNAL_GEMM_PACKED_INTERNAL_H_
