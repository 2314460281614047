// Weight-only GEMV, AVX2+FMA: up to 2 rows of x against one 32-column chunk of a panel
// at a time (2 rows x 4 ymm accumulators + 4 dequantized weight vectors fit the 16 ymm
// registers), weights dequantized in registers.
//
// Per step of k and 8 columns:
//   int8: vpmovsxbd (8 bytes -> 8 int32), vcvtdq2ps, one FMA per row.
//   int4: vpmovzxbd of 8 bytes gives the nibbles of 16 columns in 8 lanes; AND 15 (low
//         nibbles) or a shift by 4 (high nibbles), minus the offset 8, vcvtdq2ps, one
//         FMA per row with the block's x * scale broadcast. (AVX2 has no 16-entry
//         float table lookup, so the offset is subtracted instead.)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "quantization/kernels/wo_kernels.h"

namespace tt::quant::kernels {
namespace {

constexpr int kMaxRows = 2;

// Stores the 8 floats of `v` at y[col..], keeping only columns < cols.
inline void StoreColumns(float* y, int64_t col, int64_t cols, __m256 v) {
  if (col + 8 <= cols) {
    _mm256_storeu_ps(y + col, v);
  } else if (col < cols) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::copy(tmp, tmp + (cols - col), y + col);
  }
}

// One 32-column chunk: `chunk` points at its first byte in row 0; rows are `stride`
// bytes apart.
template <int MR>
void Q8Chunk(int64_t k, const float* x, int64_t ldx, const int8_t* chunk, int64_t stride,
             const float* scale, float* y, int64_t ldy, int64_t cols) {
  __m256 acc[MR][4];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const int8_t* row = chunk + p * stride;
    __m256 w[4];
    for (int v = 0; v < 4; ++v) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + 8 * v));
      w[v] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    }
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_broadcast_ss(x + r * ldx + p);
      for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_fmadd_ps(w[v], xv, acc[r][v]);
    }
  }
  for (int v = 0; v < 4; ++v) {
    const __m256 s = _mm256_loadu_ps(scale + 8 * v);
    for (int r = 0; r < MR; ++r) {
      StoreColumns(y + r * ldy, 8 * v, cols, _mm256_mul_ps(acc[r][v], s));
    }
  }
}

// One 32-column chunk of int4: 16 bytes per row, `stride` bytes apart. lo_block and
// hi_block are the blocks of its columns 0..15 and 16..31; xs points at row r0's value
// of block 0 at k = 0, with blocks `ld` (= m) apart and steps of k nb * m apart.
template <int MR>
void Q4Chunk(int64_t k, int64_t nb, const float* xs, int64_t ld, int64_t lo_block,
             int64_t hi_block, const uint8_t* chunk, int64_t stride, float* y, int64_t ldy,
             int64_t cols) {
  const float* x_lo = xs + lo_block * ld;
  const float* x_hi = xs + hi_block * ld;
  const int64_t step = nb * ld;
  const __m256i fifteen = _mm256_set1_epi32(15);
  const __m256i eight = _mm256_set1_epi32(8);
  // acc[r][0..3]: columns 0-7, 8-15, 16-23, 24-31 of the chunk.
  __m256 acc[MR][4];
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const uint8_t* row = chunk + p * stride;
    __m256 w[4];
    for (int half = 0; half < 2; ++half) {
      const __m256i b = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + 8 * half)));
      w[half] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b, fifteen), eight));
      w[half + 2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 4), eight));
    }
    for (int r = 0; r < MR; ++r) {
      const __m256 lo = _mm256_broadcast_ss(x_lo + p * step + r);
      const __m256 hi = _mm256_broadcast_ss(x_hi + p * step + r);
      acc[r][0] = _mm256_fmadd_ps(w[0], lo, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(w[1], lo, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(w[2], hi, acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(w[3], hi, acc[r][3]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < 4; ++v) StoreColumns(y + r * ldy, 8 * v, cols, acc[r][v]);
  }
}

}  // namespace

void WoQ8GemvAvx2(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                  const int8_t* w, const float* scale, float* y, int64_t ldy) {
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    for (int64_t c0 = 0; c0 < pw && n0 + c0 < n; c0 += kWoChunk) {
      const int64_t cols = std::min(kWoChunk, n - n0 - c0);
      const int8_t* chunk = w + n0 * k + c0;
      for (int64_t r0 = 0; r0 < m; r0 += kMaxRows) {
        float* yr = y + r0 * ldy + n0 + c0;
        if (m - r0 >= 2) {
          Q8Chunk<2>(k, x + r0 * ldx, ldx, chunk, pw, scale + n0 + c0, yr, ldy, cols);
        } else {
          Q8Chunk<1>(k, x + r0 * ldx, ldx, chunk, pw, scale + n0 + c0, yr, ldy, cols);
        }
      }
    }
  }
}

void WoQ4GemvAvx2(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                  const uint8_t* w, float* y, int64_t ldy) {
  const int64_t nb = n / bs;
  for (int64_t n0 = 0; n0 < n; n0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(n0, n);
    for (int64_t c0 = 0; c0 < pw && n0 + c0 < n; c0 += kWoChunk) {
      const int64_t cols = std::min(kWoChunk, n - n0 - c0);
      // Padding columns (>= N) hold q = 0; any valid block index will do for them.
      const int64_t lo_block = std::min(n0 + c0, n - 1) / bs;
      const int64_t hi_block = std::min(n0 + c0 + 16, n - 1) / bs;
      const uint8_t* chunk = w + n0 * k / 2 + c0 / 2;
      for (int64_t r0 = 0; r0 < m; r0 += kMaxRows) {
        float* yr = y + r0 * ldy + n0 + c0;
        if (m - r0 >= 2) {
          Q4Chunk<2>(k, nb, xs + r0, m, lo_block, hi_block, chunk, pw / 2, yr, ldy,
                     cols);
        } else {
          Q4Chunk<1>(k, nb, xs + r0, m, lo_block, hi_block, chunk, pw / 2, yr, ldy,
                     cols);
        }
      }
    }
  }
}

}  // namespace tt::quant::kernels
