// Quantize / dequantize, portable: the reference every vector kernel is tested against,
// and the path for CPUs without AVX2. One call of the element definition per value
// (quantize_kernels.h); nothing else.
#include <cstdint>

#include "quantization/kernels/quantize_kernels.h"

namespace tt::quant::kernels {

void QuantizeS8Scalar(const float* x, int64_t n, float inv_scale, int32_t zp, int8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<int8_t>(QuantizeOne(x[i], inv_scale, zp, -128, 127));
  }
}

void QuantizeU8Scalar(const float* x, int64_t n, float inv_scale, int32_t zp, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>(QuantizeOne(x[i], inv_scale, zp, 0, 255));
  }
}

void DequantizeS8Scalar(const int8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = DequantizeOne(q[i], scale, zp);
}

void DequantizeU8Scalar(const uint8_t* q, int64_t n, float scale, int32_t zp, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = DequantizeOne(q[i], scale, zp);
}

}  // namespace tt::quant::kernels
