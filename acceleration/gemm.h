// The GEMM ladder: one matrix multiply written six ways, each faster for a reason you
// can point at, all with the same contract and all tested against tensor's reference.
//
//   GemmNaive     i-j-k loops: the textbook formula; strides through B by columns.
//   GemmIkj       i-k-j loops: the innermost loop walks rows of B and C, so it
//                 vectorizes and every cache line fetched is used whole.
//   GemmBlocked   i-k-j over tiles that fit the caches: each B tile is reused by many
//                 rows while it is still in L2.
//   GemmPacked    BLIS-style: A and B copied into micro-panels (transposes handled there),
//                 NC/KC/MC blocking sized from L1/L2/L3, and a register-blocked SIMD
//                 micro-kernel per ISA (AVX-512 14x32, AVX2+FMA 6x16, scalar 4x8).
//   GemmSmallM    A few rows (M <= 7, e.g. batch 1): no packing; B streamed once from
//                 where it is stored, an M x (up to 256) block of C in registers.
//                 GemmPacked and GemmThreaded route small M here themselves.
//   GemmThreaded  GemmPacked with the M blocks split over a thread pool and the packed B
//                 block shared; single-threaded below a measured size threshold.
//
//   tt::accel::GemmArgs g;
//   g.m = m; g.n = n; g.k = k;
//   g.a = a; g.lda = k; g.b = b; g.ldb = n; g.c = c; g.ldc = n;  // C = A * B
//   g.bias = bias; g.act = tt::tensor::Activation::kRelu;        // C = relu(A*B + bias)
//   tt::accel::GemmThreaded(g, tt::accel::ActiveIsa(), &tt::accel::DefaultThreadPool());
//
// Files: acceleration/kernels/f32_gemm_<tile>_<isa>.cc hold the kernels (the module README (GEMM ladder section)
// explains the naming, the blocking and the measured numbers).
#ifndef TT_ACCELERATION_GEMM_H_
#define TT_ACCELERATION_GEMM_H_

#include <cstdint>

#include "acceleration/cpu_features.h"
#include "acceleration/thread_pool.h"
#include "tensor/backend.h"

