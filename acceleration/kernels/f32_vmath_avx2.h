// Vectorized float math on 8 lanes (AVX2 + FMA): the same formulas as
// f32_vmath_avx512.h, for the AVX2 kernel files only (compiled with -mavx2 -mfma).
//
// `static inline` on purpose, as in f32_vmath_avx512.h: each kernel file gets its own
// internal copy, which the linker cannot hand to code running on a CPU without AVX2.
// AVX2 has no masks, getexp/getmant or scalef, so selections are blends of compare
// results, log splits x with integer bit operations, and exp scales by 2^k in two
// exponent-bit multiplies (each factor normal, the second multiply rounds once), which
// gives exactly the result of AVX-512's scalef.
#ifndef TT_ACCELERATION_KERNELS_F32_VMATH_AVX2_H_
#define TT_ACCELERATION_KERNELS_F32_VMATH_AVX2_H_

#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/f32_vmath_constants.h"

namespace tt::accel::kernels::avx2 {

static inline __m256 Splat(float v) { return _mm256_set1_ps(v); }
static inline __m256i SplatI(int v) { return _mm256_set1_epi32(v); }

static inline __m256 Abs(__m256 x) { return _mm256_andnot_ps(Splat(-0.0f), x); }
static inline __m256 SignBit(__m256 x) { return _mm256_and_ps(x, Splat(-0.0f)); }
static inline __m256 Less(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
// mask ? b : a, per lane (mask lanes are all-ones or all-zeros).
static inline __m256 Select(__m256 a, __m256 b, __m256 mask) {
  return _mm256_blendv_ps(a, b, mask);
}

// Clamps to [lo, hi]; NaN passes (MAXPS/MINPS return the second operand on NaN).
static inline __m256 ClampKeepNan(__m256 x, float lo, float hi) {
  return _mm256_min_ps(Splat(hi), _mm256_max_ps(Splat(lo), x));
}

// 2^k for integral k in [-75, 64], as exponent bits.
static inline __m256 Pow2(__m256i k) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, SplatI(127)), 23));
}

static inline __m256 Exp(__m256 x) {
  x = ClampKeepNan(x, kExpMin, kExpMax);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, Splat(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, Splat(kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, Splat(kLn2Lo), r);
  __m256 q = _mm256_fmadd_ps(Splat(kExpC6), r, Splat(kExpC5));
  q = _mm256_fmadd_ps(q, r, Splat(kExpC4));
  q = _mm256_fmadd_ps(q, r, Splat(kExpC3));
  q = _mm256_fmadd_ps(q, r, Splat(kExpC2));
  const __m256 r2 = _mm256_mul_ps(r, r);
  const __m256 p = _mm256_add_ps(_mm256_fmadd_ps(r2, q, r), Splat(1.0f));
  // k in [-150, 128] splits into two halves in [-75, 64]; NaN lanes (k = NaN converts to
  // INT_MIN) scale garbage, but p is NaN there and NaN times anything stays NaN.
  const __m256i ki = _mm256_cvtps_epi32(k);
  const __m256i k1 = _mm256_srai_epi32(ki, 1);
  const __m256i k2 = _mm256_sub_epi32(ki, k1);
  return _mm256_mul_ps(_mm256_mul_ps(p, Pow2(k1)), Pow2(k2));
}

static inline __m256 Log(__m256 x) {
  // Denormals: scale by 2^23 into the normal range first, and take 23 off the exponent.
  const __m256 denormal = Less(x, Splat(1.17549435e-38f));  // FLT_MIN
  const __m256 xs = Select(x, _mm256_mul_ps(x, Splat(8388608.0f)), denormal);
  const __m256i bits = _mm256_castps_si256(xs);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), SplatI(127)));
  e = Select(e, _mm256_sub_ps(e, Splat(23.0f)), denormal);
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, SplatI(0x007fffff)),
                                                 SplatI(0x3f800000)));  // [1, 2)
  const __m256 big = _mm256_cmp_ps(m, Splat(kSqrt2), _CMP_GE_OQ);
  m = Select(m, _mm256_mul_ps(m, Splat(0.5f)), big);
  e = Select(e, _mm256_add_ps(e, Splat(1.0f)), big);
  const __m256 f = _mm256_sub_ps(m, Splat(1.0f));
  const __m256 s = _mm256_div_ps(f, _mm256_add_ps(f, Splat(2.0f)));
  const __m256 z = _mm256_mul_ps(s, s);
  __m256 poly = _mm256_fmadd_ps(Splat(kLogC2), z, Splat(kLogC1));
  poly = _mm256_fmadd_ps(poly, z, Splat(kLogC0));
  const __m256 log_m = _mm256_sub_ps(f, _mm256_mul_ps(s, _mm256_fnmadd_ps(z, poly, f)));
  __m256 y = _mm256_fmadd_ps(e, Splat(kLn2Hi), _mm256_fmadd_ps(e, Splat(kLn2Lo), log_m));
  // The bit split knows no special values: fix 0, negatives, +inf and NaN afterwards.
  const __m256 zero = _mm256_setzero_ps();
  y = Select(y, Splat(__builtin_inff()), _mm256_cmp_ps(x, Splat(__builtin_inff()), _CMP_EQ_OQ));
  y = Select(y, Splat(-__builtin_inff()), _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));
  // NaN or negative: x >= 0 is false.
  return Select(y, Splat(__builtin_nanf("")), _mm256_cmp_ps(x, zero, _CMP_NGE_UQ));
}

