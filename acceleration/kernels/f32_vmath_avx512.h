// Vectorized float math on 16 lanes (AVX-512F): exp, log, tanh, sigmoid, GELU and its
// derivative. Internal to acceleration's AVX-512 kernel files, which are the only
// translation units compiled with -mavx512f.
//
// Every function here is `static inline`, on purpose: internal linkage gives each kernel
// file its own copy, so the linker can never merge an AVX-512 copy into code that runs on
// a CPU without AVX-512 (which an ordinary inline function used by several translation
// units with different -m flags would allow). For the same reason the AVX kernel files
// use no inline functions or templates from the standard library.
//
// The formulas and constants are in f32_vmath_constants.h; the measured errors in
// the module README (elementwise section). Special values behave like the std:: functions: NaN in, NaN
// out; exp(+-inf) = inf, 0; log(0) = -inf, log(x < 0) = NaN; tanh(+-inf) = +-1.
#ifndef TT_ACCELERATION_KERNELS_F32_VMATH_AVX512_H_
#define TT_ACCELERATION_KERNELS_F32_VMATH_AVX512_H_

#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/f32_vmath_constants.h"

namespace tt::accel::kernels::avx512 {

static inline __m512 Splat(float v) { return _mm512_set1_ps(v); }

// |x| and the sign bit of x, as bit operations (AVX-512DQ has and/xor on floats).
static inline __m512 Abs(__m512 x) { return _mm512_abs_ps(x); }
static inline __m512 SignBit(__m512 x) { return _mm512_and_ps(x, Splat(-0.0f)); }

// Clamps to [lo, hi] and lets NaN through: MAXPS/MINPS return their SECOND operand when
// either is NaN, so x goes second.
static inline __m512 ClampKeepNan(__m512 x, float lo, float hi) {
  return _mm512_min_ps(Splat(hi), _mm512_max_ps(Splat(lo), x));
}

// e^x. k = round(x log2e), r = x - k ln2 (two FMAs, Cody-Waite), e^r by polynomial,
// then scalef multiplies by 2^k with a single rounding, also into the denormal range.
static inline __m512 Exp(__m512 x) {
  x = ClampKeepNan(x, kExpMin, kExpMax);
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, Splat(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, Splat(kLn2Hi), x);
  r = _mm512_fnmadd_ps(k, Splat(kLn2Lo), r);
  __m512 q = _mm512_fmadd_ps(Splat(kExpC6), r, Splat(kExpC5));
  q = _mm512_fmadd_ps(q, r, Splat(kExpC4));
  q = _mm512_fmadd_ps(q, r, Splat(kExpC3));
  q = _mm512_fmadd_ps(q, r, Splat(kExpC2));
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 p = _mm512_add_ps(_mm512_fmadd_ps(r2, q, r), Splat(1.0f));
  return _mm512_scalef_ps(p, k);
}

// log(x). getexp/getmant split x = m 2^e with m in [1, 2) (denormals included); m is
// moved to [sqrt(1/2), sqrt(2)) so that log(m) is small and symmetric around 0.
static inline __m512 Log(__m512 x) {
  __m512 e = _mm512_getexp_ps(x);
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  const __mmask16 big = _mm512_cmp_ps_mask(m, Splat(kSqrt2), _CMP_GE_OQ);
  m = _mm512_mask_mul_ps(m, big, m, Splat(0.5f));
  e = _mm512_mask_add_ps(e, big, e, Splat(1.0f));
  const __m512 f = _mm512_sub_ps(m, Splat(1.0f));  // exact (Sterbenz)
  const __m512 s = _mm512_div_ps(f, _mm512_add_ps(f, Splat(2.0f)));
  const __m512 z = _mm512_mul_ps(s, s);
  __m512 poly = _mm512_fmadd_ps(Splat(kLogC2), z, Splat(kLogC1));
  poly = _mm512_fmadd_ps(poly, z, Splat(kLogC0));
  // log(m) = 2s + s z poly = f - s (f - z poly), since 2s = f - f s. f is exact, and the
  // rounding errors of s only reach the smaller term s (f - z poly).
  const __m512 log_m = _mm512_sub_ps(f, _mm512_mul_ps(s, _mm512_fnmadd_ps(z, poly, f)));
  // e ln2 last, its low part first (e kLn2Hi is exact).
  const __m512 y = _mm512_fmadd_ps(e, Splat(kLn2Hi), _mm512_fmadd_ps(e, Splat(kLn2Lo), log_m));
  // x = 0 gives e = -inf and so y = -inf already; +inf gives +inf, NaN gives NaN. Only
  // negative x (getmant dropped the sign) needs fixing.
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(y, negative, Splat(__builtin_nanf("")));
}

// tanh(x): the odd polynomial below kTanhSmall, 1 - 2 / (e^(2|x|) + 1) above, both on
// |x|; the sign of x is put back last (so tanh(-0) = -0 and NaN keeps its sign).
static inline __m512 Tanh(__m512 x) {
  const __m512 ax = Abs(x);
  const __m512 z = _mm512_mul_ps(ax, ax);
  __m512 poly = _mm512_fmadd_ps(Splat(kTanhC4), z, Splat(kTanhC3));
  poly = _mm512_fmadd_ps(poly, z, Splat(kTanhC2));
  poly = _mm512_fmadd_ps(poly, z, Splat(kTanhC1));
  poly = _mm512_fmadd_ps(poly, z, Splat(kTanhC0));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(ax, z), poly, ax);
  // Saturation: tanh(10) rounds to 1, so clamping |x| there changes no result and keeps
  // e finite; the clamp lets NaN through to the result.
  const __m512 sat = ClampKeepNan(ax, 0.0f, kTanhSaturate);
  const __m512 e = Exp(_mm512_add_ps(sat, sat));
  const __m512 big =
      _mm512_sub_ps(Splat(1.0f), _mm512_div_ps(Splat(2.0f), _mm512_add_ps(e, Splat(1.0f))));
  const __mmask16 use_small = _mm512_cmp_ps_mask(ax, Splat(kTanhSmall), _CMP_LT_OQ);
  return _mm512_or_ps(_mm512_mask_mov_ps(big, use_small, small), SignBit(x));
}

