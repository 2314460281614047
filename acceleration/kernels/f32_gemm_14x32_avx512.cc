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
#include <immintrin.h>

#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

// exp(t) for t in [-87, 88] (inputs are clamped there), within ~2 ulp: t = n ln2 + r,
// |r| <= ln2/2, exp(r) by its Taylor series to degree 7 (the first omitted term,
// (ln2/2)^8/8!, is below 1e-8), times 2^n by scalef.
inline __m512 ExpAvx512(__m512 t) {
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in a high part with few mantissa bits (n * hi is exact) and the rest.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), t);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// GELU (tanh approximation) without a tanh: 0.5 x (1 + tanh(z)) = x * sigmoid(2z)
// = x / (1 + exp(-2z)), z = sqrt(2/pi) (x + 0.044715 x^3). Unlike 1 + tanh(z), this does
// not cancel for negative x, so it is at least as accurate as the scalar reference.
inline __m512 GeluAvx512(__m512 x) {
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(x2, _mm512_set1_ps(0.044715f)), x, x);
  const __m512 e = ExpAvx512(_mm512_mul_ps(inner, _mm512_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 Activate(__m512 v, tensor::Activation act) {
  switch (act) {
    case tensor::Activation::kNone:
      return v;
    case tensor::Activation::kRelu:
      return _mm512_max_ps(v, _mm512_setzero_ps());
    case tensor::Activation::kGelu:
      return GeluAvx512(v);
  }
  return v;
}

inline __mmask16 FirstLanes(int count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
         : count <= 0 ? static_cast<__mmask16>(0)
                      : static_cast<__mmask16>((1u << count) - 1);
}

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
