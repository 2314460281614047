// Max pooling with argmax, AVX2: 8 outputs of one output row per step, the scheme of
// f32_maxpool_avx512.cc. The even/odd split of 16 input columns is a shuffle within
// 128-bit lanes plus a cross-lane permute; selections are blends of compare results.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/f32_vmath_avx2.h"
#include "acceleration/kernels/max_pool_kernels.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx2;

// The first n lanes as a maskload/maskstore mask; n <= 0 gives none, n >= 8 all.
inline __m256i LaneMask(int64_t n) { return v::TailMask(n < 0 ? 0 : (n > 8 ? 8 : n)); }

// Columns 0, 2, ..., 14 (even) or 1, 3, ..., 15 (odd) of the 16 floats a:b.
inline __m256 Even(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
inline __m256 Odd(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

// best/at: the running maximum and its index; replaced where candidate > best (false
// for NaN and ties, like the reference's `>`).
inline void Update(__m256 candidate, __m256i candidate_at, __m256* best, __m256i* at) {
  const __m256 greater = _mm256_cmp_ps(candidate, *best, _CMP_GT_OQ);
  *best = _mm256_blendv_ps(*best, candidate, greater);
  *at = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(*at), _mm256_castsi256_ps(candidate_at), greater));
}

void Pool2x2Stride2(const float* in, int64_t w, int64_t oh, int64_t ow, float* y, int32_t* argmax) {
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i down = _mm256_set1_epi32(static_cast<int32_t>(w));
  const __m256i down_right = _mm256_set1_epi32(static_cast<int32_t>(w + 1));
  for (int64_t i = 0; i < oh; ++i) {
    const float* r0 = in + 2 * i * w;
    const float* r1 = r0 + w;
    for (int64_t j = 0; j < ow; j += 8) {
      // Input columns [2j, 2j + 16) of both rows, in the last block only those that
      // belong to windows.
      const int64_t rest = ow - j < 8 ? ow - j : 8;
      const __m256i lo = LaneMask(2 * rest), hi = LaneMask(2 * rest - 8);
      const __m256 a0 = _mm256_maskload_ps(r0 + 2 * j, lo);
      const __m256 a1 = _mm256_maskload_ps(r0 + 2 * j + 8, hi);
      const __m256 b0 = _mm256_maskload_ps(r1 + 2 * j, lo);
      const __m256 b1 = _mm256_maskload_ps(r1 + 2 * j + 8, hi);
      const __m256i base =
          _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(2 * i * w + 2 * j)), even);
      __m256 best = Even(a0, a1);
      __m256i at = base;
      Update(Odd(a0, a1), _mm256_add_epi32(base, one), &best, &at);
      Update(Even(b0, b1), _mm256_add_epi32(base, down), &best, &at);
      Update(Odd(b0, b1), _mm256_add_epi32(base, down_right), &best, &at);
      const __m256i out_mask = LaneMask(rest);
      _mm256_maskstore_ps(y + i * ow + j, out_mask, best);
      _mm256_maskstore_epi32(argmax + i * ow + j, out_mask, at);
    }
  }
}

void PoolGeneral(const float* in, int64_t w, int64_t kernel, int64_t stride, int64_t oh, int64_t ow,
                 float* y, int32_t* argmax) {
  const __m256i lane_offset = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                 _mm256_set1_epi32(static_cast<int32_t>(stride)));
  for (int64_t i = 0; i < oh; ++i) {
    for (int64_t j = 0; j < ow; j += 8) {
      const __m256i mask = LaneMask(ow - j);
      const int64_t first = i * stride * w + j * stride;
      __m256 best = _mm256_setzero_ps();
      __m256i best_at = _mm256_setzero_si256();
      for (int64_t ki = 0; ki < kernel; ++ki) {
        for (int64_t kj = 0; kj < kernel; ++kj) {
          // at[l]: the flat index of window l's element (ki, kj) in the plane.
          const int64_t start = first + ki * w + kj;
          const __m256i at =
              _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(start)), lane_offset);
          const __m256 value = stride == 1 ? _mm256_maskload_ps(in + start, mask)
                                           : _mm256_mask_i32gather_ps(_mm256_setzero_ps(), in, at,
                                                                      _mm256_castsi256_ps(mask), 4);
          if (ki == 0 && kj == 0) {
            best = value;
            best_at = at;
          } else {
            Update(value, at, &best, &best_at);
          }
        }
      }
      _mm256_maskstore_ps(y + i * ow + j, mask, best);
      _mm256_maskstore_epi32(argmax + i * ow + j, mask, best_at);
    }
  }
}

}  // namespace

void F32MaxPool2dAvx2(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
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
