// Quantize floats to int8/uint8 and back, vectorized (AVX-512 / AVX2 / portable, chosen
// by tt::accel::ActiveIsa(), so tests and benchmarks can force a lower path).
//
//   TT_ASSIGN_OR_RETURN(QParams p, ChooseAffineQParams(min, max, QType::kUint8));
//   QuantizeUint8(x, n, p, q);        // x: (n) float -> q: (n) uint8
//   DequantizeUint8(q, n, p, y);      // q: (n) uint8 -> y: (n) float, |x - y| <= p.scale / 2
//
// The math, element by element (real = scale * (q - zero_point), qparams.h):
//
//   quantize(x)   = clamp(round_half_even(x * (1 / scale)), QMin - zp, QMax - zp) + zp
//   dequantize(q) = scale * float(q - zp)
//
// - 1/scale is computed once in float and multiplied (as XNNPACK, oneDNN and PyTorch do):
//   a multiply instead of a divide per value. x * (1/scale) can differ from x / scale by an
//   ulp, which only matters for a value within an ulp of a rounding boundary.
// - Round to nearest, ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2): what the hardware
//   conversion cvtps2dq does, and unbiased: rounding half away from zero would push values
//   that are exactly halfway (common for small integers times a power-of-two scale) always
//   outward. -0.0 quantizes like +0.0, to zero_point.
// - Saturate to the type's range: values beyond the representable range
//   [scale * (QMin - zp), scale * (QMax - zp)] become QMin or QMax (clipping, not
//   wrap-around). NaN quantizes to QMin (check inputs with CheckFinite; it is not an error
//   here because this is the inner loop).
// - Every ISA's kernel returns exactly the ...Ref result, bit for bit (tested).
//
// Contract (TT_CHECK): n >= 0; p.scale finite and >= kMinScale (so 1/scale is finite);
// p.zero_point inside the type's range. Output must not overlap the input.
#ifndef TT_QUANTIZATION_QUANTIZE_H_
#define TT_QUANTIZATION_QUANTIZE_H_

#include <cstdint>

#include "quantization/qparams.h"

namespace tt::quant {

// x: (n) -> out: (n).
void QuantizeInt8(const float* x, int64_t n, QParams p, int8_t* out);
void QuantizeUint8(const float* x, int64_t n, QParams p, uint8_t* out);

// q: (n) -> out: (n).
void DequantizeInt8(const int8_t* q, int64_t n, QParams p, float* out);
void DequantizeUint8(const uint8_t* q, int64_t n, QParams p, float* out);

// The plain one-value-at-a-time references the fast versions are tested against (the
// same as forcing Isa::kScalar).
void QuantizeInt8Ref(const float* x, int64_t n, QParams p, int8_t* out);
void QuantizeUint8Ref(const float* x, int64_t n, QParams p, uint8_t* out);
void DequantizeInt8Ref(const int8_t* q, int64_t n, QParams p, float* out);
void DequantizeUint8Ref(const uint8_t* q, int64_t n, QParams p, float* out);

// One value, by the same definition: the integer in [QMin(type), QMax(type)], and back.
int32_t QuantizeValue(float x, QParams p, QType type);
float DequantizeValue(int32_t q, QParams p);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_QUANTIZE_H_
