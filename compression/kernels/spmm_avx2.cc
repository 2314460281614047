// The AVX2+FMA sparse kernels: a gather GEMV and a batch-vectorized product over panels
// of up to 32 rows (spmm_kernels.h explains both formulations). 16 ymm registers: the
// batch kernel keeps at most 8 accumulators.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "compression/kernels/spmm_kernels.h"

namespace tt::compress::kernels {
namespace {

constexpr int64_t kPanel = 32;  // rows of x per panel: 4 ymm of batch elements
static_assert(kPanel <= kSpmmMaxPanel, "scratch is sized for kSpmmMaxPanel");

// All bits set in lanes [0, n), n in [0, 8]: the mask form of maskload / gather.
inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float ReduceAdd(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// --- Gather GEMV ----------------------------------------------------------------------

// sum_j values[j] * x[col_idx[j]] over j in [begin, end), 8 at a time, two gathers in
// flight; the tail gathers only the lanes before `end`.
inline float SparseDot(const int32_t* col_idx, const float* values, int64_t begin, int64_t end,
                       const float* x) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t j = begin;
  for (; j + 16 <= end; j += 16) {
    const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col_idx + j));
    const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col_idx + j + 8));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(values + j), _mm256_i32gather_ps(x, i0, 4), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(values + j + 8), _mm256_i32gather_ps(x, i1, 4), a1);
  }
  if (j + 8 <= end) {
    const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col_idx + j));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(values + j), _mm256_i32gather_ps(x, i0, 4), a0);
    j += 8;
  }
  if (j < end) {
    const __m256i m = TailMask(end - j);
    const __m256i i1 = _mm256_maskload_epi32(col_idx + j, m);
    const __m256 g =
        _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, i1, _mm256_castsi256_ps(m), 4);
    a1 = _mm256_fmadd_ps(_mm256_maskload_ps(values + j, m), g, a1);
  }
  return ReduceAdd(_mm256_add_ps(a0, a1));
}

// --- Batch product --------------------------------------------------------------------

// Transposes the 8x8 block r[0..7] in place (r[j] becomes column j): 32-bit pairs and
// 64-bit pairs within 128-bit lanes, then the lanes across registers.
inline void Transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 2; ++g) {  // rows 4g..4g+3; u[4g + c], lane L: column 4L + c
    u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);      // low lanes: column c
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);  // high lanes: column 4 + c
  }
}

// dst[c * ldd + r] = src[r * lds + c] for r < nr, c < nc (both <= 8). Each of the nc
// written dst rows gets 8 floats, zero past nr (kZeroPad), or only its first nr floats
// (!kZeroPad: for y, whose rows must not be touched past `out`).
template <bool kZeroPad>
inline void TransposeBlock(const float* src, int64_t lds, int64_t nr, int64_t nc, float* dst,
                           int64_t ldd) {
  const __m256i cols = TailMask(nc);
  __m256 r[8];
  for (int i = 0; i < 8; ++i) {
    r[i] = i < nr ? _mm256_maskload_ps(src + i * lds, cols) : _mm256_setzero_ps();
  }
  Transpose8x8(r);
  if (kZeroPad) {
    for (int i = 0; i < nc; ++i) _mm256_storeu_ps(dst + i * ldd, r[i]);
  } else {
    const __m256i rows = TailMask(nr);
    for (int i = 0; i < nc; ++i) _mm256_maskstore_ps(dst + i * ldd, rows, r[i]);
  }
}

