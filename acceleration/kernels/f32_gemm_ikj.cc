// GemmIkj: the same arithmetic as GemmNaive with the two inner loops swapped (i-k-j).
//
//   for i: for p: a = alpha * A(i,p); for j: C(i,j) += a * B(p,j)
//
// Why it is faster: the innermost loop now walks a row of B and a row of C, both
// contiguous, so every cache line fetched is used whole, the hardware prefetcher sees a
// simple stream, and the iterations are independent (each j has its own C(i,j)), so the
// compiler vectorizes the loop (SSE2 here: this file has no -m flags, like all code
// outside the kernel libraries). The remaining limit: for each row i the loop streams
// all of B (K*N floats) through the caches; once B no longer fits in L2, every row pays
// for reading B from L3 or memory. GemmBlocked fixes that.
//
// Transposed B (stored (N,K)) makes the inner loop strided again; the loop is still
// correct, just slow. GemmPacked handles transposes in its packing at no cost.
#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_util.h"

namespace tt::accel {

void GemmIkj(const GemmArgs& g) {
  CheckGemmArgs(g, "GemmIkj");
  // C must not alias A or B (the contract), which is what __restrict promises.
  for (int64_t i = 0; i < g.m; ++i) {
    float* __restrict c_row = g.c + i * g.ldc;
    internal::ScaleC(g.beta, c_row, g.ldc, 1, g.n);
    for (int64_t p = 0; p < g.k; ++p) {
      const float a_ip = g.alpha * internal::AAt(g, i, p);
      if (g.tb == tensor::Trans::kNo) {
        const float* __restrict b_row = g.b + p * g.ldb;
        for (int64_t j = 0; j < g.n; ++j) c_row[j] += a_ip * b_row[j];
      } else {
        for (int64_t j = 0; j < g.n; ++j) c_row[j] += a_ip * g.b[j * g.ldb + p];
      }
    }
    internal::EpilogueRow(g.bias, g.act, c_row, g.n);
  }
}

}  // namespace tt::accel
