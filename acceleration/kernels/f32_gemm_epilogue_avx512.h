// The AVX-512 GEMM epilogue pieces, shared by the kernels of the f32_gemm_avx512 library
// (the 14x32 micro-kernel and the small-M kernel): the column mask of an edge tile, the
// vectorized GELU and the activation switch. Include only from files compiled with
// -mavx512f -mfma (this header is private to that library).
#ifndef TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX512_H_
#define TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX512_H_

#include <immintrin.h>

#include "tensor/backend.h"

namespace tt::accel::internal::avx512 {

// exp(t) for t in [-87, 88] (inputs are clamped there), within ~2 ulp: t = n ln2 + r,
// |r| <= ln2/2, exp(r) by its Taylor series to degree 7 (the first omitted term,
// (ln2/2)^8/8!, is below 1e-8), times 2^n by scalef.
inline __m512 Exp(__m512 t) {
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
inline __m512 Gelu(__m512 x) {
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(x2, _mm512_set1_ps(0.044715f)), x, x);
  const __m512 e = Exp(_mm512_mul_ps(inner, _mm512_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 Activate(__m512 v, tensor::Activation act) {
  switch (act) {
    case tensor::Activation::kNone:
      return v;
    case tensor::Activation::kRelu:
      return _mm512_max_ps(v, _mm512_setzero_ps());
    case tensor::Activation::kGelu:
      return Gelu(v);
  }
  return v;
}

// Lanes 0 .. count-1 set (count clamped to 0..16): the columns of an edge tile.
inline __mmask16 FirstLanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
         : count <= 0 ? static_cast<__mmask16>(0)
                      : static_cast<__mmask16>((1u << count) - 1);
}

}  // namespace tt::accel::internal::avx512

#endif  // TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX512_H_
