// GemmSmallM: products with a few rows (a batch-1 Linear: M = 1) without packing.
//
//   for each range of columns (all N, or, threaded, the ranges claimed from the pool):
//     for each K chunk (all of K, unless tb == kYes: 512 at a time):
//       for each group of up to 7 rows of C:
//         A rows: used in place when ta == kNo and alpha == 1, else alpha * op(A)
//                 copied into a small buffer (7 x K floats: nothing next to K x N of B)
//         the small-M kernel of the ISA: B streamed once from where it is stored
//
// Why not GemmPacked: packing copies all of B to use each value M times; at M = 1 that
// copy costs as much as the product, and the 14 x 32 micro-kernel would compute 14 rows
// for 1. The kernels (kernels/f32_gemm_smallm_*.cc) keep an M x (up to 256) block of C
// in registers and read each B value once; at M = 1 the speed is the speed at which B
// arrives from the cache. GemmPacked and GemmThreaded send M <= kGemmSmallMMaxRows here
// (and dot products with few columns, GemmUsesSmallM), so every backend gets it.
#include <algorithm>

#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/internal/gemm_util.h"
#include "acceleration/kernels/f32_gemm_smallm.h"
#include "tensor/check.h"

namespace tt::accel {
namespace internal {
namespace {

// alpha * op(A) for the row group, when it cannot be used in place.
thread_local AlignedBuffer t_a_rows;

// Columns per work item when the columns are split over threads (a multiple of every
// kernel's vector width and of its 4-column dot-product groups).
constexpr int64_t kColumnsPerItem = 64;

// K steps per pass when tb == kYes: the dot products stream rows of A and B along K,
// so K is cut into chunks whose rows (7 of A, and the B rows of a column group) stay in
// L1 while every row group and column group of the chunk reuses them; C collects the
// chunks' partial sums (beta = 1 after the first). With tb == kNo, B is read once per
// row group whatever K is, so K is not cut.
constexpr int64_t kDotChunk = 512;

GemmSmallMFn SmallMKernelFor(Isa isa) {
  TT_CHECK(IsaSupported(isa), "GemmSmallM: this CPU does not support ", IsaName(isa));
  switch (isa) {
    case Isa::kAvx512:
      return &F32GemmSmallMAvx512;
    case Isa::kAvx2Fma:
      return &F32GemmSmallMAvx2Fma;
    case Isa::kScalar:
      break;
  }
  return &F32GemmSmallMScalar;
}

// C[:, j0:j1] of the whole product on the calling thread: K chunk by K chunk (one
// chunk unless tb == kYes), row group by row group.
void SmallMColumns(const GemmArgs& g, GemmSmallMFn kernel, int64_t j0, int64_t j1) {
  const bool a_in_place = g.ta == tensor::Trans::kNo && g.alpha == 1.0f;
  const int64_t kc = g.tb == tensor::Trans::kYes ? kDotChunk : g.k;
  for (int64_t p0 = 0; p0 < g.k; p0 += kc) {
    const int64_t k = std::min(kc, g.k - p0);
    const bool first = p0 == 0, last = p0 + k == g.k;
    for (int64_t i0 = 0; i0 < g.m; i0 += kSmallMMaxRows) {
      GemmSmallMArgs u;
      u.m = static_cast<int>(std::min<int64_t>(kSmallMMaxRows, g.m - i0));
      u.n = j1 - j0;
      u.k = k;
      if (a_in_place) {
        u.a = g.a + i0 * g.lda + p0;
        u.lda = g.lda;
      } else {
        float* rows = t_a_rows.Get(u.m * k);
        // p outer: with ta == kYes the u.m values of one p are contiguous in A.
        for (int64_t p = 0; p < k; ++p) {
          for (int r = 0; r < u.m; ++r) rows[r * k + p] = g.alpha * AAt(g, i0 + r, p0 + p);
        }
        u.a = rows;
        u.lda = k;
      }
      // Column j of op(B) is column j of B (tb == kNo) or row j (tb == kYes).
      u.b = g.tb == tensor::Trans::kNo ? g.b + p0 * g.ldb + j0 : g.b + j0 * g.ldb + p0;
      u.ldb = g.ldb;
      u.tb = g.tb;
      u.c = g.c + i0 * g.ldc + j0;
      u.ldc = g.ldc;
      // Later chunks add to what the earlier ones stored; the epilogue waits for the last.
      u.beta = first ? g.beta : 1.0f;
      u.bias = last && g.bias != nullptr ? g.bias + j0 : nullptr;
      u.act = last ? g.act : tensor::Activation::kNone;
      kernel(u);
    }
  }
}

}  // namespace

void GemmSmallMThreaded(const GemmArgs& g, Isa isa, ThreadPool* pool) {
  CheckGemmArgs(g, "GemmSmallM");
  const GemmSmallMFn kernel = SmallMKernelFor(isa);
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return GemmWithoutProducts(g);
  const int64_t items = (g.n + kColumnsPerItem - 1) / kColumnsPerItem;
  if (pool == nullptr || pool->size() == 1 || items == 1) return SmallMColumns(g, kernel, 0, g.n);
  pool->ParallelFor(items, [&](int64_t t0, int64_t t1) {
    SmallMColumns(g, kernel, t0 * kColumnsPerItem, std::min(g.n, t1 * kColumnsPerItem));
  });
}

}  // namespace internal

bool GemmUsesSmallM(const GemmArgs& g) {
  if (g.m <= kGemmSmallMMaxRows) return true;
  if (g.tb == tensor::Trans::kYes) return g.n <= 16 && g.k >= 256;
  if (g.m <= 16) return true;
  static const int64_t half_l2 = internal::DetectCacheSizes().l2 / 2;
  return g.m <= 32 && g.k >= 64 && g.k * g.n * static_cast<int64_t>(sizeof(float)) <= half_l2;
}

void GemmSmallM(const GemmArgs& args, Isa isa) {
  internal::GemmSmallMThreaded(args, isa, nullptr);
}

}  // namespace tt::accel
