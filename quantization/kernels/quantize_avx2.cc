// Quantize / dequantize, AVX2: 16 values per step (two ymm registers of floats, one xmm of
// bytes), the last n % 16 through the scalar element functions. The vector steps are the
// reference's operations in vector form, so the results equal QuantizeOne / DequantizeOne
// bit for bit.
//   quantize:   vmulps, vmaxps, vminps, vroundps (nearest even), vcvtps2dq (exact: the
//               value is integral), vpaddd, then vpackssdw + vpermq + vpacksswb/vpackuswb
//               narrow 16 int32 to 16 bytes (no saturation happens: already in range)
//   dequantize: vpmovsxbd / vpmovzxbd, vpsubd, vcvtdq2ps, vmulps
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "quantization/kernels/quantize_kernels.h"

namespace tt::quant::kernels {
namespace {

template <typename T>
void Quantize(const float* x, int64_t n, float inv_scale, int32_t zp, T* out) {
  constexpr int32_t kQMin = std::is_signed_v<T> ? -128 : 0;
  constexpr int32_t kQMax = kQMin + 255;
  const __m256 vinv = _mm256_set1_ps(inv_scale);
  const __m256 vlo = _mm256_set1_ps(static_cast<float>(kQMin - zp));
  const __m256 vhi = _mm256_set1_ps(static_cast<float>(kQMax - zp));
  const __m256i vzp = _mm256_set1_epi32(zp);
  auto quantize8 = [&](__m256 v) {
    __m256 y = _mm256_mul_ps(v, vinv);
    y = _mm256_max_ps(y, vlo);  // NaN -> vlo, like the reference
    y = _mm256_min_ps(y, vhi);
    y = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_add_epi32(_mm256_cvtps_epi32(y), vzp);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = quantize8(_mm256_loadu_ps(x + i));
    const __m256i b = quantize8(_mm256_loadu_ps(x + i + 8));
    // packs works within 128-bit lanes: [a0..3 b0..3 | a4..7 b4..7]; vpermq puts the
    // 64-bit quarters back in order: [a0..3 a4..7 | b0..3 b4..7].
    const __m256i ab16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    const __m128i lo = _mm256_castsi256_si128(ab16);
    const __m128i hi = _mm256_extracti128_si256(ab16, 1);
    const __m128i bytes = std::is_signed_v<T> ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), bytes);
  }
  for (; i < n; ++i) out[i] = static_cast<T>(QuantizeOne(x[i], inv_scale, zp, kQMin, kQMax));
}

template <typename T>
void Dequantize(const T* q, int64_t n, float scale, int32_t zp, float* out) {
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256i vzp = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    const __m256i wide =
        std::is_signed_v<T> ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
    const __m256 centered = _mm256_cvtepi32_ps(_mm256_sub_epi32(wide, vzp));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(vscale, centered));
  }
  for (; i < n; ++i) out[i] = DequantizeOne(q[i], scale, zp);
}

}  // namespace

void QuantizeS8Avx2(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out) {
  Quantize(x, n, inv_scale, zp, out);
}

void QuantizeU8Avx2(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out) {
  Quantize(x, n, inv_scale, zp, out);
}

void DequantizeS8Avx2(const int8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  Dequantize(q, n, scale, zp, out);
}

void DequantizeU8Avx2(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  Dequantize(q, n, scale, zp, out);
}

}  // namespace tt::quant::kernels