static inline __m256 Tanh(__m256 x) {
  const __m256 ax = Abs(x);
  const __m256 z = _mm256_mul_ps(ax, ax);
  __m256 poly = _mm256_fmadd_ps(Splat(kTanhC4), z, Splat(kTanhC3));
  poly = _mm256_fmadd_ps(poly, z, Splat(kTanhC2));
  poly = _mm256_fmadd_ps(poly, z, Splat(kTanhC1));
  poly = _mm256_fmadd_ps(poly, z, Splat(kTanhC0));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(ax, z), poly, ax);
  const __m256 sat = ClampKeepNan(ax, 0.0f, kTanhSaturate);
  const __m256 e = Exp(_mm256_add_ps(sat, sat));
  const __m256 big =
      _mm256_sub_ps(Splat(1.0f), _mm256_div_ps(Splat(2.0f), _mm256_add_ps(e, Splat(1.0f))));
  return _mm256_or_ps(Select(big, small, Less(ax, Splat(kTanhSmall))), SignBit(x));
}

static inline __m256 Sigmoid(__m256 x) {
  const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), Abs(x)));
  const __m256 numerator = Select(Splat(1.0f), e, Less(x, _mm256_setzero_ps()));
  return _mm256_div_ps(numerator, _mm256_add_ps(Splat(1.0f), e));
}

static inline __m256 GeluExpMinusAbs2u(__m256 v) {
  const __m256 two_u =
      _mm256_mul_ps(v, _mm256_fmadd_ps(Splat(kGeluB), _mm256_mul_ps(v, v), Splat(kGeluA)));
  return Exp(_mm256_sub_ps(_mm256_setzero_ps(), Abs(two_u)));
}

static inline __m256 Gelu(__m256 v) {
  const __m256 e = GeluExpMinusAbs2u(v);
  const __m256 numerator = Select(v, _mm256_mul_ps(v, e), Less(v, _mm256_setzero_ps()));
  return _mm256_div_ps(numerator, _mm256_add_ps(Splat(1.0f), e));
}

static inline __m256 GeluDerivative(__m256 v) {
  const __m256 e = GeluExpMinusAbs2u(v);
  const __m256 d = _mm256_div_ps(Splat(1.0f), _mm256_add_ps(Splat(1.0f), e));
  const __m256 s = Select(d, _mm256_mul_ps(d, e), Less(v, _mm256_setzero_ps()));
  const __m256 s1ms = _mm256_mul_ps(_mm256_mul_ps(e, d), d);
  const __m256 du = _mm256_fmadd_ps(Splat(kGeluDu2), _mm256_mul_ps(v, v), Splat(kSqrt2OverPi));
  return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_add_ps(v, v), s1ms), du, s);
}

// The lane mask for the first n < 8 lanes, for maskload/maskstore (which never touch
// memory under a zero lane, so tails read and write nothing past the array).
static inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace tt::accel::kernels::avx2

#endif  // TT_ACCELERATION_KERNELS_F32_VMATH_AVX2_H_
