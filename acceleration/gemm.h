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
// `isa` selects the micro-kernel; it must be supported (TT_CHECK).
void GemmPacked(const GemmArgs& args, Isa isa);

// Below this many FLOPs (2*M*N*K) GemmThreaded stays on one thread. Measured on the
// 2-vCPU Sapphire Rapids VM (gemm_report, square sizes, 2 threads over 1 from medians,
// range over six quiet runs): 0.75-0.80x at 128^3, 0.95-0.99x at 160^3 (8.2 MFLOP),
// 1.06-1.13x at 192^3 (14.2 MFLOP), 1.42-1.53x at 256^3. 12 MFLOP (about 182^3) sits
// just past the crossover. the module README (GEMM ladder section) has the table.
inline constexpr double kGemmThreadedMinFlops = 12.0e6;

// GemmPacked with the M blocks (and N, when M is small) split over `pool`, when
// 2*M*N*K >= min_flops and the pool has 2 or more threads; otherwise exactly GemmPacked
// on the calling thread (pool may be nullptr). min_flops = 0 always splits (to measure
// the crossover). Results are bitwise equal to GemmPacked's: the split decides which
// thread computes a C tile, not the order of its sums.
void GemmThreaded(const GemmArgs& args, Isa isa, ThreadPool* pool,
                  double min_flops = kGemmThreadedMinFlops);

// The fastest path for this machine: GemmThreaded on DefaultThreadPool() with
// ActiveIsa().
void GemmFast(const GemmArgs& args);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_GEMM_H_
