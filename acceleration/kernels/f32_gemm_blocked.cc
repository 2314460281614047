// GemmBlocked: i-k-j loops over tiles of B sized for the caches.
//
//   for each column stripe jb (kBlockN columns):
//     for each K block pb (kBlockK rows of B):       B tile: kBlockK x kBlockN
//       for i in all rows:
//         for p in the K block: a = alpha * A(i,p)
//           for j in the stripe: C(i,j) += a * B(p,j)
//
// Why it is faster than GemmIkj: GemmIkj streams all of B (K*N floats, 4 MiB at 1024^2)
// once per row of C, and B does not fit in the per-core L2. Here one B tile of
// kBlockK x kBlockN = 256 x 512 floats = 512 KiB is reused by every row of C while it
// stays in L2 (2 MiB per core on the Sapphire Rapids machine, 1 MiB on Zen 4; a quarter
// to a half of L2 leaves room for the rows of A and C passing through). The C row
// segment being accumulated, kBlockN floats = 2 KiB, stays in L1 (48 KiB) across the
// whole K block, so C is read and written from memory once per K block instead of once
// per p. What is left: the loop still does one load, one store and one separate multiply
// and add per FMA it could have done (no FMA without -m flags), all through memory,
// never keeping partial sums in registers. GemmPacked's micro-kernel fixes that.
//
// Transposed B: same loops with strided reads (correct, slower).
#include <algorithm>

#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_util.h"

namespace tt::accel {
namespace {
constexpr int64_t kBlockK = 256;  // rows of a B tile
constexpr int64_t kBlockN = 512;  // columns of a B tile (and of a C row segment)
}  // namespace

void GemmBlocked(const GemmArgs& g) {
  CheckGemmArgs(g, "GemmBlocked");
  if (g.m == 0 || g.n == 0) return;
  internal::ScaleC(g.beta, g.c, g.ldc, g.m, g.n);
  const bool plain_b = g.tb == tensor::Trans::kNo;
  for (int64_t j0 = 0; j0 < g.n; j0 += kBlockN) {
    const int64_t nb = std::min(kBlockN, g.n - j0);
    for (int64_t p0 = 0; p0 < g.k; p0 += kBlockK) {
      const int64_t kb = std::min(kBlockK, g.k - p0);
      for (int64_t i = 0; i < g.m; ++i) {
        float* __restrict c_row = g.c + i * g.ldc + j0;
        for (int64_t p = p0; p < p0 + kb; ++p) {
          const float a_ip = g.alpha * internal::AAt(g, i, p);
          if (plain_b) {
            const float* __restrict b_row = g.b + p * g.ldb + j0;
            for (int64_t j = 0; j < nb; ++j) c_row[j] += a_ip * b_row[j];
          } else {
            for (int64_t j = 0; j < nb; ++j) c_row[j] += a_ip * g.b[(j0 + j) * g.ldb + p];
          }
        }
      }
    }
    // The epilogue on the stripe just finished (its last rows are still in cache).
    for (int64_t i = 0; i < g.m; ++i) {
      internal::EpilogueRow(g.bias == nullptr ? nullptr : g.bias + j0, g.act,
                            g.c + i * g.ldc + j0, nb);
    }
  }
}

}  // namespace tt::accel
