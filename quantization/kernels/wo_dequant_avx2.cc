// Panel dequantization, AVX2+FMA: 8 columns per instruction group (vpmovsxbd +
// vcvtdq2ps for int8; vpmovzxbd, AND/shift, minus 8, vcvtdq2ps for int4), times the
// scale, stored to the scratch panel the f32 GEMM reads.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {
namespace {

inline void Store(float* dst, int64_t col, int64_t cols, __m256 v) {
  if (col + 8 <= cols) {
    _mm256_storeu_ps(dst + col, v);
  } else if (col < cols) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::copy(tmp, tmp + (cols - col), dst + col);
  }
}

}  // namespace

void WoQ8DequantAvx2(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                     const float* scale, float* out, int64_t ldo) {
  for (int64_t p = 0; p < k; ++p) {
    const int8_t* row = panel + p * pw;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; c += 8) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + c));
      const __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
      Store(dst, c, cols, _mm256_mul_ps(w, _mm256_loadu_ps(scale + c)));
    }
  }
}

void WoQ4DequantAvx2(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                     const float* scales, const uint8_t* panel, float* out, int64_t ldo) {
  const __m256i fifteen = _mm256_set1_epi32(15);
  const __m256i eight = _mm256_set1_epi32(8);
  for (int64_t p = 0; p < k; ++p) {
    const uint8_t* row = panel + p * pw / 2;
    const float* s = scales + p * nb;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; c += kWoChunk) {
      const __m256 s_lo = _mm256_set1_ps(s[block[c / 16]]);
      const __m256 s_hi = _mm256_set1_ps(s[block[c / 16 + 1]]);
      for (int half = 0; half < 2; ++half) {
        const __m256i b = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + c / 2 + 8 * half)));
        const __m256 lo =
            _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b, fifteen), eight));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 4), eight));
        Store(dst, c + 8 * half, cols, _mm256_mul_ps(lo, s_lo));
        Store(dst, c + 16 + 8 * half, cols, _mm256_mul_ps(hi, s_hi));
      }
    }
  }
}

}  // namespace tt::quant::kernels
