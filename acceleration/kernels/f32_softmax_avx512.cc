// Row softmax and log-softmax, AVX-512, in three passes over each row:
//   1. m = max_j x[j]                 (vector max, masked tail filled with -inf)
//   2. s = sum_j e^(x[j] - m)         (vector exp; the sum accumulates in double, like
//                                      the reference, so long rows lose no accuracy)
//   3. softmax: y[j] = e^(x[j] - m) / s, kept from pass 2 in y and scaled by 1/s;
//      log-softmax: y[j] = (x[j] - m) - log(s)  (pass 2 stores nothing: y may alias x).
// Subtracting the max keeps every exponent <= 0, so nothing overflows.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx512.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx512;

float RowMax(const float* x, int64_t n) {
  const __m512 neg_inf = v::Splat(-__builtin_inff());
  __m512 m0 = neg_inf, m1 = neg_inf;  // two chains hide the max latency
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + j));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + j + 16));
  }
  for (; j + 16 <= n; j += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + j));
  if (j < n) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(neg_inf, v::TailMask(n - j), x + j));
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

// Adds the 16 lanes of e to the 8-lane double accumulators lo, hi.
inline void AccumulateDouble(__m512 e, __m512d* lo, __m512d* hi) {
  *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
  *hi = _mm512_add_pd(
      *hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
}

// sum_j e^(x[j] - m); stores the exponentials to y when y != nullptr.
double SumExp(const float* x, float m, float* y, int64_t n) {
  const __m512 vm = v::Splat(m);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = v::Exp(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
    if (y != nullptr) _mm512_storeu_ps(y + j, e);
    AccumulateDouble(e, &lo, &hi);
  }
  if (j < n) {
    const __mmask16 mask = v::TailMask(n - j);
    // Masked-off lanes must add 0: zero them after the exp (e^(0 - m) is not 0).
    const __m512 e =
        _mm512_maskz_mov_ps(mask, v::Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + j), vm)));
    if (y != nullptr) _mm512_mask_storeu_ps(y + j, mask, e);
    AccumulateDouble(e, &lo, &hi);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

void ScaleRow(float* y, float scale, int64_t n) {
  const __m512 s = v::Splat(scale);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(y + j), s));
  if (j < n) {
    const __mmask16 mask = v::TailMask(n - j);
    _mm512_mask_storeu_ps(y + j, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, y + j), s));
  }
}

// y[j] = (x[j] - m) - log_sum, the reference's order (see tensor/backend.cc).
void LogRow(const float* x, float m, float log_sum, float* y, int64_t n) {
  const __m512 vm = v::Splat(m), vl = v::Splat(log_sum);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    _mm512_storeu_ps(y + j, _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm), vl));
  }
  if (j < n) {
    const __mmask16 mask = v::TailMask(n - j);
    _mm512_mask_storeu_ps(y + j, mask,
                          _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + j), vm), vl));
  }
}

}  // namespace

void F32SoftmaxRowsAvx512(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    const float m = RowMax(in, cols);
    if (log) {
      const double sum = SumExp(in, m, nullptr, cols);
      LogRow(in, m, static_cast<float>(std::log(sum)), out, cols);
    } else {
      const double sum = SumExp(in, m, out, cols);
      ScaleRow(out, static_cast<float>(1.0 / sum), cols);
    }
  }
}

}  // namespace tt::accel::kernels
