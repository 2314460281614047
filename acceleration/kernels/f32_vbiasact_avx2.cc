// The fused GEMM epilogue, AVX2 + FMA: c = act(c + bias) in one pass over c, in place
// (c: rows x cols with row stride ldc; bias: one value per column, or none). One read and
// one write per element instead of the three passes of a separate add, activation and
// their temporaries. Results equal VBinary(kAdd) followed by VUnary(act) bit for bit.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx2.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx2;
using tensor::Activation;

template <bool kBias, typename F>
void Rows(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, F act) {
  const int64_t full = cols - cols % 8;
  const __m256i tail = v::TailMask(cols - full);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    for (int64_t j = 0; j < full; j += 8) {
      __m256 x = _mm256_loadu_ps(row + j);
      if (kBias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias + j));
      _mm256_storeu_ps(row + j, act(x));
    }
    if (full < cols) {
      __m256 x = _mm256_maskload_ps(row + full, tail);
      if (kBias) x = _mm256_add_ps(x, _mm256_maskload_ps(bias + full, tail));
      _mm256_maskstore_ps(row + full, tail, act(x));
    }
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

void F32VBiasActAvx2(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                     Activation act) {
  switch (act) {
    case Activation::kNone:
      if (bias != nullptr) Rows<true>(c, rows, cols, ldc, bias, [](__m256 x) { return x; });
      break;
    case Activation::kRelu:
      WithBias(c, rows, cols, ldc, bias,
               [](__m256 x) { return _mm256_max_ps(x, _mm256_setzero_ps()); });
      break;
    case Activation::kGelu:
      WithBias(c, rows, cols, ldc, bias, [](__m256 x) { return v::Gelu(x); });
      break;
  }
}

}  // namespace tt::accel::kernels
