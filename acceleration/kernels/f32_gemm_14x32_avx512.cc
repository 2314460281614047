// F32Gemm14x32Avx512: the AVX-512 micro-kernel. Compiled with -mavx512f (and BW/VL/DQ,
// -mfma) in its own library; called only when IsaSupported(Isa::kAvx512).
//
// Register budget (32 zmm registers of 16 floats):
//   28  accumulators: the 14 x 32 tile of C, two zmm per row
//    2  the 32 values of B for step p (two aligned 64-byte loads)
//    1  the broadcast A value of the current row (vbroadcastss)
//    1  spare
// Per step p: 2 loads + 14 broadcasts feed 28 FMAs. Why this shape:
//   - Latency: an FMA takes 4 cycles and two issue per cycle (two 512-bit FMA ports on
//     Sapphire Rapids), so at least 8 independent accumulators must be in flight; 28
//     leave a wide margin.
//   - Loads: 16 loads per 28 FMAs is 0.57 per FMA, under the 2 loads per cycle the core
//     can do alongside 2 FMAs. A wider, shorter tile (6 x 64: 24 FMAs per 10 loads)
//     loads less per FMA but has fewer accumulators, and 64-wide panels waste more on
//     narrow matrices; 14 x 32 is the largest tile the register file holds with
//     NR = 32 (two vectors, so each broadcast feeds two FMAs).
//   - Edges: columns past n are handled with masked loads and stores (__mmask16), rows
//     past m are computed on the packed zero rows and simply not stored.
// The epilogue (GELU, masks) is shared with the small-M kernel: f32_gemm_epilogue_avx512.h.
#include <immintrin.h>

#include "acceleration/kernels/f32_gemm_epilogue_avx512.h"
#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

using avx512::Activate;
using avx512::FirstLanes;

}  // namespace

void F32Gemm14x32Avx512(const GemmUkernelArgs& u) {
  __m512 acc0[kMr], acc1[kMr];  // row r, columns 0..15 and 16..31
#pragma GCC unroll 14
  for (int r = 0; r < kMr; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();

  const float* a = u.a;
  const float* b = u.b;
  for (int64_t p = 0; p < u.kc; ++p) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int r = 0; r < kMr; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMr;
    b += kNr;
  }

  const __mmask16 k0 = FirstLanes(u.n), k1 = FirstLanes(u.n - 16);
  const bool has_bias = u.bias != nullptr;
  const __m512 bias0 = has_bias ? _mm512_maskz_loadu_ps(k0, u.bias) : _mm512_setzero_ps();
  const __m512 bias1 = has_bias ? _mm512_maskz_loadu_ps(k1, u.bias + 16) : _mm512_setzero_ps();
  const __m512 beta = _mm512_set1_ps(u.beta);
#pragma GCC unroll 14
  for (int r = 0; r < kMr; ++r) {
    if (r >= u.m) break;
    float* c = u.c + r * u.ldc;
    __m512 v0 = acc0[r], v1 = acc1[r];
    if (u.beta != 0.0f) {  // beta == 0: C is not read (it may hold NaN)
      v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(k0, c), v0);
      v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(k1, c + 16), v1);
    }
    if (has_bias) {
      v0 = _mm512_add_ps(v0, bias0);
      v1 = _mm512_add_ps(v1, bias1);
    }
    _mm512_mask_storeu_ps(c, k0, Activate(v0, u.act));
    _mm512_mask_storeu_ps(c + 16, k1, Activate(v1, u.act));
  }
}

}  // namespace tt::accel::internal
