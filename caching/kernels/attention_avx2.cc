// Single-query attention loops with AVX2 + FMA (see attention_kernels.h). Compiled with
// -mavx2 -mfma in its own library; called only when tt::accel::IsaSupported(kAvx2Fma).
// The d % 8 tail of each row is summed in scalar code (AVX2 has no cheap lane masks).
#include <immintrin.h>

#include "caching/kernels/attention_kernels.h"

namespace tt::cache::kernels {
namespace {

constexpr int kLanes = 8;

// Lane j of the result = the sum of the 8 lanes of a[j] (an 8 x 8 transpose folded
// into an add tree, as TransposeAdd16 in the AVX-512 file).
inline __m256 TransposeAdd8(const __m256 (&a)[8]) {
  __m256 s[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    s[i] = _mm256_add_ps(_mm256_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm256_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  __m256 t[2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    const __m256d x = _mm256_castps_pd(s[2 * i]), y = _mm256_castps_pd(s[2 * i + 1]);
    t[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)),
                         _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)));
  }
  return _mm256_add_ps(_mm256_permute2f128_ps(t[0], t[1], 0x20),
                       _mm256_permute2f128_ps(t[0], t[1], 0x31));
}

inline float HorizontalSum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

// 8 int8 values as floats.
inline __m256 LoadQ8(const int8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

}  // namespace

void F32AttnScoresAvx2(const float* q, const float* k, int64_t n, int64_t d, float scale,
                       float* scores) {
  const int64_t dv = d - d % kLanes;  // the part that fills whole vectors
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    __m256 acc[kLanes];
#pragma GCC unroll 8
    for (int r = 0; r < kLanes; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < dv; i += kLanes) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      const float* kb = k + j * d + i;
#pragma GCC unroll 8
      for (int r = 0; r < kLanes; ++r) {
        acc[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kb + r * d), acc[r]);
      }
    }
    __m256 dots = TransposeAdd8(acc);
    if (dv < d) {
      alignas(32) float tail[kLanes];
      for (int r = 0; r < kLanes; ++r) {
        float t = 0.0f;
        for (int64_t i = dv; i < d; ++i) t += q[i] * k[(j + r) * d + i];
        tail[r] = t;
      }
      dots = _mm256_add_ps(dots, _mm256_load_ps(tail));
    }
    _mm256_storeu_ps(scores + j, _mm256_mul_ps(_mm256_set1_ps(scale), dots));
  }
  for (; j < n; ++j) {
    const float* kj = k + j * d;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < dv; i += kLanes) {
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kj + i), acc);
    }
    float s = HorizontalSum(acc);
    for (int64_t i = dv; i < d; ++i) s += q[i] * kj[i];
    scores[j] = scale * s;
  }
}

void F32AttnWeightedSumAvx2(const float* p, const float* v, int64_t n, int64_t d, float* out) {
  const int64_t dv = d - d % kLanes;
  for (int64_t c0 = 0; c0 < dv; c0 += kLanes) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const float* vc = v + c0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(vc + j * d), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(p[j + 1]), _mm256_loadu_ps(vc + (j + 1) * d), acc1);
      acc2 = _mm256_fmadd_ps(_mm256_set1_ps(p[j + 2]), _mm256_loadu_ps(vc + (j + 2) * d), acc2);
      acc3 = _mm256_fmadd_ps(_mm256_set1_ps(p[j + 3]), _mm256_loadu_ps(vc + (j + 3) * d), acc3);
    }
    for (; j < n; ++j) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(vc + j * d), acc0);
    }
    _mm256_storeu_ps(out + c0,
                     _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  }
  for (int64_t i = dv; i < d; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; ++j) s += p[j] * v[j * d + i];
    out[i] = s;
  }
}

void F32AttnScoresQ8Avx2(const float* q, const int8_t* k, const float* kscale, int64_t n,
                         int64_t d, float scale, float* scores) {
  const int64_t dv = d - d % kLanes;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    __m256 acc[kLanes];
#pragma GCC unroll 8
    for (int r = 0; r < kLanes; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < dv; i += kLanes) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      const int8_t* kb = k + j * d + i;
#pragma GCC unroll 8
      for (int r = 0; r < kLanes; ++r) acc[r] = _mm256_fmadd_ps(qv, LoadQ8(kb + r * d), acc[r]);
    }
    __m256 dots = TransposeAdd8(acc);
    if (dv < d) {
      alignas(32) float tail[kLanes];
      for (int r = 0; r < kLanes; ++r) {
        float t = 0.0f;
        for (int64_t i = dv; i < d; ++i) t += q[i] * static_cast<float>(k[(j + r) * d + i]);
        tail[r] = t;
      }
      dots = _mm256_add_ps(dots, _mm256_load_ps(tail));
    }
    const __m256 row_scales = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_loadu_ps(kscale + j));
    _mm256_storeu_ps(scores + j, _mm256_mul_ps(row_scales, dots));
  }
  for (; j < n; ++j) {
    const int8_t* kj = k + j * d;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < dv; i += kLanes) {
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadQ8(kj + i), acc);
    }
    float s = HorizontalSum(acc);
    for (int64_t i = dv; i < d; ++i) s += q[i] * static_cast<float>(kj[i]);
    scores[j] = scale * kscale[j] * s;
  }
}

void F32AttnWeightedSumQ8Avx2(const float* w, const int8_t* v, int64_t n, int64_t d,
                              float* out) {
  const int64_t dv = d - d % kLanes;
  for (int64_t c0 = 0; c0 < dv; c0 += kLanes) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const int8_t* vc = v + c0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      acc0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), LoadQ8(vc + j * d), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_set1_ps(w[j + 1]), LoadQ8(vc + (j + 1) * d), acc1);
      acc2 = _mm256_fmadd_ps(_mm256_set1_ps(w[j + 2]), LoadQ8(vc + (j + 2) * d), acc2);
      acc3 = _mm256_fmadd_ps(_mm256_set1_ps(w[j + 3]), LoadQ8(vc + (j + 3) * d), acc3);
    }
    for (; j < n; ++j) acc0 = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), LoadQ8(vc + j * d), acc0);
    _mm256_storeu_ps(out + c0,
                     _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  }
  for (int64_t i = dv; i < d; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; ++j) s += w[j] * static_cast<float>(v[j * d + i]);
    out[i] = s;
  }
}

}  // namespace tt::cache::kernels