// yt[n, 0:8 NV] = bias[n] + sum_j values[j] * xt[col_idx[j], 0:8 NV] (row stride 8 NV),
// U nonzeros per iteration into U * NV independent accumulators. As on AVX-512, inputs
// in blocks whose rows of xt fit in L1 when a panel has more than one vector
// (spmm_avx512.cc explains why); `cursor` (out entries) remembers where each output
// stopped.
template <int NV, int U, bool kBlocked>
void PanelProduct(const SparseWeight& w, const float* xt, bool relu, float* yt,
                  int32_t* cursor) {
  constexpr int64_t kLd = 8 * NV;
  constexpr int64_t kL1Bytes = 24 << 10;  // of a 32 KiB L1 (AVX2-only CPUs)
  const int64_t kBlock = kBlocked ? kL1Bytes / (kLd * 4) : w.in;  // inputs per block
  std::copy(w.row_ptr, w.row_ptr + w.out, cursor);
  for (int64_t k0 = 0; k0 < w.in; k0 += kBlock) {
    const int32_t k1 = static_cast<int32_t>(k0 + kBlock < w.in ? k0 + kBlock : w.in);
    const bool first = k0 == 0, last = k1 == w.in;
    for (int64_t n = 0; n < w.out; ++n) {
      __m256 acc[U][NV];
      for (int u = 0; u < U; ++u) {
        for (int v = 0; v < NV; ++v) {
          acc[u][v] = u > 0    ? _mm256_setzero_ps()
                      : first ? _mm256_set1_ps(w.bias[n])
                              : _mm256_load_ps(yt + n * kLd + 8 * v);
        }
      }
      int64_t j = cursor[n];
      const int64_t end = w.row_ptr[n + 1];
      for (; j + U <= end && (!kBlocked || w.col_idx[j + U - 1] < k1); j += U) {
        for (int u = 0; u < U; ++u) {
          const float* xk = xt + static_cast<int64_t>(w.col_idx[j + u]) * kLd;
          const __m256 value = _mm256_set1_ps(w.values[j + u]);
          for (int v = 0; v < NV; ++v) {
            acc[u][v] = _mm256_fmadd_ps(value, _mm256_load_ps(xk + 8 * v), acc[u][v]);
          }
        }
      }
      for (; j < end && (!kBlocked || w.col_idx[j] < k1); ++j) {
        const float* xk = xt + static_cast<int64_t>(w.col_idx[j]) * kLd;
        const __m256 value = _mm256_set1_ps(w.values[j]);
        for (int v = 0; v < NV; ++v) {
          acc[0][v] = _mm256_fmadd_ps(value, _mm256_load_ps(xk + 8 * v), acc[0][v]);
        }
      }
      cursor[n] = static_cast<int32_t>(j);
      for (int v = 0; v < NV; ++v) {
        __m256 s = acc[0][v];
        for (int u = 1; u < U; ++u) s = _mm256_add_ps(s, acc[u][v]);
        if (last && relu) s = _mm256_max_ps(s, _mm256_setzero_ps());  // max(NaN, 0) = 0
        _mm256_store_ps(yt + n * kLd + 8 * v, s);
      }
    }
  }
}

}  // namespace

void SpmvAvx2(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
              float* /*scratch*/) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * w.in;
    float* yr = y + r * w.out;
    for (int64_t n = 0; n < w.out; ++n) {
      const float v =
          w.bias[n] + SparseDot(w.col_idx, w.values, w.row_ptr[n], w.row_ptr[n + 1], xr);
      yr[n] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

void SpmmAvx2(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
              float* scratch) {
  std::vector<int32_t> cursor(w.out);
  for (int64_t r0 = 0; r0 < rows; r0 += kPanel) {
    const int64_t nr = rows - r0 < kPanel ? rows - r0 : kPanel;
    const int64_t nv = (nr + 7) / 8;  // ymm per xt row
    const int64_t ld = 8 * nv;
    float* xt = scratch;             // (in, ld)
    float* yt = scratch + w.in * ld;  // (out, ld)
    for (int64_t b0 = 0; b0 < ld; b0 += 8) {
      const int64_t bn = nr - b0 < 8 ? nr - b0 : 8;
      for (int64_t k0 = 0; k0 < w.in; k0 += 8) {
        const int64_t kn = w.in - k0 < 8 ? w.in - k0 : 8;
        TransposeBlock<true>(x + (r0 + b0) * w.in + k0, w.in, bn, kn, xt + k0 * ld + b0, ld);
      }
    }
    switch (nv) {
      case 1: PanelProduct<1, 4, false>(w, xt, relu, yt, cursor.data()); break;
      case 2: PanelProduct<2, 4, true>(w, xt, relu, yt, cursor.data()); break;
      case 3: PanelProduct<3, 2, true>(w, xt, relu, yt, cursor.data()); break;
      default: PanelProduct<4, 2, true>(w, xt, relu, yt, cursor.data()); break;
    }
    for (int64_t b0 = 0; b0 < nr; b0 += 8) {
      const int64_t bn = nr - b0 < 8 ? nr - b0 : 8;
      for (int64_t n0 = 0; n0 < w.out; n0 += 8) {
        const int64_t nn = w.out - n0 < 8 ? w.out - n0 : 8;
        TransposeBlock<false>(yt + n0 * ld + b0, ld, nn, bn, y + (r0 + b0) * w.out + n0,
                              w.out);
      }
    }
  }
}

}  // namespace tt::compress::kernels
