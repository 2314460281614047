// F32Gemm6x16Avx2Fma: the AVX2+FMA micro-kernel. Compiled with -mavx2 -mfma in its own
// library; called only when IsaSupported(Isa::kAvx2Fma).
//
// Register budget (16 ymm registers of 8 floats):
//   12  accumulators: the 6 x 16 tile of C, two ymm per row
//    2  the 16 values of B for step p
//    1  the broadcast A value of the current row
//    1  spare
// Per step p: 2 loads + 6 broadcasts feed 12 FMAs (0.67 loads per FMA). 12 accumulators
// cover the 2 ports x 4 cycles = 8 FMAs that must be in flight; a 6 x 16 tile is the
// largest that fits 16 registers with two B vectors (the classic Haswell BLIS shape).
// Edge columns use vmaskmovps with a lane mask; edge rows are computed and not stored.
// The epilogue (GELU, masks) is shared with the small-M kernel: f32_gemm_epilogue_avx2.h.
#include <immintrin.h>

#include "acceleration/kernels/f32_gemm_epilogue_avx2.h"
#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

using avx2::Activate;
using avx2::FirstLanes;

}  // namespace

void F32Gemm6x16Avx2Fma(const GemmUkernelArgs& u) {
  __m256 acc0[kMr], acc1[kMr];
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();

  const float* a = u.a;
  const float* b = u.b;
  for (int64_t p = 0; p < u.kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMr;
    b += kNr;
  }

  const __m256i k0 = FirstLanes(u.n), k1 = FirstLanes(u.n - 8);
  const bool has_bias = u.bias != nullptr;
  const __m256 bias0 = has_bias ? _mm256_maskload_ps(u.bias, k0) : _mm256_setzero_ps();
  const __m256 bias1 = has_bias ? _mm256_maskload_ps(u.bias + 8, k1) : _mm256_setzero_ps();
  const __m256 beta = _mm256_set1_ps(u.beta);
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) {
    if (r >= u.m) break;
    float* c = u.c + r * u.ldc;
    __m256 v0 = acc0[r], v1 = acc1[r];
    if (u.beta != 0.0f) {  // beta == 0: C is not read (it may hold NaN)
      v0 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c, k0), v0);
      v1 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c + 8, k1), v1);
    }
    if (has_bias) {
      v0 = _mm256_add_ps(v0, bias0);
      v1 = _mm256_add_ps(v1, bias1);
    }
    _mm256_maskstore_ps(c, k0, Activate(v0, u.act));
    _mm256_maskstore_ps(c + 8, k1, Activate(v1, u.act));
  }
}

}  // namespace tt::accel::internal
