// The portable sparse kernels: the reference formulation of each, in plain loops. The
// batch kernel's inner loop runs over a fixed panel of 16 floats, which the compiler
// vectorizes with the SSE2 of every x86-64 (BUILD turns off GCC's loop vectorizer for
// this file: it would vectorize the loops over nonzeros instead, emulating a gather with
// scalar loads, and was measured 1.4x (GEMV) and 1.8x (batch) slower that way).
#include <cstring>

#include "compression/kernels/spmm_kernels.h"

namespace tt::compress::kernels {
namespace {

constexpr int64_t kPanel = 16;

}  // namespace

void SpmvScalar(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* /*scratch*/) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * w.in;
    float* yr = y + r * w.out;
    for (int64_t n = 0; n < w.out; ++n) {
      // Two partial sums: the additions of one chain wait for each other, two chains
      // overlap (and the order differs from a dense dot product anyway).
      float s0 = 0.0f, s1 = 0.0f;
      int64_t j = w.row_ptr[n];
      const int64_t end = w.row_ptr[n + 1];
      for (; j + 2 <= end; j += 2) {
        s0 += w.values[j] * xr[w.col_idx[j]];
        s1 += w.values[j + 1] * xr[w.col_idx[j + 1]];
      }
      if (j < end) s0 += w.values[j] * xr[w.col_idx[j]];
      const float v = w.bias[n] + (s0 + s1);
      yr[n] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

void SpmmScalar(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* scratch) {
  float* xt = scratch;                // (in, kPanel)
  float* yt = scratch + w.in * kPanel;  // (out, kPanel)
  for (int64_t r0 = 0; r0 < rows; r0 += kPanel) {
    const int64_t nr = rows - r0 < kPanel ? rows - r0 : kPanel;
    // xt[k, b] = x[r0 + b, k]; zero rows pad the last panel.
    for (int64_t k = 0; k < w.in; ++k) {
      for (int64_t b = 0; b < kPanel; ++b) {
        xt[k * kPanel + b] = b < nr ? x[(r0 + b) * w.in + k] : 0.0f;
      }
    }
    for (int64_t n = 0; n < w.out; ++n) {
      float acc[kPanel];
      for (int64_t b = 0; b < kPanel; ++b) acc[b] = w.bias[n];
      for (int64_t j = w.row_ptr[n]; j < w.row_ptr[n + 1]; ++j) {
        const float v = w.values[j];
        const float* xk = xt + static_cast<int64_t>(w.col_idx[j]) * kPanel;
        for (int64_t b = 0; b < kPanel; ++b) acc[b] += v * xk[b];
      }
      if (relu) {
        for (int64_t b = 0; b < kPanel; ++b) acc[b] = acc[b] > 0.0f ? acc[b] : 0.0f;
      }
      std::memcpy(yt + n * kPanel, acc, sizeof(acc));
    }
    for (int64_t b = 0; b < nr; ++b) {
      for (int64_t n = 0; n < w.out; ++n) y[(r0 + b) * w.out + n] = yt[n * kPanel + b];
    }
  }
}

}  // namespace tt::compress::kernels
