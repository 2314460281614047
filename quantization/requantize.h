// Requantization: turning an int32 GEMM accumulator back into an 8-bit activation with
// integer arithmetic only (no float in the kernels' hot loops).
//
// A quantized layer computes, with x = sx (qx - zx), w = sw qw, y = sy (qy - zy):
//   y = x w + bias  =>  qy = zy + (sx sw / sy) * acc,  acc = sum_k (qx - zx) qw + qbias
// so every output needs one multiplication by the real number  real = sx sw / sy,
// followed by rounding, the output zero point and a clamp to the 8-bit range.
// The kernels do the multiplication in fixed point: real is stored once as
//   real ~= multiplier * 2^-shift,  multiplier in [2^30, 2^31)  (31 significant bits)
// and each accumulator then costs one 32 x 32 -> 64-bit multiply and one shift:
//   Requantize(acc) = (acc * multiplier + 2^(shift-1)) >> shift      (64-bit, arithmetic)
//                   = floor(acc * multiplier / 2^shift + 1/2)
// i.e. acc * real_q rounded to the nearest integer, ties toward +infinity, with
// real_q = multiplier / 2^shift exactly. One rounding only (gemmlowp/TFLite round twice:
// a rounding doubling high-multiply, then a rounding shift); ties go up (TFLite: away
// from zero), because an add and an arithmetic shift are all a SIMD lane needs.
//
//   TT_ASSIGN_OR_RETURN(FixedPointMultiplier m, QuantizeMultiplier(sx * sw / sy));
//   uint8_t q = RequantizeRef(acc, m, /*zero_point=*/zy, /*qmin=*/0, /*qmax=*/255);
//
// Accuracy against exact arithmetic: |real_q - real| <= 2^-31 real, so
// |acc real_q - acc real| <= |acc| real 2^-31: the result equals round-half-up(acc * real)
// except when acc * real lies within that distance of a half-integer (a near-tie), where
// it may differ by 1. For |acc * real| <= 2^22 that distance is under 2^-9.
#ifndef TT_QUANTIZATION_REQUANTIZE_H_
#define TT_QUANTIZATION_REQUANTIZE_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace tt::quant {

// real_q = multiplier * 2^-shift. QuantizeMultiplier returns multiplier in [2^30, 2^31)
// and shift in [15, 62]. The kernels accept any multiplier in [1, 2^31 - 1] with shift
// in [1, 62] (IsValidMultiplier); the default is exactly 1.0.
struct FixedPointMultiplier {
  int32_t multiplier = int32_t{1} << 30;
  int32_t shift = 30;
};

// The accepted range of QuantizeMultiplier: 2^-32 <= real < 2^15. Below 2^-32 every
// int32 accumulator rounds to 0 anyway; 2^15 is far above any sensible layer (real > 1
// already means the output scale is finer than the accumulator's).
inline constexpr double kMinRequantizeScale = 0x1p-32;
inline constexpr double kMaxRequantizeScale = 0x1p15;

// The nearest FixedPointMultiplier to `real` (multiplier rounded to nearest from
// real * 2^shift). InvalidArgument naming the value when real is NaN, infinite, <= 0,
// below kMinRequantizeScale or >= kMaxRequantizeScale.
absl::StatusOr<FixedPointMultiplier> QuantizeMultiplier(double real);

// multiplier in [1, 2^31 - 1] and shift in [1, 62]: what the kernels' 64-bit arithmetic
// is proven for (|acc * multiplier| < 2^62, the rounding term 2^(shift-1) fits).
bool IsValidMultiplier(FixedPointMultiplier m);

// multiplier * 2^-shift, exactly (31 bits fit a double's 53).
double MultiplierToDouble(FixedPointMultiplier m);

// The requantization every int8 kernel performs, bit for bit:
//   clamp(zero_point + ((acc * multiplier + 2^(shift-1)) >> shift), qmin, qmax)
// in 64-bit arithmetic (no overflow for any int32 acc). TT_CHECKs IsValidMultiplier(m)
// and qmin <= qmax.
int32_t RequantizeRef(int32_t acc, FixedPointMultiplier m, int32_t zero_point, int32_t qmin,
                      int32_t qmax);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_REQUANTIZE_H_
