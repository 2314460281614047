// Single-query attention loops with AVX-512 (see attention_kernels.h). Compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma in its own library; called only when
// tt::accel::IsaSupported(Isa::kAvx512).
#include <immintrin.h>

#include "caching/kernels/attention_kernels.h"

namespace tt::cache::kernels {
namespace {

constexpr int kLanes = 16;

// The first r lanes (0 <= r <= 16).
inline __mmask16 FirstLanes(int64_t r) {
  return r >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << r) - 1u);
}

// Lane j of the result = the sum of the 16 lanes of a[j]: a 16 x 16 transpose folded
// into an add tree. Each step adds pairs of half-sums, so no lane is ever summed alone.
inline __m512 TransposeAdd16(const __m512 (&a)[16]) {
  __m512 s[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] for a = a[2i], b = a[2i+1].
    s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  __m512 t[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    // Per 128-bit lane: one partial sum of each of 4 consecutive keys.
    const __m512d x = _mm512_castps_pd(s[2 * i]), y = _mm512_castps_pd(s[2 * i + 1]);
    t[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  // Across the four 128-bit lanes: lane L of the result gathers t[L]'s four lanes.
  const __m512 w01 = _mm512_add_ps(_mm512_shuffle_f32x4(t[0], t[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(t[0], t[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 w23 = _mm512_add_ps(_mm512_shuffle_f32x4(t[2], t[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(t[2], t[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// One key: its d products summed into a vector (the last chunk masked).
inline __m512 KeyProducts(const float* q, const float* kj, int64_t d) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += kLanes) {
    const __mmask16 m = FirstLanes(d - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, kj + i), acc);
  }
  return acc;
}

// out[c0 : c0 + 16 kC] for d a multiple of 16 with kC = d / 16 chunks: 4 keys at a time,
// 4 x kC independent accumulators.
template <int kC>
void WeightedSumChunks(const float* p, const float* v, int64_t n, int64_t d, float* out) {
  __m512 acc[4][kC];
#pragma GCC unroll 4
  for (int u = 0; u < 4; ++u) {
#pragma GCC unroll 4
    for (int c = 0; c < kC; ++c) acc[u][c] = _mm512_setzero_ps();
  }
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512 pj = _mm512_set1_ps(p[j + u]);
      const float* vj = v + (j + u) * d;
#pragma GCC unroll 4
      for (int c = 0; c < kC; ++c) {
        acc[u][c] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + c * kLanes), acc[u][c]);
      }
    }
  }
  for (; j < n; ++j) {
    const __m512 pj = _mm512_set1_ps(p[j]);
#pragma GCC unroll 4
    for (int c = 0; c < kC; ++c) {
      acc[0][c] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + j * d + c * kLanes), acc[0][c]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < kC; ++c) {
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0][c], acc[1][c]),
                                     _mm512_add_ps(acc[2][c], acc[3][c]));
    _mm512_storeu_ps(out + c * kLanes, sum);
  }
}

// 16 (or the lanes of m) int8 values as floats.
inline __m512 LoadQ8(__mmask16 m, const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

template <int kC>
void WeightedSumQ8Chunks(const float* w, const int8_t* v, int64_t n, int64_t d, float* out) {
  __m512 acc[4][kC];
#pragma GCC unroll 4
  for (int u = 0; u < 4; ++u) {
#pragma GCC unroll 4
    for (int c = 0; c < kC; ++c) acc[u][c] = _mm512_setzero_ps();
  }
  const __mmask16 all = 0xFFFF;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512 wj = _mm512_set1_ps(w[j + u]);
      const int8_t* vj = v + (j + u) * d;
#pragma GCC unroll 4
      for (int c = 0; c < kC; ++c) {
        acc[u][c] = _mm512_fmadd_ps(wj, LoadQ8(all, vj + c * kLanes), acc[u][c]);
      }
    }
  }
  for (; j < n; ++j) {
    const __m512 wj = _mm512_set1_ps(w[j]);
#pragma GCC unroll 4
    for (int c = 0; c < kC; ++c) {
      acc[0][c] = _mm512_fmadd_ps(wj, LoadQ8(all, v + j * d + c * kLanes), acc[0][c]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < kC; ++c) {
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0][c], acc[1][c]),
                                     _mm512_add_ps(acc[2][c], acc[3][c]));
    _mm512_storeu_ps(out + c * kLanes, sum);
  }
}

}  // namespace

