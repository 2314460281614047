// F32Gemm4x8Scalar: the portable micro-kernel (plain C++, no intrinsics, no -m flags).
//
// A 4 x 8 tile of C kept in 32 local accumulators: each step p loads 4 values of A and
// 8 of B and does 32 multiply-adds, so every value loaded is used 8 (A) or 4 (B) times
// from a register instead of once from memory as in GemmBlocked. The compiler keeps the
// tile in SSE registers (8 x 4 floats) and vectorizes the j loop; 4 x 8 is about what
// the 16 xmm registers of baseline x86-64 hold with room for the operands.
#include "acceleration/internal/gemm_util.h"
#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {

void F32Gemm4x8Scalar(const GemmUkernelArgs& u) {
  constexpr int kMr = 4, kNr = 8;
  float acc[kMr][kNr] = {};
  const float* __restrict a = u.a;
  const float* __restrict b = u.b;
  for (int64_t p = 0; p < u.kc; ++p) {
    for (int r = 0; r < kMr; ++r) {
      for (int j = 0; j < kNr; ++j) acc[r][j] += a[r] * b[j];
    }
    a += kMr;
    b += kNr;
  }
  for (int r = 0; r < u.m; ++r) {
    float* c = u.c + r * u.ldc;
    for (int j = 0; j < u.n; ++j) c[j] = acc[r][j] + (u.beta == 0.0f ? 0.0f : u.beta * c[j]);
    // The row was just written: the epilogue runs on it while it is in L1.
    EpilogueRow(u.bias, u.act, c, u.n);
  }
}

}  // namespace tt::accel::internal
