// Weight-only GEMV, AVX-512: up to 4 rows of x against one panel of 32 or 64 columns at
// a time, all accumulators in zmm registers (4 rows x 4 vectors = 16 of the 32), the
// weights dequantized in registers and never written back.
//
// Per step of k and 16 columns:
//   int8: vpmovsxbd (16 bytes -> 16 int32), vcvtdq2ps, then one FMA per row with x[r, k]
//         broadcast; the per-column scale multiplies the finished sums once.
//   int4: vpmovzxbd of 16 bytes gives 32 columns' nibbles in 16 lanes; vpermps with a
//         16-entry table {-8, ..., 7} turns the low nibbles (the index ignores the high
//         bits) and, after a shift by 4, the high nibbles into floats in one instruction
//         each, so int4 needs fewer instructions per column than int8. One FMA per row
//         with the block's x * scale broadcast.
// On AVX-512 cores the shuffles (vpmov*, vpermps) and the FMAs/conversions go to
// different ports, which is why the int4 mix is the better balanced one.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {
namespace {

constexpr int kMaxRows = 4;

// Stores the 16 floats of `v` at y[col..], keeping only columns < cols.
inline void StoreColumns(float* y, int64_t col, int64_t cols, __m512 v) {
  if (col + 16 <= cols) {
    _mm512_storeu_ps(y + col, v);
  } else if (col < cols) {
    _mm512_mask_storeu_ps(y + col, static_cast<__mmask16>((1u << (cols - col)) - 1), v);
  }
}

template <int MR, int NV>
void Q8Panel(int64_t k, const float* x, int64_t ldx, const int8_t* panel, const float* scale,
             float* y, int64_t ldy, int64_t cols) {
  constexpr int64_t pw = 16 * NV;
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const int8_t* row = panel + p * pw;
    __m512 w[NV];
    for (int v = 0; v < NV; ++v) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16 * v));
      w[v] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
    }
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r * ldx + p]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(w[v], xv, acc[r][v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    const __m512 s = _mm512_loadu_ps(scale + 16 * v);
    for (int r = 0; r < MR; ++r) {
      StoreColumns(y + r * ldy, 16 * v, cols, _mm512_mul_ps(acc[r][v], s));
    }
  }
}

// xs points at row r0's value of block 0, k = 0; `ld` = m (the total rows) is the
// stride between blocks, nb * m between steps of k.
template <int MR, int NV>
void Q4Panel(int64_t k, int64_t nb, const float* xs, int64_t ld, const int64_t* block,
             const uint8_t* panel, float* y, int64_t ldy, int64_t cols) {
  constexpr int64_t row_bytes = 8 * NV;  // pw / 2
  const __m512 lut = _mm512_setr_ps(-8.f, -7.f, -6.f, -5.f, -4.f, -3.f, -2.f, -1.f, 0.f, 1.f,
                                    2.f, 3.f, 4.f, 5.f, 6.f, 7.f);
  // One pointer per vector; rows are adjacent after it (small constant offsets).
  const float* xv[NV];
  for (int v = 0; v < NV; ++v) xv[v] = xs + block[v] * ld;
  const int64_t step = nb * ld;
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const uint8_t* row = panel + p * row_bytes;
    __m512 w[NV];
    for (int c = 0; c < NV / 2; ++c) {
      const __m512i b = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16 * c)));
      w[2 * c] = _mm512_permutexvar_ps(b, lut);
      w[2 * c + 1] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), lut);
    }
    const int64_t at = p * step;
    for (int r = 0; r < MR; ++r) {
      for (int v = 0; v < NV; ++v) {
        acc[r][v] = _mm512_fmadd_ps(w[v], _mm512_set1_ps(xv[v][at + r]), acc[r][v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) StoreColumns(y + r * ldy, 16 * v, cols, acc[r][v]);
  }
}

// Calls F<mr, nv> for the run-time mr in 1..4 and nv in {2, 4}.
template <template <int, int> class F, typename... Args>
void Dispatch(int mr, int64_t pw, Args... args) {
  const bool wide = pw == kWoPanel;
  switch (mr) {
    case 1: wide ? F<1, 4>::Run(args...) : F<1, 2>::Run(args...); break;
    case 2: wide ? F<2, 4>::Run(args...) : F<2, 2>::Run(args...); break;
    case 3: wide ? F<3, 4>::Run(args...) : F<3, 2>::Run(args...); break;
    default: wide ? F<4, 4>::Run(args...) : F<4, 2>::Run(args...); break;
  }
}

template <int MR, int NV>
struct Q8 {
  template <typename... Args>
  static void Run(Args... args) { Q8Panel<MR, NV>(args...); }
};
template <int MR, int NV>
struct Q4 {
  template <typename... Args>
  static void Run(Args... args) { Q4Panel<MR, NV>(args...); }
};

}  // namespace

void WoQ8GemvAvx512(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                    const int8_t* w, const float* scale, float* y, int64_t ldy) {
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    const int64_t cols = std::min(pw, n - n0);
    for (int64_t r0 = 0; r0 < m; r0 += kMaxRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, m - r0));
      Dispatch<Q8>(mr, pw, k, x + r0 * ldx, ldx, w + n0 * k, scale + n0, y + r0 * ldy + n0,
                   ldy, cols);
    }
  }
}

void WoQ4GemvAvx512(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                    const uint8_t* w, float* y, int64_t ldy) {
  const int64_t nb = n / bs;
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    const int64_t cols = std::min(pw, n - n0);
    // The block (within a row) of each 16-column vector; padding vectors reuse the last.
    int64_t block[kWoPanel / 16];
    for (int v = 0; v < kWoPanel / 16; ++v) block[v] = std::min(n0 + 16 * v, n - 1) / bs;
    for (int64_t r0 = 0; r0 < m; r0 += kMaxRows) {
      const int mr = static_cast<int>(std::min<int64_t>(kMaxRows, m - r0));
      Dispatch<Q4>(mr, pw, k, nb, xs + r0, m, static_cast<const int64_t*>(block),
                   w + n0 * k / 2, y + r0 * ldy + n0, ldy, cols);
    }
  }
}

}  // namespace tt::quant::kernels