void F32AttnScoresAvx512(const float* q, const float* k, int64_t n, int64_t d, float scale,
                         float* scores) {
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    __m512 acc[kLanes];
#pragma GCC unroll 16
    for (int r = 0; r < kLanes; ++r) acc[r] = _mm512_setzero_ps();
    // Chunk-outer: each 16 floats of q are loaded once per block of 16 keys.
    for (int64_t i = 0; i < d; i += kLanes) {
      const __mmask16 m = FirstLanes(d - i);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      const float* kb = k + j * d + i;
#pragma GCC unroll 16
      for (int r = 0; r < kLanes; ++r) {
        acc[r] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, kb + r * d), acc[r]);
      }
    }
    _mm512_storeu_ps(scores + j, _mm512_mul_ps(vscale, TransposeAdd16(acc)));
  }
  for (; j < n; ++j) {
    scores[j] = scale * _mm512_reduce_add_ps(KeyProducts(q, k + j * d, d));
  }
}

void F32AttnWeightedSumAvx512(const float* p, const float* v, int64_t n, int64_t d,
                              float* out) {
  switch (d) {  // the common head sizes, with every chunk's accumulators in registers
    case 16:
      return WeightedSumChunks<1>(p, v, n, d, out);
    case 32:
      return WeightedSumChunks<2>(p, v, n, d, out);
    case 48:
      return WeightedSumChunks<3>(p, v, n, d, out);
    case 64:
      return WeightedSumChunks<4>(p, v, n, d, out);
    default:
      break;
  }
  // Any d: one 16-float column chunk at a time (the last masked), 4 keys interleaved.
  for (int64_t c0 = 0; c0 < d; c0 += kLanes) {
    const __mmask16 m = FirstLanes(d - c0);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const float* vc = v + c0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_maskz_loadu_ps(m, vc + j * d), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_set1_ps(p[j + 1]),
                             _mm512_maskz_loadu_ps(m, vc + (j + 1) * d), acc1);
      acc2 = _mm512_fmadd_ps(_mm512_set1_ps(p[j + 2]),
                             _mm512_maskz_loadu_ps(m, vc + (j + 2) * d), acc2);
      acc3 = _mm512_fmadd_ps(_mm512_set1_ps(p[j + 3]),
                             _mm512_maskz_loadu_ps(m, vc + (j + 3) * d), acc3);
    }
    for (; j < n; ++j) {
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_maskz_loadu_ps(m, vc + j * d), acc0);
    }
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
    _mm512_mask_storeu_ps(out + c0, m, sum);
  }
}

void F32AttnScoresQ8Avx512(const float* q, const int8_t* k, const float* kscale, int64_t n,
                           int64_t d, float scale, float* scores) {
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    __m512 acc[kLanes];
#pragma GCC unroll 16
    for (int r = 0; r < kLanes; ++r) acc[r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += kLanes) {
      const __mmask16 m = FirstLanes(d - i);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      const int8_t* kb = k + j * d + i;
#pragma GCC unroll 16
      for (int r = 0; r < kLanes; ++r) acc[r] = _mm512_fmadd_ps(qv, LoadQ8(m, kb + r * d), acc[r]);
    }
    const __m512 row_scales = _mm512_mul_ps(vscale, _mm512_loadu_ps(kscale + j));
    _mm512_storeu_ps(scores + j, _mm512_mul_ps(row_scales, TransposeAdd16(acc)));
  }
  for (; j < n; ++j) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += kLanes) {
      const __mmask16 m = FirstLanes(d - i);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), LoadQ8(m, k + j * d + i), acc);
    }
    scores[j] = scale * kscale[j] * _mm512_reduce_add_ps(acc);
  }
}

void F32AttnWeightedSumQ8Avx512(const float* w, const int8_t* v, int64_t n, int64_t d,
                                float* out) {
  switch (d) {
    case 16:
      return WeightedSumQ8Chunks<1>(w, v, n, d, out);
    case 32:
      return WeightedSumQ8Chunks<2>(w, v, n, d, out);
    case 48:
      return WeightedSumQ8Chunks<3>(w, v, n, d, out);
    case 64:
      return WeightedSumQ8Chunks<4>(w, v, n, d, out);
    default:
      break;
  }
  for (int64_t c0 = 0; c0 < d; c0 += kLanes) {
    const __mmask16 m = FirstLanes(d - c0);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    const int8_t* vc = v + c0;
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
      acc0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), LoadQ8(m, vc + j * d), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_set1_ps(w[j + 1]), LoadQ8(m, vc + (j + 1) * d), acc1);
    }
    if (j < n) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), LoadQ8(m, vc + j * d), acc0);
    _mm512_mask_storeu_ps(out + c0, m, _mm512_add_ps(acc0, acc1));
  }
}

}  // namespace tt::cache::kernels
