// Row softmax and log-softmax, portable C++: the three passes of f32_softmax_avx512.cc.
// The exponentials are computed in chunks into a small buffer (a loop the compiler
// vectorizes) and then summed in double, which it cannot vectorize without reordering.
#include <cmath>
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_scalar.h"

namespace tt::accel::kernels {
namespace {

constexpr int64_t kChunk = 256;

float RowMax(const float* x, int64_t n) {
  float m = -__builtin_inff();
  for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

// sum_j e^(x[j] - m); the exponentials go to y when y != nullptr.
double SumExp(const float* x, float m, float* y, int64_t n) {
  float buffer[kChunk];
  double sum = 0.0;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t len = n - start < kChunk ? n - start : kChunk;
    float* e = y != nullptr ? y + start : buffer;
    for (int64_t j = 0; j < len; ++j) e[j] = scalar::Exp(x[start + j] - m);
    for (int64_t j = 0; j < len; ++j) sum += e[j];
  }
  return sum;
}

}  // namespace

void F32SoftmaxRowsScalar(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    const float m = RowMax(in, cols);
    if (log) {
      const float log_sum = static_cast<float>(std::log(SumExp(in, m, nullptr, cols)));
      for (int64_t j = 0; j < cols; ++j) out[j] = (in[j] - m) - log_sum;
    } else {
      const float inv = static_cast<float>(1.0 / SumExp(in, m, out, cols));
      for (int64_t j = 0; j < cols; ++j) out[j] *= inv;
    }
  }
}

}  // namespace tt::accel::kernels
