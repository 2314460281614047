// The constants of the vectorized float math (exp, log, tanh, sigmoid, GELU), shared by
// the scalar, AVX2 and AVX-512 versions so that all three compute the same formulas.
//
// Internal to acceleration's kernels. Constants only: no code lives here, so including it
// from translation units compiled with different -m flags is safe (see
// f32_vmath_avx512.h for why code must not be shared that way).
//
// The polynomials are minimax-style fits of the remainder after the leading terms (fitted
// in 40-digit arithmetic with a Remez exchange, then rounded to float). Their fit error is
// far below float rounding (<= 3.1e-9 relative), so the kernels' measured errors (see
// the module README (elementwise section)) come from float arithmetic, not from the fits.
#ifndef TT_ACCELERATION_KERNELS_F32_VMATH_CONSTANTS_H_
#define TT_ACCELERATION_KERNELS_F32_VMATH_CONSTANTS_H_

namespace tt::accel::kernels {

// --- exp(x) = 2^k * e^r, k = round(x / ln2), r = x - k ln2 in [-ln2/2, ln2/2] ------
inline constexpr float kLog2e = 1.44269502f;
// Cody-Waite split of ln2: kLn2Hi has 16 significant bits, so k * kLn2Hi is exact for
// |k| <= 256 and r keeps its accuracy even where x - k ln2 cancels.
inline constexpr float kLn2Hi = 0.693145751953125f;
inline constexpr float kLn2Lo = 1.42860677e-06f;
// e^r = 1 + r + r^2 * (c2 + c3 r + c4 r^2 + c5 r^3 + c6 r^4) on |r| <= 0.3473.
inline constexpr float kExpC2 = 0.49999994f;
inline constexpr float kExpC3 = 0.16666520f;
inline constexpr float kExpC4 = 0.041668400f;
inline constexpr float kExpC5 = 0.0083688507f;
inline constexpr float kExpC6 = 0.0013814321f;
// Inputs are clamped to [kExpMin, kExpMax] first: exp(-104) < 2^-150 rounds to 0 and
// exp(89) > FLT_MAX overflows to inf, so the clamp changes no result, keeps k in
// [-150, 128], and lets NaN through (the clamp is written NaN-propagating).
inline constexpr float kExpMin = -104.0f;
inline constexpr float kExpMax = 89.0f;

// --- log(x) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)) -----------------------------
// log(m) = 2 atanh(s) with f = m - 1 (exact), s = f / (f + 2), |s| <= 0.1716:
//   log(m) = 2s + s z (c0 + c1 z + c2 z^2),  z = s^2,
// evaluated as f - s (f - z (c0 + c1 z + c2 z^2)) (the same, since 2s = f - f s), so that
// the rounding errors of the division reach only the small correction term.
inline constexpr float kSqrt2 = 1.41421354f;
inline constexpr float kLogC0 = 0.66666776f;
inline constexpr float kLogC1 = 0.39976048f;
inline constexpr float kLogC2 = 0.29926512f;

// --- tanh(x) ------------------------------------------------------------------------
// |x| < kTanhSmall: tanh(x) = x + x z (c0 + c1 z + ... + c4 z^4), z = x^2; the odd
// polynomial keeps full relative accuracy near 0, where 1 - 2/(e^2x + 1) would cancel.
// Otherwise tanh(|x|) = 1 - 2 / (e^(2|x|) + 1), with |x| clamped to kTanhSaturate first
// (tanh(10) rounds to 1 in float, so the clamp changes no result and avoids inf).
inline constexpr float kTanhSmall = 0.625f;
inline constexpr float kTanhSaturate = 10.0f;
inline constexpr float kTanhC0 = -0.33333293f;
inline constexpr float kTanhC1 = 0.13331538f;
inline constexpr float kTanhC2 = -0.053738266f;
inline constexpr float kTanhC3 = 0.020614645f;
inline constexpr float kTanhC4 = -0.0056631337f;

// --- GELU, the tanh approximation: 0.5 v (1 + tanh(u)), u = sqrt(2/pi) (v + 0.044715 v^3)
// Since 1 + tanh(u) = 2 sigmoid(2u), GELU(v) = v sigmoid(2u): one exp and one division,
// and no cancellation in 1 + tanh(u) for negative v. The kernels compute
//   2u = v (kGeluA + kGeluB v^2),   u' = kSqrt2OverPi + kGeluDu2 v^2.
inline constexpr float kSqrt2OverPi = 0.797884583f;  // the reference's float constant
inline constexpr float kGeluCoeff = 0.044715f;
inline constexpr float kGeluA = 2.0f * kSqrt2OverPi;
inline constexpr float kGeluB = 2.0f * kSqrt2OverPi * kGeluCoeff;
inline constexpr float kGeluDu2 = 3.0f * kGeluCoeff * kSqrt2OverPi;

}  // namespace tt::accel::kernels

#endif  // TT_ACCELERATION_KERNELS_F32_VMATH_CONSTANTS_H_