// sigmoid(x) = 1 / (1 + e^-x), evaluated with e = e^-|x| <= 1 as 1 / (1 + e) for x >= 0
// and e / (1 + e) for x < 0: exp never overflows, and tiny results for very negative x
// keep their relative accuracy (down into the denormals, like the reference).
static inline __m512 Sigmoid(__m512 x) {
  const __m512 e = Exp(_mm512_sub_ps(_mm512_setzero_ps(), Abs(x)));
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 numerator = _mm512_mask_mov_ps(Splat(1.0f), negative, e);
  return _mm512_div_ps(numerator, _mm512_add_ps(Splat(1.0f), e));
}

// GELU(v) = v sigmoid(2u), u = sqrt(2/pi) (v + 0.044715 v^3), evaluated like Sigmoid
// with e = e^(-|2u|): v / (1 + e) for v >= 0 and v e / (1 + e) for v < 0 (2u has the
// sign of v). Results stay accurate down to the denormals, and the limits match the
// reference: v / 1 = v for large v, v * 0 = -0 for very negative v, NaN at -inf.
static inline __m512 GeluExpMinusAbs2u(__m512 v) {
  const __m512 two_u =
      _mm512_mul_ps(v, _mm512_fmadd_ps(Splat(kGeluB), _mm512_mul_ps(v, v), Splat(kGeluA)));
  return Exp(_mm512_sub_ps(_mm512_setzero_ps(), Abs(two_u)));
}

static inline __m512 Gelu(__m512 v) {
  const __m512 e = GeluExpMinusAbs2u(v);
  const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 numerator = _mm512_mask_mul_ps(v, negative, v, e);
  return _mm512_div_ps(numerator, _mm512_add_ps(Splat(1.0f), e));
}

// d GELU / dv = s + 2 v u' s (1 - s), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 0.044715 v^2)
// (equal to the reference's 0.5 (1 + t) + 0.5 v (1 - t^2) u', t = tanh(u)). With
// d = 1 / (1 + e): s = d or e d, and s (1 - s) = e d^2 on both sides. (2 v s (1 - s)) is
// formed before multiplying by u' so that it is exactly 0 where e underflows, as the
// reference's (1 - t^2) is, instead of 0 * inf.
static inline __m512 GeluDerivative(__m512 v) {
  const __m512 e = GeluExpMinusAbs2u(v);
  const __m512 d = _mm512_div_ps(Splat(1.0f), _mm512_add_ps(Splat(1.0f), e));
  const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 s = _mm512_mask_mul_ps(d, negative, d, e);
  const __m512 s1ms = _mm512_mul_ps(_mm512_mul_ps(e, d), d);
  const __m512 du = _mm512_fmadd_ps(Splat(kGeluDu2), _mm512_mul_ps(v, v), Splat(kSqrt2OverPi));
  return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_add_ps(v, v), s1ms), du, s);
}

// The tail mask for the last n < 16 lanes.
static inline __mmask16 TailMask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

}  // namespace tt::accel::kernels::avx512

#endif  // TT_ACCELERATION_KERNELS_F32_VMATH_AVX512_H_
