// Scalar float math with the formulas of f32_vmath_avx512.h, for the kScalar kernel
// files (compiled with no -m flags, so they run on every x86-64 CPU).
//
// Written branch-free (selections are ternaries on computed values, bit casts go through
// memcpy, rounding to an integer uses the 1.5 * 2^23 trick instead of a libm call) so
// that the compiler can vectorize the kernel loops with the SSE2 every x86-64 has. There
// is no FMA here, so results may differ from the AVX paths in the last bit or two; the
// tests hold all three paths to the same documented bounds.
#ifndef TT_ACCELERATION_KERNELS_F32_VMATH_SCALAR_H_
#define TT_ACCELERATION_KERNELS_F32_VMATH_SCALAR_H_

#include <cstdint>
#include <cstring>

#include "acceleration/kernels/f32_vmath_constants.h"

namespace tt::accel::kernels::scalar {

static inline uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
static inline float FloatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
static inline float Abs(float x) { return FloatOf(BitsOf(x) & 0x7fffffffu); }

// Clamps to [lo, hi]; NaN fails both comparisons and passes through.
static inline float ClampKeepNan(float x, float lo, float hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

static inline float Exp(float x) {
  x = ClampKeepNan(x, kExpMin, kExpMax);
  // t + 1.5 * 2^23 rounds t to an integer (round-to-nearest-even, |t| < 2^22) and leaves
  // that integer in the low mantissa bits, so k needs no float -> int conversion (which
  // would be undefined for NaN).
  constexpr float kRoundMagic = 12582912.0f;
  const float shifted = x * kLog2e + kRoundMagic;
  const float k = shifted - kRoundMagic;
  float r = x - k * kLn2Hi;
  r = r - k * kLn2Lo;
  float q = kExpC6 * r + kExpC5;
  q = q * r + kExpC4;
  q = q * r + kExpC3;
  q = q * r + kExpC2;
  const float p = (r * r * q + r) + 1.0f;
  // Unsigned arithmetic: NaN lanes produce garbage bits but no undefined behavior.
  const uint32_t ki = BitsOf(shifted) - BitsOf(kRoundMagic);
  const uint32_t k1 = static_cast<uint32_t>(static_cast<int32_t>(ki) >> 1);
  const uint32_t k2 = ki - k1;
  return p * FloatOf((k1 + 127u) << 23) * FloatOf((k2 + 127u) << 23);
}

static inline float Log(float x) {
  const bool denormal = x < 1.17549435e-38f;  // FLT_MIN
  const uint32_t bits = BitsOf(denormal ? x * 8388608.0f : x);
  float e = static_cast<float>(static_cast<int32_t>(bits >> 23) - 127) - (denormal ? 23.0f : 0.0f);
  float m = FloatOf((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  const bool big = m >= kSqrt2;
  m = big ? m * 0.5f : m;
  e = big ? e + 1.0f : e;
  const float f = m - 1.0f;
  const float s = f / (f + 2.0f);
  const float z = s * s;
  const float poly = (kLogC2 * z + kLogC1) * z + kLogC0;
  const float log_m = f - s * (f - z * poly);
  float y = e * kLn2Hi + (e * kLn2Lo + log_m);
  y = x == __builtin_inff() ? x : y;
  y = x == 0.0f ? -__builtin_inff() : y;
  return x >= 0.0f ? y : __builtin_nanf("");  // NaN and negatives fail x >= 0
}

static inline float Tanh(float x) {
  const float ax = Abs(x);
  const float z = ax * ax;
  const float poly = (((kTanhC4 * z + kTanhC3) * z + kTanhC2) * z + kTanhC1) * z + kTanhC0;
  const float small = ax * z * poly + ax;
  const float sat = ClampKeepNan(ax, 0.0f, kTanhSaturate);
  const float e = Exp(sat + sat);
  const float big = 1.0f - 2.0f / (e + 1.0f);
  const float magnitude = ax < kTanhSmall ? small : big;
  return FloatOf(BitsOf(magnitude) | (BitsOf(x) & 0x80000000u));
}

static inline float Sigmoid(float x) {
  const float e = Exp(-Abs(x));
  return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

static inline float GeluExpMinusAbs2u(float v) {
  const float two_u = v * (kGeluB * (v * v) + kGeluA);
  return Exp(-Abs(two_u));
}

static inline float Gelu(float v) {
  const float e = GeluExpMinusAbs2u(v);
  return (v < 0.0f ? v * e : v) / (1.0f + e);
}

static inline float GeluDerivative(float v) {
  const float e = GeluExpMinusAbs2u(v);
  const float d = 1.0f / (1.0f + e);
  const float s = v < 0.0f ? d * e : d;
  const float s1ms = e * d * d;
  const float du = kGeluDu2 * (v * v) + kSqrt2OverPi;
  return (v + v) * s1ms * du + s;
}

}  // namespace tt::accel::kernels::scalar

#endif  // TT_ACCELERATION_KERNELS_F32_VMATH_SCALAR_H_
