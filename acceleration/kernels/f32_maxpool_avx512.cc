// Max pooling with argmax, AVX-512: 16 outputs of one output row per step.
//
// 2x2 / stride 2: two 16-float loads per input row cover 16 windows; permutes split them
// into the even (left) and odd (right) columns, and three compare-and-select steps in
// the reference's scan order (top-left, top-right, bottom-left, bottom-right) keep the
// first maximum and its flat index. Other shapes: for each window offset (ki, kj), a
// contiguous load (stride 1) or a gather (stride > 1) brings that element of 16 windows.
// Strict _CMP_GT_OQ is false for NaN, like the reference's `>`: ties and NaN never
// replace the current best.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/f32_vmath_avx512.h"
#include "acceleration/kernels/max_pool_kernels.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx512;

// The first n lanes, n clamped to [0, 16].
inline __mmask16 LaneMask(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : v::TailMask(n);
}

// best/at: the running maximum and its index; replaced where candidate > best.
inline void Update(__m512 candidate, __m512i candidate_at, __m512* best, __m512i* at) {
  const __mmask16 greater = _mm512_cmp_ps_mask(candidate, *best, _CMP_GT_OQ);
  *best = _mm512_mask_mov_ps(*best, greater, candidate);
  *at = _mm512_mask_mov_epi32(*at, greater, candidate_at);
}

void Pool2x2Stride2(const float* in, int64_t w, int64_t oh, int64_t ow, float* y, int32_t* argmax) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i down = _mm512_set1_epi32(static_cast<int32_t>(w));
  const __m512i down_right = _mm512_set1_epi32(static_cast<int32_t>(w + 1));
  for (int64_t i = 0; i < oh; ++i) {
    const float* r0 = in + 2 * i * w;
    const float* r1 = r0 + w;
    for (int64_t j = 0; j < ow; j += 16) {
      // Input columns [2j, 2j + 32) of both rows; in the last block only the 2 * rest
      // columns that belong to windows (masked loads never touch the others).
      const int64_t rest = ow - j < 16 ? ow - j : 16;
      const __mmask16 lo = LaneMask(2 * rest), hi = LaneMask(2 * rest - 16);
      const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * j);
      const __m512 a1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * j + 16);
      const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * j);
      const __m512 b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * j + 16);
      const __m512i base =
          _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * i * w + 2 * j)), even);
      __m512 best = _mm512_permutex2var_ps(a0, even, a1);
      __m512i at = base;
      Update(_mm512_permutex2var_ps(a0, odd, a1), _mm512_add_epi32(base, one), &best, &at);
      Update(_mm512_permutex2var_ps(b0, even, b1), _mm512_add_epi32(base, down), &best, &at);
      Update(_mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(base, down_right), &best, &at);
      _mm512_mask_storeu_ps(y + i * ow + j, LaneMask(rest), best);
      _mm512_mask_storeu_epi32(argmax + i * ow + j, LaneMask(rest), at);
    }
  }
}

void PoolGeneral(const float* in, int64_t w, int64_t kernel, int64_t stride, int64_t oh, int64_t ow,
                 float* y, int32_t* argmax) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lane_offset =
      _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int32_t>(stride)));
  for (int64_t i = 0; i < oh; ++i) {
    for (int64_t j = 0; j < ow; j += 16) {
      const int64_t rest = ow - j < 16 ? ow - j : 16;
      const __mmask16 mask = LaneMask(rest);
      const int64_t first = i * stride * w + j * stride;
      __m512 best = _mm512_setzero_ps();
      __m512i best_at = _mm512_setzero_si512();
      for (int64_t ki = 0; ki < kernel; ++ki) {
        for (int64_t kj = 0; kj < kernel; ++kj) {
          // at[l]: the flat index of window l's element (ki, kj) in the plane.
          const int64_t start = first + ki * w + kj;
          const __m512i at =
              _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(start)), lane_offset);
          const __m512 value = stride == 1
                                   ? _mm512_maskz_loadu_ps(mask, in + start)
                                   : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, at, in, 4);
          if (ki == 0 && kj == 0) {
            best = value;
            best_at = at;
          } else {
            Update(value, at, &best, &best_at);
          }
        }
      }
      _mm512_mask_storeu_ps(y + i * ow + j, mask, best);
      _mm512_mask_storeu_epi32(argmax + i * ow + j, mask, best_at);
    }
  }
}

}  // namespace

void F32MaxPool2dAvx512(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
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
