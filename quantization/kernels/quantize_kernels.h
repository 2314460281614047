// The per-ISA quantize / dequantize kernels behind quantization/quantize.h, and the
// one-element reference they all reproduce bit for bit. Internal: call them through
// quantize.h, which checks the arguments and picks the ISA the CPU supports.
//
// Naming: <Op><S8|U8><Isa>; files quantize_<isa>.cc, each ISA its own library built with
// that ISA's -m flags only. Arguments arrive checked: n >= 0, inv_scale = 1 / scale is
// finite and positive, and zp lies in the type's range.
//
// The element-wise definition (both directions), written once here:
//
//   quantize:    y = x * inv_scale                    (one float multiply, IEEE rounding)
//                y = min(max(y, qmin - zp), qmax - zp) (saturate before rounding: the bounds
//                                                       are integers, so this equals
//                                                       saturating after; NaN -> qmin - zp)
//                q = RoundHalfToEven(y) + zp
//   dequantize:  x = scale * float(q - zp)             (q - zp is exact in int32 and in
//                                                       float; one multiply, one rounding)
//
// Multiplying by 1/scale instead of dividing by scale is what every production kernel
// does (a multiply is ~10x cheaper than a divide); it can move a value sitting exactly on
// a rounding boundary by one step, which is within the round-trip bound scale/2 + ulps.
#ifndef TT_QUANTIZATION_KERNELS_QUANTIZE_KERNELS_H_
#define TT_QUANTIZATION_KERNELS_QUANTIZE_KERNELS_H_

#include <cstdint>

namespace tt::quant::kernels {

// Round to nearest, ties to even (what cvtps2dq does in the default rounding mode), for
// |y| < 2^31. Written without the FPU rounding mode so the result never depends on it:
// truncation toward zero is exact, the remaining fraction in (-1, 1) is exact too
// (Sterbenz), and only the .5 case needs the parity of the truncated value.
//   2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -0.0 -> 0, 0.49999997 -> 0
// Branch-free (& and | on the comparisons, not && and ||), so that a loop of it
// vectorizes and random data costs no mispredicted branches.
inline int32_t RoundHalfToEven(float y) {
  const int32_t t = static_cast<int32_t>(y);  // toward zero
  const float frac = y - static_cast<float>(t);
  const int32_t odd = t & 1;
  const int32_t up = (frac > 0.5f) | ((frac == 0.5f) & odd);
  const int32_t down = (frac < -0.5f) | ((frac == -0.5f) & odd);
  return t + up - down;
}

// One element of the definition above; qmin/qmax are the type's range.
inline int32_t QuantizeOne(float x, float inv_scale, int32_t zp, int32_t qmin, int32_t qmax) {
  const float lo = static_cast<float>(qmin - zp);
  const float hi = static_cast<float>(qmax - zp);
  float y = x * inv_scale;
  y = y > lo ? y : lo;  // written like maxps(y, lo): a NaN y gives lo
  y = y < hi ? y : hi;
  return RoundHalfToEven(y) + zp;
}

inline float DequantizeOne(int32_t q, float scale, int32_t zp) {
  return scale * static_cast<float>(q - zp);
}

// out[i] = quantize(x[i]), i < n; int8 range [-128, 127], uint8 range [0, 255].
void QuantizeS8Scalar(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out);
void QuantizeS8Avx2(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out);
void QuantizeS8Avx512(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out);
void QuantizeU8Scalar(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out);
void QuantizeU8Avx2(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out);
void QuantizeU8Avx512(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out);

// out[i] = dequantize(q[i]), i < n.
void DequantizeS8Scalar(const int8_t* q, int64_t n, float scale, int32_t zp, float* out);
void DequantizeS8Avx2(const int8_t* q, int64_t n, float scale, int32_t zp, float* out);
void DequantizeS8Avx512(const int8_t* q, int64_t n, float scale, int32_t zp, float* out);
void DequantizeU8Scalar(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out);
void DequantizeU8Avx2(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out);
void DequantizeU8Avx512(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out);

}  // namespace tt::quant::kernels

#endif  // TT_QUANTIZATION_KERNELS_QUANTIZE_KERNELS_H_
