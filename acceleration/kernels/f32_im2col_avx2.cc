// im2col / col2im with AVX2 for stride 1 along the width: the loops of tensor's
// ReferenceBackend, with each output row's pieces moved by masked vector loads and
// stores instead of std::copy / std::fill calls.
//
// Why it pays: for the course's CNN a row is 28 or 14 floats (112 or 56 bytes), so the
// reference spends most of its time entering memmove / memset for each of the rows
// (145,000 in a batch-64 forward), not moving bytes. Here a row is one or two masked
// instructions. Compiled with -mavx2 in its own library; called only when ActiveIsa()
// is kAvx2Fma. The same code as f32_im2col_avx512.cc with 8-float vectors and
// vmaskmovps (which, like AVX-512 masks, never touches the masked-off lanes).
#include <immintrin.h>

#include <algorithm>

#include "acceleration/kernels/im2col_kernels.h"

namespace tt::accel::kernels {
namespace {

constexpr int64_t kLanes = 8;

// All-ones in lanes j < count (count >= 1), the mask vmaskmovps wants.
inline __m256i FirstLanes(int64_t count) {
  const int clamped = count >= kLanes ? static_cast<int>(kLanes) : static_cast<int>(count);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(clamped),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// dst[0:n] = 0, n >= 0.
inline void Zero(float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    _mm256_maskstore_ps(dst + i, FirstLanes(n - i), _mm256_setzero_ps());
  }
}

// dst[0:n] = src[0:n].
inline void Copy(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = FirstLanes(n - i);
    _mm256_maskstore_ps(dst + i, m, _mm256_maskload_ps(src + i, m));
  }
}

// dst[0:n] += src[0:n].
inline void Accumulate(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i m = FirstLanes(n - i);
    const __m256 sum =
        _mm256_add_ps(_mm256_maskload_ps(dst + i, m), _mm256_maskload_ps(src + i, m));
    _mm256_maskstore_ps(dst + i, m, sum);
  }
}

// Output columns xo whose input column xo + kj - pad lies in [0, width): [lo, hi).
inline void ValidColumns(const tensor::ConvGeometry& g, int64_t ow, int64_t kj, int64_t* lo,
                         int64_t* hi) {
  const int64_t shift = kj - g.pad_w;
  *hi = std::min(ow, g.width - shift);
  *lo = std::min(std::max<int64_t>(0, -shift), std::max<int64_t>(0, *hi));
  *hi = std::max(*hi, *lo);
}

}  // namespace

void F32Im2ColS1Avx2(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        float* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        ValidColumns(g, ow, kj, &lo, &hi);
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * g.stride_h - g.pad_h + ki;
          float* out = row + y * ow;
          if (iy < 0 || iy >= g.height) {
            Zero(out, ow);
            continue;
          }
          // Output column xo reads input column xo + kj - pad.
          const float* in = x + (c * g.height + iy) * g.width;
          Zero(out, lo);
          Copy(in + lo + kj - g.pad_w, out + lo, hi - lo);
          Zero(out + hi, ow - hi);
        }
      }
    }
  }
}

void F32Col2ImS1Avx2(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const float* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        ValidColumns(g, ow, kj, &lo, &hi);
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * g.stride_h - g.pad_h + ki;
          if (iy < 0 || iy >= g.height) continue;
          float* out = dx + (c * g.height + iy) * g.width;
          Accumulate(row + y * ow + lo, out + lo + kj - g.pad_w, hi - lo);
        }
      }
    }
  }
}

}  // namespace tt::accel::kernels
