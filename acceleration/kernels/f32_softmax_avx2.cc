// Row softmax and log-softmax, AVX2 + FMA: the three passes of f32_softmax_avx512.cc
// (max; sum of exponentials in double; scale or subtract) on 8 lanes.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx2.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx2;

float HorizontalMax(__m256 a) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

double HorizontalSum(__m256d a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

float RowMax(const float* x, int64_t n) {
  const __m256 neg_inf = v::Splat(-__builtin_inff());
  __m256 m0 = neg_inf, m1 = neg_inf;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
  }
  for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
  if (j < n) {
    const __m256i mask = v::TailMask(n - j);
    const __m256 tail =
        _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + j, mask), _mm256_castsi256_ps(mask));
    m1 = _mm256_max_ps(m1, tail);
  }
  return HorizontalMax(_mm256_max_ps(m0, m1));
}

inline void AccumulateDouble(__m256 e, __m256d* lo, __m256d* hi) {
  *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
  *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

double SumExp(const float* x, float m, float* y, int64_t n) {
  const __m256 vm = v::Splat(m);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = v::Exp(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    if (y != nullptr) _mm256_storeu_ps(y + j, e);
    AccumulateDouble(e, &lo, &hi);
  }
  if (j < n) {
    const __m256i mask = v::TailMask(n - j);
    const __m256 e = _mm256_and_ps(_mm256_castsi256_ps(mask),
                                   v::Exp(_mm256_sub_ps(_mm256_maskload_ps(x + j, mask), vm)));
    if (y != nullptr) _mm256_maskstore_ps(y + j, mask, e);
    AccumulateDouble(e, &lo, &hi);
  }
  return HorizontalSum(_mm256_add_pd(lo, hi));
}

void ScaleRow(float* y, float scale, int64_t n) {
  const __m256 s = v::Splat(scale);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), s));
  if (j < n) {
    const __m256i mask = v::TailMask(n - j);
    _mm256_maskstore_ps(y + j, mask, _mm256_mul_ps(_mm256_maskload_ps(y + j, mask), s));
  }
}

void LogRow(const float* x, float m, float log_sum, float* y, int64_t n) {
  const __m256 vm = v::Splat(m), vl = v::Splat(log_sum);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_ps(y + j, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), vl));
  }
  if (j < n) {
    const __m256i mask = v::TailMask(n - j);
    _mm256_maskstore_ps(y + j, mask,
                        _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + j, mask), vm), vl));
  }
}

}  // namespace

void F32SoftmaxRowsAvx2(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
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
