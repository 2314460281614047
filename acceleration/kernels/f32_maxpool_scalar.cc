// Max pooling with argmax, portable C++. The 2x2/stride-2 case (every CNN here) has its
// own loop: four compares in the reference's scan order, no inner window loops, 32-bit
// indices, which the compiler turns into branch-free SSE2 code.
#include <cstdint>

#include "acceleration/kernels/max_pool_kernels.h"

namespace tt::accel::kernels {
namespace {

void Pool2x2Stride2(const float* in, int64_t w, int64_t oh, int64_t ow, float* y, int32_t* argmax) {
  for (int64_t i = 0; i < oh; ++i) {
    const float* r0 = in + 2 * i * w;
    const float* r1 = r0 + w;
    const int32_t row_base = static_cast<int32_t>(2 * i * w);
    const int32_t w32 = static_cast<int32_t>(w);
    float* out = y + i * ow;
    int32_t* out_at = argmax + i * ow;
    for (int64_t j = 0; j < ow; ++j) {
      const int32_t base = row_base + static_cast<int32_t>(2 * j);
      float best = r0[2 * j];
      int32_t at = base;
      // Strict > in the reference's order: the first maximum wins, NaN never replaces.
      at = r0[2 * j + 1] > best ? base + 1 : at;
      best = r0[2 * j + 1] > best ? r0[2 * j + 1] : best;
      at = r1[2 * j] > best ? base + w32 : at;
      best = r1[2 * j] > best ? r1[2 * j] : best;
      at = r1[2 * j + 1] > best ? base + w32 + 1 : at;
      best = r1[2 * j + 1] > best ? r1[2 * j + 1] : best;
      out[j] = best;
      out_at[j] = at;
    }
  }
}

void PoolGeneral(const float* in, int64_t w, int64_t kernel, int64_t stride, int64_t oh, int64_t ow,
                 float* y, int32_t* argmax) {
  for (int64_t i = 0; i < oh; ++i) {
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t first = i * stride * w + j * stride;
      int64_t best = first;
      for (int64_t ki = 0; ki < kernel; ++ki) {
        const float* row = in + first + ki * w;
        for (int64_t kj = 0; kj < kernel; ++kj) {
          if (row[kj] > in[best]) best = first + ki * w + kj;
        }
      }
      y[i * ow + j] = in[best];
      argmax[i * ow + j] = static_cast<int32_t>(best);
    }
  }
}

}  // namespace

void F32MaxPool2dScalar(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                        int64_t stride, float* y, int32_t* argmax) {
  const int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  for (int64_t p = 0; p < planes; ++p) {
    const float* in = x + p * h * w;
    float* out = y + p * oh * ow;
    int32_t* out_at = argmax + p * oh * ow;
    if (kernel == 2 && stride == 2) {
      Pool2x2Stride2(in, w, oh, ow, out, out_at);
    } else {
      PoolGeneral(in, w, kernel, stride, oh, ow, out, out_at);
    }
  }
}

}  // namespace tt::accel::kernels
