// im2col / col2im with AVX-512 for stride 1 along the width: the loops of tensor's
// ReferenceBackend, with each output row's pieces moved by masked vector loads and
// stores instead of std::copy / std::fill calls.
//
// Why it pays: for the course's CNN a row is 28 or 14 floats (112 or 56 bytes), so the
// reference spends most of its time entering memmove / memset for each of the rows
// (145,000 in a batch-64 forward), not moving bytes. Here a row is one or two masked
// instructions. Compiled with -mavx512f in its own library; called only when
// ActiveIsa() is kAvx512. f32_im2col_avx2.cc is the same code with 8-float vectors.
#include <immintrin.h>

#include <algorithm>

#include "acceleration/kernels/im2col_kernels.h"

namespace tt::accel::kernels {
namespace {

constexpr int64_t kLanes = 16;

inline __mmask16 FirstLanes(int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << count) - 1);  // count in 1..15
}

// dst[0:n] = 0, n >= 0.
inline void Zero(float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    _mm512_mask_storeu_ps(dst + i, FirstLanes(n - i), _mm512_setzero_ps());
  }
}

// dst[0:n] = src[0:n].
inline void Copy(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = FirstLanes(n - i);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
}

// dst[0:n] += src[0:n].
inline void Accumulate(const float* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = FirstLanes(n - i);
    const __m512 sum =
        _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i));
    _mm512_mask_storeu_ps(dst + i, m, sum);
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

void F32Im2ColS1Avx512(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld) {
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

void F32Col2ImS1Avx512(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx) {
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