namespace tt::accel {

// C(M,N) = act(alpha * op(A) * op(B) + beta * C + bias), row-major, exactly the contract
// of tensor::Backend::Gemm plus an optional epilogue:
//   - A is stored (M,K) with row stride lda, or (K,M) when ta == kYes; B is stored (K,N)
//     with row stride ldb, or (N,K) when tb == kYes; C is (M,N) with row stride ldc.
//     Row strides are at least the stored row length (TT_CHECK).
//   - beta == 0 means C is not read (it may hold NaN or garbage); beta == 1 accumulates.
//   - bias: N values added to every row after alpha*AB + beta*C, or nullptr.
//   - act: applied last; kGelu is the tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x +
//     0.044715x^3))), as tensor's reference computes it.
//   - M, N or K may be 0: M or N == 0 does nothing; K == 0 gives act(beta*C + bias).
//   - Aliasing: C must not overlap A, B or bias (the result would be undefined).
// Numerics: the paths sum the K products in different orders (and with FMA), so they
// differ from the reference by rounding only; tests bound the error against a double
// precision reference by (K + 2) * 2^-23 * (|alpha| sum_p |a_ip b_pj| + |beta c_ij| +
// |bias_j|), the classic worst-case bound for any summation order.
struct GemmArgs {
  tensor::Trans ta = tensor::Trans::kNo, tb = tensor::Trans::kNo;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 0;
  const float* bias = nullptr;  // N values, added after alpha*AB + beta*C
  tensor::Activation act = tensor::Activation::kNone;
};

// Stops with a message naming the bad field (negative sizes, a row stride shorter than
// its row, a null pointer to a non-empty matrix). Every Gemm* calls it first.
void CheckGemmArgs(const GemmArgs& args, const char* caller);

// The rungs. Each computes the whole contract above; they differ only in speed.
void GemmNaive(const GemmArgs& args);
void GemmIkj(const GemmArgs& args);
void GemmBlocked(const GemmArgs& args);
// `isa` selects the micro-kernel; it must be supported (TT_CHECK). Small M (and
// GemmUsesSmallM's other shapes) run GemmSmallM instead (same contract).
void GemmPacked(const GemmArgs& args, Isa isa);

// Up to this many rows, GemmPacked and GemmThreaded compute the product with GemmSmallM:
// packing B to use each of its values M times costs more than it saves (at M = 1 the
// copy costs as much as the product), and a 14-row micro-kernel tile would be mostly
// padding. Measured crossover: the module README (small-M section).
inline constexpr int64_t kGemmSmallMMaxRows = 7;

// Whether GemmPacked and GemmThreaded hand `args` to GemmSmallM, from crossovers
// measured on this machine (one thread, GemmSmallM / packed time; the module README):
//   - M <= kGemmSmallMMaxRows: always (0.17-0.3 at M = 1..7 against 784x256 weights);
//   - tb == kNo, M <= 16: always (0.4-1.0 for B from 27 KB to 4 MB);
//   - tb == kNo, M <= 32, K >= 64 and B (K x N floats) in half of L2: B re-read from L2
//     by each group of 7 rows beats packing it (0.62-0.80 at B = 0.1-1 MB; at M = 64 the
//     gain shrinks to 0.8-1.0, and B beyond L2 loses: 1.05-1.3);
//   - tb == kYes, N <= 16, K >= 256, any M: dot products with few columns, e.g. a
//     convolution's weight gradient dY (16, 50176) x cols^T (50176, 9), where the
//     packed 32-column tile is at least half padding (0.34-0.9; above 1 below K = 256).
bool GemmUsesSmallM(const GemmArgs& args);

// The small-M rung: op(B) is read once from where it is stored, in blocks of up to 256
// columns whose M x 256 accumulators stay in registers (tb == kYes: 4 x 4 blocks of dot
// products, K in chunks of 512); alpha * op(A) is used in place or copied (M x K
// floats). Any M is correct (rows go in groups of 7, each group streaming B again); it
// is fast for the shapes of GemmUsesSmallM. `isa` must be supported (TT_CHECK).
// Each C element is summed the same way whichever block or thread computes it (one chain
// of FMAs over K, or over each K chunk for tb == kYes), so the result does not depend on
// how the columns are split over threads.
void GemmSmallM(const GemmArgs& args, Isa isa);

// Below this many FLOPs (2*M*N*K) GemmThreaded stays on one thread. Measured on the
// 2-vCPU Sapphire Rapids VM (gemm_report, square sizes, 2 threads over 1 from medians,
// range over six quiet runs): 0.75-0.80x at 128^3, 0.95-0.99x at 160^3 (8.2 MFLOP),
// 1.06-1.13x at 192^3 (14.2 MFLOP), 1.42-1.53x at 256^3. 12 MFLOP (about 182^3) sits
// just past the crossover. the module README (GEMM ladder section) has the table.
inline constexpr double kGemmThreadedMinFlops = 12.0e6;

// GemmPacked with the M blocks (and N, when M is small) split over `pool`, when
// 2*M*N*K >= min_flops and the pool has 2 or more threads; otherwise exactly GemmPacked
// on the calling thread (pool may be nullptr). min_flops = 0 always splits (to measure
// the crossover). GemmUsesSmallM shapes: GemmSmallM, its columns split over the pool
// under the same rule. Results are bitwise equal to GemmPacked's: the split decides
// which thread computes a C tile, not the order of its sums.
void GemmThreaded(const GemmArgs& args, Isa isa, ThreadPool* pool,
                  double min_flops = kGemmThreadedMinFlops);

// The fastest path for this machine: GemmThreaded on DefaultThreadPool() with
// ActiveIsa().
void GemmFast(const GemmArgs& args);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_GEMM_H_
