// Panel dequantization, AVX-512: 16 columns per instruction group, the same conversions
// as the GEMV (vpmovsxbd + vcvtdq2ps for int8; vpmovzxbd + a 16-entry vpermps table for
// int4), times the scale, stored to the scratch panel the f32 GEMM reads.
#include <immintrin.h>

#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {
namespace {

inline void Store(float* dst, int64_t col, int64_t cols, __m512 v) {
  if (col + 16 <= cols) {
    _mm512_storeu_ps(dst + col, v);
  } else if (col < cols) {
    _mm512_mask_storeu_ps(dst + col, static_cast<__mmask16>((1u << (cols - col)) - 1), v);
  }
}

}  // namespace

void WoQ8DequantAvx512(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                       const float* scale, float* out, int64_t ldo) {
  for (int64_t p = 0; p < k; ++p) {
    const int8_t* row = panel + p * pw;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; c += 16) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c));
      const __m512 w = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
      Store(dst, c, cols, _mm512_mul_ps(w, _mm512_loadu_ps(scale + c)));
    }
  }
}

void WoQ4DequantAvx512(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                       const float* scales, const uint8_t* panel, float* out, int64_t ldo) {
  const __m512 lut = _mm512_setr_ps(-8.f, -7.f, -6.f, -5.f, -4.f, -3.f, -2.f, -1.f, 0.f, 1.f,
                                    2.f, 3.f, 4.f, 5.f, 6.f, 7.f);
  for (int64_t p = 0; p < k; ++p) {
    const uint8_t* row = panel + p * pw / 2;
    const float* s = scales + p * nb;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; c += kWoChunk) {
      const __m512i b =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c / 2)));
      const __m512 lo = _mm512_permutexvar_ps(b, lut);
      const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), lut);
      Store(dst, c, cols, _mm512_mul_ps(lo, _mm512_set1_ps(s[block[c / 16]])));
      if (c + 16 < cols) {
        Store(dst, c + 16, cols, _mm512_mul_ps(hi, _mm512_set1_ps(s[block[c / 16 + 1]])));
      }
    }
  }
}

}  // namespace tt::quant::kernels
