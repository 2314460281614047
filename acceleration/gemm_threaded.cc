// GemmThreaded: GemmPacked's loop nest with loop (3), the M blocks, shared by threads.
//
//   for jc in N, step nc:
//     for each K super-block (as many kc blocks as fit kMaxSharedB floats; usually all K):
//       pack op(B) for all its kc blocks          all threads, a share of the panels each
//       -- join --
//       for each run of row micro-panels claimed (columns are split too when M is small):
//         for each kc block: pack those A rows (per thread), run the macro-kernel
//       -- join --
//
// Why split M and share B (the scheme the BLIS papers recommend when L2 is per core and
// L3 shared, as here): every thread needs all of B, so it is packed once into one buffer
// and read by all; each thread's A block is its own and lives in its own core's L2.
// Splitting N instead would make every thread pack all of A.
//
// Why pack B for the whole K range up front instead of one kc block at a time: every
// join is a point where the caller may have to wait for a thread that the OS has
// descheduled (on a shared 2-core machine, for a whole time slice). GemmPacked's order
// would need two joins per kc block (6 at 1024^3); this needs two per GEMM up to
// K = kMaxSharedB / nc. Row panels are claimed dynamically, in shrinking runs
// (thread_pool.h): a thread that is slow to wake up or preempted just gets fewer, and
// nobody waits long at the end. Every C element is computed by one micro-kernel call
// per kc block, with the same blocks as GemmPacked, so the results are bitwise equal to
// GemmPacked's.
//
// Small products stay single-threaded. On this VM a sleeping worker takes 25-35 us to
// start running after it is woken (an idle virtual CPU has to be rescheduled by the
// host), and the worker's half of A, B and C comes from the other core's caches: below
// about 150 us of work, the second thread cannot pay for itself. kGemmThreadedMinFlops
// (gemm.h) is the measured crossover.
#include <algorithm>

#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/internal/gemm_util.h"
#include "tensor/check.h"

namespace tt::accel {
namespace internal {
namespace {

// Per-thread A blocks; the shared B buffer belongs to the calling thread.
thread_local AlignedBuffer t_a_rows;
thread_local AlignedBuffer t_b_shared;

// Below this many row panels per thread, columns are split too.
constexpr int64_t kItemsPerThread = 4;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void GemmThreadedAlways(const GemmArgs& g, Isa isa, ThreadPool* pool, const Blocking& bl,
                        int64_t max_shared_b) {
  CheckGemmArgs(g, "GemmThreaded");
  if (pool == nullptr || pool->size() == 1) return GemmPackedWithBlocking(g, isa, bl);
  const Ukernel& uk = UkernelFor(isa);
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return GemmWithoutProducts(g);

  // Work items: row micro-panels (the pool hands out contiguous runs of them, large runs
  // first). With fewer than kItemsPerThread panels per thread, each panel's columns are
  // also cut into n_parts parts, so that thin products still split.
  const int64_t m_panels = CeilDiv(g.m, uk.mr);
  const int64_t want_items = kItemsPerThread * pool->size();
  const int64_t nc_max = std::min(bl.nc, CeilDiv(g.n, uk.nr) * uk.nr);
  const int64_t k_blocks_max = std::max<int64_t>(1, max_shared_b / (bl.kc * nc_max));
  float* b_shared = t_b_shared.Get(std::min(k_blocks_max * bl.kc, g.k) * nc_max);

  for (int64_t jc = 0; jc < g.n; jc += bl.nc) {
    const int64_t nc = std::min(bl.nc, g.n - jc);
    const int64_t b_panels = CeilDiv(nc, uk.nr);
    const int64_t n_parts =
        m_panels >= want_items ? 1 : std::min(b_panels, CeilDiv(want_items, m_panels));
    for (int64_t pc0 = 0; pc0 < g.k; pc0 += k_blocks_max * bl.kc) {
      const int64_t k_end = std::min(g.k, pc0 + k_blocks_max * bl.kc);
      const int64_t k_blocks = CeilDiv(k_end - pc0, bl.kc);
      // kc block kb starts at pc0 + kb * kc; its panels at b_shared + kb * kc * nc_pad
      // (every block but the last has the full kc).
      auto block_k = [&](int64_t kb) { return std::min(bl.kc, k_end - pc0 - kb * bl.kc); };
      auto block_b = [&](int64_t kb) { return b_shared + kb * bl.kc * b_panels * uk.nr; };
      pool->ParallelFor(k_blocks * b_panels, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t kb = t / b_panels, q = t % b_panels;
          uk.pack_b(g.b, g.ldb, g.tb, pc0 + kb * bl.kc, block_k(kb), jc, nc, uk.nr, q, q + 1,
                    block_b(kb));
        }
      });
      // C[i0:i1, jc+j0 : jc+j1] over this super-block's kc blocks, on the calling thread.
      auto compute = [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
        float* a_block = t_a_rows.Get(std::min(bl.mc, i1 - i0 + uk.mr) * bl.kc);
        for (int64_t ic = i0; ic < i1; ic += bl.mc) {
          const int64_t mc = std::min(bl.mc, i1 - ic);
          for (int64_t kb = 0; kb < k_blocks; ++kb) {
            const int64_t pc = pc0 + kb * bl.kc, kc = block_k(kb);
            const bool first = pc == 0, last = pc + kc == g.k;
            uk.pack_a(g.a, g.lda, g.ta, g.alpha, ic, mc, pc, kc, uk.mr, a_block);
            MacroKernel(uk, mc, j1 - j0, kc, a_block, block_b(kb) + (j0 / uk.nr) * kc * uk.nr,
                        g.c + ic * g.ldc + jc + j0, g.ldc, first ? g.beta : 1.0f,
                        last && g.bias != nullptr ? g.bias + jc + j0 : nullptr,
                        last ? g.act : tensor::Activation::kNone);
          }
        }
      };
      pool->ParallelFor(m_panels * n_parts, [&](int64_t t0, int64_t t1) {
        if (n_parts == 1) {  // one run of whole row panels
          return compute(t0 * uk.mr, std::min(g.m, t1 * uk.mr), 0, nc);
        }
        for (int64_t t = t0; t < t1; ++t) {  // (row panel, column part) items
          const int64_t panel = t / n_parts, part = t % n_parts;
          compute(panel * uk.mr, std::min(g.m, (panel + 1) * uk.mr),
                  part * b_panels / n_parts * uk.nr,
                  std::min(nc, (part + 1) * b_panels / n_parts * uk.nr));
        }
      });
    }
  }
}

}  // namespace internal

void GemmThreaded(const GemmArgs& args, Isa isa, ThreadPool* pool, double min_flops) {
  const double flops = 2.0 * args.m * args.n * args.k;
  const bool one_thread = pool == nullptr || pool->size() == 1 || flops < min_flops;
  if (GemmUsesSmallM(args)) {
    CheckGemmArgs(args, "GemmThreaded");
    return internal::GemmSmallMThreaded(args, isa, one_thread ? nullptr : pool);
  }
  const internal::Blocking bl = internal::DefaultBlocking(internal::UkernelFor(isa));
  if (one_thread) return internal::GemmPackedWithBlocking(args, isa, bl);
  internal::GemmThreadedAlways(args, isa, pool, bl);
}

}  // namespace tt::accel
