// Quantize / dequantize, AVX-512: 64 or 16 floats per step, the last partial step under
// a mask (no scalar tail). Every operation is the reference's in vector form, with the same
// operand order where it matters (maxps/minps return their second operand for a NaN), so
// the results equal QuantizeOne / DequantizeOne bit for bit.
//   quantize:   vmulps, vmaxps, vminps, vcvtps2dq {rn-sae}, vpaddd, then vpackssdw +
//               vpacksswb/vpackuswb + vpermd (64 values) or vpmovdb (16; truncates: the
//               value is already in the type's range)
//   dequantize: vpmovsxbd / vpmovzxbd, vpsubd, vcvtdq2ps, vmulps
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "quantization/kernels/quantize_kernels.h"

namespace tt::quant::kernels {
namespace {

inline __mmask16 TailMask(int64_t remaining) {
  return static_cast<__mmask16>((1u << remaining) - 1u);  // remaining in [1, 15]
}

// T = int8_t or uint8_t.
template <typename T>
void Quantize(const float* x, int64_t n, float inv_scale, int32_t zp, T* out) {
  constexpr int32_t kQMin = std::is_signed_v<T> ? -128 : 0;
  constexpr int32_t kQMax = kQMin + 255;
  const __m512 vinv = _mm512_set1_ps(inv_scale);
  const __m512 vlo = _mm512_set1_ps(static_cast<float>(kQMin - zp));
  const __m512 vhi = _mm512_set1_ps(static_cast<float>(kQMax - zp));
  const __m512i vzp = _mm512_set1_epi32(zp);
  // 16 floats -> 16 int32 in [kQMin, kQMax].
  auto quantize16 = [&](__m512 v) {
    __m512 y = _mm512_mul_ps(v, vinv);
    y = _mm512_max_ps(y, vlo);
    y = _mm512_min_ps(y, vhi);
    // Round to nearest even by the instruction's own rounding control, not MXCSR's.
    const __m512i r = _mm512_cvt_roundps_epi32(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_add_epi32(r, vzp);
  };
  int64_t i = 0;
  // 64 values per step, narrowed with two rounds of saturating packs (in range already, so
  // they only narrow) instead of four vpmovdb, which cost two shuffle uops each. The packs
  // work inside each 128-bit lane; lane L ends up holding the dwords [a_L b_L c_L d_L]
  // (a_L = bytes 4L..4L+3 of a), and one vpermd puts them in order a_0..a_3 b_0..d_3.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (; i + 64 <= n; i += 64) {
    const __m512i a = quantize16(_mm512_loadu_ps(x + i));
    const __m512i b = quantize16(_mm512_loadu_ps(x + i + 16));
    const __m512i c = quantize16(_mm512_loadu_ps(x + i + 32));
    const __m512i d = quantize16(_mm512_loadu_ps(x + i + 48));
    const __m512i ab = _mm512_packs_epi32(a, b);
    const __m512i cd = _mm512_packs_epi32(c, d);
    const __m512i abcd =
        std::is_signed_v<T> ? _mm512_packs_epi16(ab, cd) : _mm512_packus_epi16(ab, cd);
    _mm512_storeu_si512(out + i, _mm512_permutexvar_epi32(order, abcd));
  }
  for (; i + 16 <= n; i += 16) {
    const __m512i q = quantize16(_mm512_loadu_ps(x + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(q));
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    const __m512i q = quantize16(_mm512_maskz_loadu_ps(m, x + i));
    _mm512_mask_cvtepi32_storeu_epi8(out + i, m, q);
  }
}

template <typename T>
__m512i Widen(__m128i bytes) {
  return std::is_signed_v<T> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

template <typename T>
void Dequantize(const T* q, int64_t n, float scale, int32_t zp, float* out) {
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512i vzp = _mm512_set1_epi32(zp);
  auto dequantize16 = [&](__m128i bytes) {
    const __m512i centered = _mm512_sub_epi32(Widen<T>(bytes), vzp);
    return _mm512_mul_ps(vscale, _mm512_cvtepi32_ps(centered));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i));
    _mm512_storeu_ps(out + i, dequantize16(bytes));
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(out + i, m, dequantize16(_mm_maskz_loadu_epi8(m, q + i)));
  }
}

}  // namespace

void QuantizeS8Avx512(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out) {
  Quantize(x, n, inv_scale, zp, out);
}

void QuantizeU8Avx512(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out) {
  Quantize(x, n, inv_scale, zp, out);
}

void DequantizeS8Avx512(const int8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  Dequantize(q, n, scale, zp, out);
}

void DequantizeU8Avx512(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  Dequantize(q, n, scale, zp, out);
}

}  // namespace tt::quant::kernels
