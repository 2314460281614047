// The AVX2+FMA GEMM epilogue pieces, shared by the kernels of the f32_gemm_avx2 library
// (the 6x16 micro-kernel and the small-M kernel): the column mask of an edge tile, the
// vectorized GELU and the activation switch. Include only from files compiled with
// -mavx2 -mfma (this header is private to that library).
#ifndef TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX2_H_
#define TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX2_H_

#include <immintrin.h>

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel::internal::avx2 {

// exp(t), t clamped to [-87, 88], ~2 ulp: t = n ln2 + r, Taylor series of degree 7 for
// exp(r), 2^n built in the exponent bits (n is in [-126, 127] after the clamp).
inline __m256 Exp(__m256 t) {
  t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), t);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// GELU as x / (1 + exp(-2z)) (see the AVX-512 epilogue for why this form).
inline __m256 Gelu(__m256 x) {
  const __m256 x2 = _mm256_mul_ps(x, x);
  const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(x2, _mm256_set1_ps(0.044715f)), x, x);
  const __m256 e = Exp(_mm256_mul_ps(inner, _mm256_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 Activate(__m256 v, tensor::Activation act) {
  switch (act) {
    case tensor::Activation::kNone:
      return v;
    case tensor::Activation::kRelu:
      return _mm256_max_ps(v, _mm256_setzero_ps());
    case tensor::Activation::kGelu:
      return Gelu(v);
  }
  return v;
}

// All-ones in lanes j < count, zero elsewhere (the mask vmaskmovps wants).
inline __m256i FirstLanes(int64_t count) {
  const int clamped = count >= 8 ? 8 : count <= 0 ? 0 : static_cast<int>(count);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(clamped),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace tt::accel::internal::avx2

#endif  // TT_ACCELERATION_KERNELS_F32_GEMM_EPILOGUE_AVX2_H_
