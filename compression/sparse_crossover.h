// When does a sparse kernel beat a dense one? The measured answer for one layer shape.
//
// A dense kernel's time does not depend on how many weights are zero; a sparse one's
// falls with the nonzeros but pays per nonzero for its indexing (an index load and a
// gather or a broadcast per nonzero instead of a streamed, register-blocked FMA). So
// there is a crossover sparsity below which dense wins. It depends on the batch: at batch
// 1 the dense kernel is a GEMV limited by reading the weights, which the sparse one
// reads 5x less of at 90%; at batch 64 the dense GEMM reuses each weight 64 times
// from registers at near peak FLOPs, and the sparse kernel must win on work alone.
//
//   TT_ASSIGN_OR_RETURN(auto rows, tt::compress::MeasureSparseCrossover(
//       784, 256, {0.5, 0.7, 0.8, 0.9, 0.95}, {1, 64}, /*min_seconds=*/0.2));
//   std::puts(tt::compress::FormatSparseCrossoverTable(rows).c_str());
//   double s1 = tt::compress::CrossoverSparsity(rows, 1);   // e.g. 0.55
//
// Method: for each sparsity a random normal (in, out) weight is magnitude-pruned to
// exactly that sparsity (the smallest |w| set to zero) and a random normal (batch, in)
// input is drawn (fixed seeds). The dense side is the accelerated backend's Linear:
// tt::tensor::LinearAct(x, W, b, ReLU) under the "simd" backend (acceleration's packed
// GEMM or its small-row path, fused bias + ReLU, one thread), on the pruned W. The sparse
// side is SparseLinear::Forward(x, ReLU) on the same weights (one thread). Both are timed
// interleaved with tt::prof::MeasureInterleaved (medians), so the ratio holds even when
// the machine's speed drifts. A sample is k back-to-back calls (the same k for both, so
// that the slower one's sample takes about 30 us) and the row reports the time per call:
// the steady state of a layer that runs again and again, with its weights in cache.
// Timing single calls alternately instead would hand each kernel the cache the other
// left behind: the dense call streams 0.8 MB of weights (784x256) through L2 and evicts
// part of the sparse layout, which then costs about 0.7 us more at batch 1 (measured),
// while the sparse call leaves the dense weights in place.
#ifndef TT_COMPRESSION_SPARSE_CROSSOVER_H_
#define TT_COMPRESSION_SPARSE_CROSSOVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tt::compress {

struct SparseCrossoverRow {
  double sparsity = 0.0;  // fraction of zero weights
  int64_t batch = 0;      // rows of x
  double dense_us = 0.0, sparse_us = 0.0;  // medians of one call
  int64_t calls_per_sample = 1;           // back-to-back calls in one timed sample
  bool busy = false;      // other processes competed for the CPU (profiling's MachineLoad)

  // dense / sparse: > 1 when the sparse kernel is faster.
  double speedup() const { return dense_us / sparse_us; }
};

// One row per (sparsity, batch), sparsities outer, in the given order. Each pair is
// measured for at least `min_seconds` (MeasureOptions::min_time_s; at most 20x that).
// InvalidArgument for in or out < 1, a sparsity outside [0, 1), a batch < 1, empty
// lists, or min_seconds not in (0, 60].
absl::StatusOr<std::vector<SparseCrossoverRow>> MeasureSparseCrossover(
    int64_t in, int64_t out, const std::vector<double>& sparsities,
    const std::vector<int64_t>& batches, double min_seconds);

// The sparsity at which the sparse kernel becomes faster for `batch`: over that batch's
// rows sorted by sparsity, the point where speedup crosses 1 for the last time, linearly
// interpolated between the two measured sparsities around it. The lowest measured
// sparsity when sparse wins at all of them (the crossover is at or below it); NaN when
// sparse wins at none (or there are no rows for `batch`).
double CrossoverSparsity(const std::vector<SparseCrossoverRow>& rows, int64_t batch);

// A terminal table: sparsity, batch, dense and sparse microseconds, speedup.
std::string FormatSparseCrossoverTable(const std::vector<SparseCrossoverRow>& rows);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_SPARSE_CROSSOVER_H_
