// The fused GEMM epilogue, portable C++: c = act(c + bias) in one pass over c, in place.
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_scalar.h"

namespace tt::accel::kernels {
namespace {

using tensor::Activation;

template <bool kBias, typename F>
void Rows(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, F act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    for (int64_t j = 0; j < cols; ++j) row[j] = act(kBias ? row[j] + bias[j] : row[j]);
  }
}

template <typename F>
void WithBias(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, F act) {
  if (bias != nullptr) {
    Rows<true>(c, rows, cols, ldc, bias, act);
  } else {
    Rows<false>(c, rows, cols, ldc, bias, act);
  }
}

}  // namespace

void F32VBiasActScalar(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                       Activation act) {
  switch (act) {
    case Activation::kNone:
      if (bias != nullptr) Rows<true>(c, rows, cols, ldc, bias, [](float x) { return x; });
      break;
    case Activation::kRelu:
      WithBias(c, rows, cols, ldc, bias, [](float x) { return x > 0.0f ? x : 0.0f; });
      break;
    case Activation::kGelu:
      WithBias(c, rows, cols, ldc, bias, [](float x) { return scalar::Gelu(x); });
      break;
  }
}

}  // namespace tt::accel::kernels
