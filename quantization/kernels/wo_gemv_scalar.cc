// The portable weight-only GEMV kernels: the same panel walk as the SIMD versions, in
// plain C++ (the compiler may still vectorize it with the baseline SSE2). They are the
// reference the AVX2 and AVX-512 kernels are tested against, and the path of CPUs
// without either.
#include <algorithm>
#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {

void WoQ8GemvScalar(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                    const int8_t* w, const float* scale, float* y, int64_t ldy) {
  float acc[kWoPanel];
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    const int64_t cols = std::min(pw, n - n0);
    const int8_t* panel = w + n0 * k;
    for (int64_t r = 0; r < m; ++r) {
      const float* xr = x + r * ldx;
      std::fill(acc, acc + pw, 0.0f);
      for (int64_t p = 0; p < k; ++p) {
        const float xv = xr[p];
        const int8_t* row = panel + p * pw;
        for (int64_t c = 0; c < pw; ++c) acc[c] += xv * static_cast<float>(row[c]);
      }
      for (int64_t c = 0; c < cols; ++c) y[r * ldy + n0 + c] = acc[c] * scale[n0 + c];
    }
  }
}

void WoQ4GemvScalar(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                    const uint8_t* w, float* y, int64_t ldy) {
  const int64_t nb = n / bs;
  float acc[kWoPanel];
  int64_t block[kWoPanel];  // block (within a row) of each column of the panel
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    const int64_t cols = std::min(pw, n - n0);
    // Padding columns (>= N) hold q = 0; any valid block index will do for them.
    for (int64_t c = 0; c < pw; ++c) block[c] = std::min(n0 + c, n - 1) / bs;
    const uint8_t* panel = w + n0 * k / 2;
    for (int64_t r = 0; r < m; ++r) {
      std::fill(acc, acc + pw, 0.0f);
      for (int64_t p = 0; p < k; ++p) {
        const float* xk = xs + p * nb * m + r;  // xk[b * m]: row r's x * scale of block b
        const uint8_t* row = panel + p * pw / 2;
        for (int64_t c = 0; c < pw; ++c) {
          const uint8_t byte = row[(c / kWoChunk) * 16 + c % 16];
          const int u = (c % kWoChunk) < 16 ? (byte & 15) : (byte >> 4);
          acc[c] += xk[block[c] * m] * static_cast<float>(u - 8);
        }
      }
      for (int64_t c = 0; c < cols; ++c) y[r * ldy + n0 + c] = acc[c];
    }
  }
}

}  // namespace tt::quant::kernels
