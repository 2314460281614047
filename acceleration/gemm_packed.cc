// GemmPacked: the BLIS loop nest around a register-blocked micro-kernel.
//
//   for jc in N, step nc:                    (5) B block: kc x nc, in L2 with the A block
//     for pc in K, step kc:                  (4)
//       pack op(B)[pc:pc+kc, jc:jc+nc]       ->  nc/NR micro-panels of kc x NR
//       for ic in M, step mc:                (3) A block: mc x kc, in L2
//         pack alpha*op(A)[ic:ic+mc, pc:pc+kc] -> mc/MR micro-panels of kc x MR
//         for jr in nc, step NR:             (2) B micro-panel: kc x NR, the size of L1
//           for ir in mc, step MR:           (1) A micro-panel: MR x kc, from L2
//             micro-kernel: C[ic+ir : +MR, jc+jr : +NR] (+)= A panel * B panel
//
// Why each piece:
//   - The micro-kernel keeps an MR x NR tile of C in registers for kc steps: per step it
//     loads MR + NR values and does MR * NR multiply-adds (AVX-512 14x32: 16 vector
//     loads feed 28 vector FMAs), so arithmetic, not memory, sets the speed.
//   - Packing makes the kernel's operands contiguous, aligned and in the order used (one
//     stream each, no TLB misses, no transposes); it is O(MK + KN) work per block against
//     O(MNK) arithmetic.
//   - The blocking keeps each operand in a cache level that can feed it: the B
//     micro-panel is re-read by all mc/MR A micro-panels (from L1 and L2), the A block
//     by all nc/NR B micro-panels (from L2), the B block by all M/mc A blocks (from L2
//     here; from L3 where L2 is smaller). Sizes come from the caches the OS reports
//     (ComputeBlocking below, with the sweeps that chose its rules).
//   - beta is applied on the first K block only (later blocks accumulate, beta = 1), the
//     bias and activation on the last, while the C tile is in registers.
#include <unistd.h>

#include <algorithm>

#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/internal/gemm_util.h"
#include "tensor/check.h"

