// The small-M kernels: a GEMM with a few rows (M = 1..7: a batch-1 Linear, a short
// sequence) computed without packing. Internal to the acceleration module; GemmSmallM
// (gemm.h) prepares A and splits the work, these kernels do the arithmetic.
//
// Why a separate kernel: with M rows the product does 2*M*N*K FLOPs on K*N values of B,
// so at M = 1 every B value is used once. Packing B (reading and writing all of it) would
// cost as much as the product, and the 14 x 32 micro-kernel would compute 14 rows to use
// one. Instead B is streamed once, straight from where it is stored:
//
//   B stored (K,N), tb == kNo ("broadcast A, stream B", the GEMV of the README):
//     for each block of columns j0 .. j0 + W:          W = up to 256 columns
//       acc[r][v] = 0                                   M x W/16 zmm in registers
//       for p < K:                                      row p of B: W contiguous floats
//         load B(p, j0 .. j0 + W) as W/16 vectors
//         for r < M: acc[r][v] += broadcast(A(r, p)) * B vector v
//       C(r, block) = act(acc[r] + beta * C(r, block) + bias(block))
//
//   B stored (N,K), tb == kYes (C(r, j) is the dot product of row r of A with row j of B):
//     for each group of 4 rows of B (in L1 while every row group of A uses it):
//       for each group of up to 4 rows of A:
//         acc[r][q] = 0; for p < K step 16: acc[r][q] += A(r, p..p+15) * B(j+q, p..p+15)
//         C(r, j+q) = act(sum of the 16 lanes of acc[r][q] + beta * C + bias)
//
// Each C element is one chain of FMAs over p (one per lane for the dot products), so
// where a column sits in a block, and which thread computes it, never changes its value:
// results are bitwise the same for any split of the columns.
#ifndef TT_ACCELERATION_KERNELS_F32_GEMM_SMALLM_H_
#define TT_ACCELERATION_KERNELS_F32_GEMM_SMALLM_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel::internal {

// Rows per kernel call: the AVX-512 tile of 7 rows x 4 vectors fills 28 of the 32 zmm
// registers (the rest hold B and the broadcast A value).
inline constexpr int kSmallMMaxRows = 7;

// C(m, n) = act(A(m, k) op(B)(k, n) + beta * C + bias), all row-major:
struct GemmSmallMArgs {
  int m = 0;               // rows of A and C, 1 .. kSmallMMaxRows
  int64_t n = 0, k = 0;    // n >= 1, k >= 1
  const float* a = nullptr;  // A (m, k), row stride lda, alpha already applied
  int64_t lda = 0;
  const float* b = nullptr;  // B (k, n) with row stride ldb, or (n, k) when tb == kYes
  int64_t ldb = 0;
  tensor::Trans tb = tensor::Trans::kNo;
  float* c = nullptr;  // C (m, n), row stride ldc
  int64_t ldc = 0;
  float beta = 0.0f;             // 0: C is not read (it may hold NaN)
  const float* bias = nullptr;   // n values, or nullptr
  tensor::Activation act = tensor::Activation::kNone;
};

using GemmSmallMFn = void (*)(const GemmSmallMArgs& args);

// Named <dtype>_<op>_<isa> like their files (f32_gemm_smallm_<isa>.cc). The scalar one
// is the plain loops (also the reference of the tests); call an ISA's kernel only when
// IsaSupported() says so.
void F32GemmSmallMScalar(const GemmSmallMArgs& args);
void F32GemmSmallMAvx2Fma(const GemmSmallMArgs& args);
void F32GemmSmallMAvx512(const GemmSmallMArgs& args);

}  // namespace tt::accel::internal

#endif  // TT_ACCELERATION_KERNELS_F32_GEMM_SMALLM_H_
