// PackA14x32Avx512 / PackB14x32Avx512: the packing of f32_gemm_pack.cc for the
// 14 x 32 AVX-512 micro-kernel, vectorized where the plain loops are slow. Same contract
// and bit-identical output (tested against PackA / PackB); compiled with -mavx512f in the
// AVX-512 library, called only when IsaSupported(Isa::kAvx512).
//
// What is slow in plain C++ is the transpose: packing A stored (M,K) turns 14 rows into
// panels whose k-th group is one value of each row (scalar: a load and a store per float,
// about a cycle each), and likewise B stored (N,K). Here 16 rows x 16 columns are loaded
// as 16 vectors and transposed in registers (64 shuffles, 4 stages), then each column is
// written with one (masked) store. At 1024^3 this halves the packing time, which was
// about 7% of the GEMM (f32_gemm_pack.cc is scalar-bound, not memory-bound).
// The non-transposed B copy is plain vector loads and stores.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {
namespace {

constexpr int kMr = 14;
constexpr int kNr = 32;

// In place: v[r] holds row r (16 values) on entry, column r on exit.
inline void Transpose16x16(__m512 v[16]) {
  // Stage 1: interleave pairs of rows within each 128-bit lane.
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  // Stage 2: pairs of pairs; s[4g + c] now holds, in 128-bit lane L, column 4L + c of
  // rows 4g .. 4g+3.
  __m512 s[16];
  for (int g = 0; g < 4; ++g) {
    const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
    s[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    s[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    s[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    s[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // Stages 3 and 4: a 4 x 4 transpose of 128-bit lanes, for each c.
  for (int c = 0; c < 4; ++c) {
    const __m512 x0 = _mm512_shuffle_f32x4(s[c], s[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 x1 = _mm512_shuffle_f32x4(s[c], s[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 x2 = _mm512_shuffle_f32x4(s[8 + c], s[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 x3 = _mm512_shuffle_f32x4(s[8 + c], s[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    v[c] = _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(2, 0, 2, 0));       // column c
    v[4 + c] = _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(3, 1, 3, 1));   // column 4 + c
    v[8 + c] = _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(2, 0, 2, 0));   // column 8 + c
    v[12 + c] = _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(3, 1, 3, 1));  // column 12 + c
  }
}

inline __mmask16 FirstLanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
         : count <= 0 ? static_cast<__mmask16>(0)
                      : static_cast<__mmask16>((1u << count) - 1);
}

}  // namespace

void PackA14x32Avx512(const float* a, int64_t lda, tensor::Trans trans, float alpha,
                      int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, float* dst) {
  if (trans == tensor::Trans::kYes || mr != kMr) {
    return PackA(a, lda, trans, alpha, i0, mc, p0, kc, mr, dst);  // already contiguous
  }
  const __m512 scale = _mm512_set1_ps(alpha);
  for (int64_t r0 = 0; r0 < mc; r0 += kMr) {
    float* panel = dst + (r0 / kMr) * kc * kMr;
    const int64_t rows = mc - r0 < kMr ? mc - r0 : kMr;
    const float* src = a + (i0 + r0) * lda + p0;
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
      // Rows 14 and 15 (and rows past mc) are zeros: the panel's padding.
      __m512 v[16];
      for (int r = 0; r < 16; ++r) {
        v[r] = r < rows ? _mm512_mul_ps(scale, _mm512_loadu_ps(src + r * lda + p))
                        : _mm512_setzero_ps();
      }
      Transpose16x16(v);
      // Column j holds the 14 values of step p + j: one masked store each (the panel
      // groups are 14 floats, so they do not line up with vectors).
      for (int j = 0; j < 16; ++j) {
        _mm512_mask_storeu_ps(panel + (p + j) * kMr, FirstLanes(kMr), v[j]);
      }
    }
    for (; p < kc; ++p) {  // the last kc % 16 steps
      for (int r = 0; r < kMr; ++r) panel[p * kMr + r] = r < rows ? alpha * src[r * lda + p] : 0.0f;
    }
  }
}

void PackB14x32Avx512(const float* b, int64_t ldb, tensor::Trans trans, int64_t p0,
                      int64_t kc, int64_t j0, int64_t nc, int nr, int64_t panel_begin,
                      int64_t panel_end, float* dst) {
  if (nr != kNr) return PackB(b, ldb, trans, p0, kc, j0, nc, nr, panel_begin, panel_end, dst);
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    float* panel = dst + q * kc * kNr;  // 64-byte aligned: kc * 32 floats per panel
    const int64_t j = q * kNr;
    const int64_t cols = nc - j < kNr ? nc - j : kNr;
    if (trans == tensor::Trans::kNo) {
      // Stored (K,N): each step is a piece of a row; masked loads zero the edge columns.
      const __mmask16 k0 = FirstLanes(cols), k1 = FirstLanes(cols - 16);
      const float* src = b + p0 * ldb + j0 + j;
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_store_ps(panel + p * kNr, _mm512_maskz_loadu_ps(k0, src + p * ldb));
        _mm512_store_ps(panel + p * kNr + 16, _mm512_maskz_loadu_ps(k1, src + p * ldb + 16));
      }
      continue;
    }
    // Stored (N,K): 16 rows of the stored B (16 columns of the panel) x 16 steps at a
    // time, transposed in registers; each half of the panel row is one aligned store.
    const float* src = b + (j0 + j) * ldb + p0;
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
      for (int half = 0; half < 2; ++half) {
        __m512 v[16];
        for (int c = 0; c < 16; ++c) {
          const int64_t col = half * 16 + c;
          v[c] = col < cols ? _mm512_loadu_ps(src + col * ldb + p) : _mm512_setzero_ps();
        }
        Transpose16x16(v);
        for (int s = 0; s < 16; ++s) _mm512_store_ps(panel + (p + s) * kNr + half * 16, v[s]);
      }
    }
    for (; p < kc; ++p) {
      for (int c = 0; c < kNr; ++c) panel[p * kNr + c] = c < cols ? src[c * ldb + p] : 0.0f;
    }
  }
}

}  // namespace tt::accel::internal
