// The fused GEMM epilogue, AVX-512: c = act(c + bias) in one pass over c, in place
// (c: rows x cols with row stride ldc; bias: one value per column, or none). One read and
// one write per element instead of the three passes of a separate add, activation and
// their temporaries. Results equal VBinary(kAdd) followed by VUnary(act) bit for bit.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx512.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx512;
using tensor::Activation;

template <bool kBias, typename F>
void Rows(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias, F act) {
  const int64_t full = cols - cols % 16;
  const __mmask16 tail = v::TailMask(cols - full);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    for (int64_t j = 0; j < full; j += 16) {
      __m512 x = _mm512_loadu_ps(row + j);
      if (kBias) x = _mm512_add_ps(x, _mm512_loadu_ps(bias + j));
      _mm512_storeu_ps(row + j, act(x));
    }
    if (tail != 0) {
      __m512 x = _mm512_maskz_loadu_ps(tail, row + full);
      if (kBias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(tail, bias + full));
      _mm512_mask_storeu_ps(row + full, tail, act(x));
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

void F32VBiasActAvx512(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                       Activation act) {
  switch (act) {
    case Activation::kNone:
      if (bias != nullptr) Rows<true>(c, rows, cols, ldc, bias, [](__m512 x) { return x; });
      break;
    case Activation::kRelu:
      WithBias(c, rows, cols, ldc, bias,
               [](__m512 x) { return _mm512_max_ps(x, _mm512_setzero_ps()); });
      break;
    case Activation::kGelu:
      WithBias(c, rows, cols, ldc, bias, [](__m512 x) { return v::Gelu(x); });
      break;
  }
}

}  // namespace tt::accel::kernels
