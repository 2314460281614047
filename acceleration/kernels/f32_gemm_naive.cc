// GemmNaive: the textbook triple loop, i-j-k.
//
// C(i,j) = alpha * sum_p A(i,p) * B(p,j) + beta * C(i,j): one dot product per output.
// Why it is slow: the innermost loop walks B down a column, so consecutive iterations
// touch addresses N floats apart; every B load is a different cache line (and, for
// large N, a different page), each used for one float out of sixteen. And the single
// running sum is a chain of dependent adds the compiler must not reorder (float addition
// is not associative), so there is no vectorization either.
#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_util.h"

namespace tt::accel {

void GemmNaive(const GemmArgs& g) {
  CheckGemmArgs(g, "GemmNaive");
  for (int64_t i = 0; i < g.m; ++i) {
    float* c_row = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < g.k; ++p) sum += internal::AAt(g, i, p) * internal::BAt(g, p, j);
      // beta == 0: C is not read (it may hold NaN).
      c_row[j] = g.alpha * sum + (g.beta == 0.0f ? 0.0f : g.beta * c_row[j]);
    }
    internal::EpilogueRow(g.bias, g.act, c_row, g.n);
  }
}

}  // namespace tt::accel
