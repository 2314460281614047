// Panel dequantization, portable: the reference for the SIMD versions (and what the
// compiler makes of these loops with the baseline SSE2).
#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {

void WoQ8DequantScalar(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                       const float* scale, float* out, int64_t ldo) {
  for (int64_t p = 0; p < k; ++p) {
    const int8_t* row = panel + p * pw;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; ++c) dst[c] = scale[c] * static_cast<float>(row[c]);
  }
}

void WoQ4DequantScalar(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                       const float* scales, const uint8_t* panel, float* out, int64_t ldo) {
  for (int64_t p = 0; p < k; ++p) {
    const uint8_t* row = panel + p * pw / 2;
    const float* s = scales + p * nb;
    float* dst = out + p * ldo;
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t byte = row[(c / kWoChunk) * 16 + c % 16];
      const int u = (c % kWoChunk) < 16 ? (byte & 15) : (byte >> 4);
      dst[c] = s[block[c / 16]] * static_cast<float>(u - 8);
    }
  }
}

}  // namespace tt::quant::kernels