namespace tt::accel {
namespace internal {
namespace {

int64_t RoundDown(int64_t x, int64_t multiple) { return x / multiple * multiple; }

int64_t CacheSize(int name, int64_t fallback) {
  const long v = sysconf(name);
  return v > 0 ? v : fallback;
}

// Packing buffers, one pair per thread, kept between calls (allocated and faulted in
// once, not per GEMM).
thread_local AlignedBuffer t_a_block;
thread_local AlignedBuffer t_b_block;

}  // namespace

const Ukernel& UkernelFor(Isa isa) {
  TT_CHECK(IsaSupported(isa), "GemmPacked: this CPU does not support ", IsaName(isa));
  static const Ukernel kScalar{4, 8, &F32Gemm4x8Scalar, &PackA, &PackB,
                               "f32_gemm_4x8_scalar"};
  static const Ukernel kAvx2{6, 16, &F32Gemm6x16Avx2Fma, &PackA, &PackB, "f32_gemm_6x16_avx2"};
  static const Ukernel kAvx512{14, 32, &F32Gemm14x32Avx512, &PackA14x32Avx512,
                               &PackB14x32Avx512, "f32_gemm_14x32_avx512"};
  switch (isa) {
    case Isa::kAvx512:
      return kAvx512;
    case Isa::kAvx2Fma:
      return kAvx2;
    case Isa::kScalar:
      break;
  }
  return kScalar;
}

CacheSizes DetectCacheSizes() {
  CacheSizes c;
  c.l1 = CacheSize(_SC_LEVEL1_DCACHE_SIZE, c.l1);
  c.l2 = CacheSize(_SC_LEVEL2_CACHE_SIZE, c.l2);
  c.l3 = CacheSize(_SC_LEVEL3_CACHE_SIZE, c.l3);
  return c;
}

Blocking ComputeBlocking(const Ukernel& uk, const CacheSizes& caches) {
  constexpr int64_t kFloat = sizeof(float);
  Blocking b;
  // kc: the B micro-panel (kc x NR) fills L1. Larger kc amortizes each micro-kernel
  // call's C tile load/store over more FMAs; the A micro-panel and the B micro-panel
  // both stream well from L2 on this machine (swept: kc 384..1024 within 3%, 256 -6%,
  // 192 -15%), so the rule errs on the large side. 48 KiB L1, NR = 32: kc = 384.
  b.kc = std::clamp<int64_t>(RoundDown(caches.l1 / (uk.nr * kFloat), 8), 128, 1024);
  // mc: the A block (mc x kc) takes an eighth of L2, so that it AND the kc x nc B block
  // it is multiplied with can stay in L2 together (swept at 1024: mc 98..336 within
  // 3%, 1022 -10%). 2 MiB L2, kc = 384: mc = 168 (12 x 14).
  b.mc = std::max<int64_t>(RoundDown(caches.l2 / 8 / (b.kc * kFloat), uk.mr), uk.mr);
  // nc: the B block (kc x nc) takes three quarters of L2 (1024 columns here) and at most
  // a quarter of the L3 that all cores share, at least 4 micro-panels. (Swept at 2048:
  // nc 1024 and 2048 within 3%.) GemmThreaded packs B for all of K at once (see there).
  const int64_t b_bytes = std::min(caches.l2 * 3 / 4, caches.l3 / 4);
  b.nc = std::max<int64_t>(RoundDown(b_bytes / (b.kc * kFloat), uk.nr), 4 * uk.nr);
  return b;
}

Blocking DefaultBlocking(const Ukernel& uk) {
  static const CacheSizes caches = DetectCacheSizes();
  return ComputeBlocking(uk, caches);
}

void MacroKernel(const Ukernel& uk, int64_t mc, int64_t nc, int64_t kc, const float* a_packed,
                 const float* b_packed, float* c, int64_t ldc, float beta, const float* bias,
                 tensor::Activation act) {
  GemmUkernelArgs u;
  u.kc = kc;
  u.ldc = ldc;
  u.beta = beta;
  u.act = act;
  for (int64_t j = 0; j < nc; j += uk.nr) {
    u.b = b_packed + (j / uk.nr) * kc * uk.nr;
    u.n = static_cast<int>(std::min<int64_t>(uk.nr, nc - j));
    u.bias = bias == nullptr ? nullptr : bias + j;
    for (int64_t i = 0; i < mc; i += uk.mr) {
      u.a = a_packed + (i / uk.mr) * kc * uk.mr;
      u.m = static_cast<int>(std::min<int64_t>(uk.mr, mc - i));
      u.c = c + i * ldc + j;
      uk.fn(u);
    }
  }
}

void GemmPackedWithBlocking(const GemmArgs& g, Isa isa, const Blocking& bl) {
  CheckGemmArgs(g, "GemmPacked");
  const Ukernel& uk = UkernelFor(isa);
  TT_CHECK(bl.kc >= 1 && bl.mc >= uk.mr && bl.mc % uk.mr == 0 && bl.nc >= uk.nr &&
               bl.nc % uk.nr == 0,
           "GemmPacked: bad blocking kc=", bl.kc, " mc=", bl.mc, " nc=", bl.nc, " for ",
           uk.name);
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return GemmWithoutProducts(g);

  float* a_block = t_a_block.Get(bl.mc * bl.kc);
  float* b_block = t_b_block.Get(bl.kc * bl.nc);
  for (int64_t jc = 0; jc < g.n; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, g.n - jc);
    const int64_t b_panels = (nc + uk.nr - 1) / uk.nr;
    for (int64_t pc = 0; pc < g.k; pc += bl.kc) {
      const int64_t kc = std::min(bl.kc, g.k - pc);
      const bool first = pc == 0, last = pc + kc == g.k;
      uk.pack_b(g.b, g.ldb, g.tb, pc, kc, jc, nc, uk.nr, 0, b_panels, b_block);
      for (int64_t ic = 0; ic < g.m; ic += bl.mc) {
        const int64_t mc = std::min(bl.mc, g.m - ic);
        uk.pack_a(g.a, g.lda, g.ta, g.alpha, ic, mc, pc, kc, uk.mr, a_block);
        MacroKernel(uk, mc, nc, kc, a_block, b_block, g.c + ic * g.ldc + jc, g.ldc,
                    first ? g.beta : 1.0f,
                    last && g.bias != nullptr ? g.bias + jc : nullptr,
                    last ? g.act : tensor::Activation::kNone);
      }
    }
  }
}

}  // namespace internal

void GemmPacked(const GemmArgs& args, Isa isa) {
  CheckGemmArgs(args, "GemmPacked");
  if (GemmUsesSmallM(args)) return GemmSmallM(args, isa);
  internal::GemmPackedWithBlocking(args, isa,
                                   internal::DefaultBlocking(internal::UkernelFor(isa)));
}

}  // namespace tt::accel
