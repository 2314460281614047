// PackA / PackB: copy blocks of A and B into the micro-panel layout the micro-kernels
// read (see f32_gemm_ukernel.h). Plain C++: packing moves O(MK + KN) floats per block
// while the kernels do O(MNK) work on them, so it needs to be cheap, not clever.
//
// Transposes are handled here, which is why GemmPacked is equally fast for all four
// transpose combinations: whatever the stored layout, the panels come out the same.
#include <algorithm>
#include <cstring>

#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {

void PackA(const float* a, int64_t lda, tensor::Trans trans, float alpha, int64_t i0,
           int64_t mc, int64_t p0, int64_t kc, int mr, float* dst) {
  for (int64_t r0 = 0; r0 < mc; r0 += mr) {
    float* __restrict panel = dst + (r0 / mr) * kc * mr;
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - r0));
    if (trans == tensor::Trans::kNo) {
      // A row is contiguous in memory: read it once, scatter into the panel (which, at
      // kc * mr * 4 bytes, sits in L1 while it is written).
      for (int r = 0; r < rows; ++r) {
        const float* __restrict src = a + (i0 + r0 + r) * lda + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + r] = alpha * src[p];
      }
      for (int r = rows; r < mr; ++r) {
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + r] = 0.0f;
      }
    } else {
      // Stored (K,M): the mr values of one step are already contiguous.
      for (int64_t p = 0; p < kc; ++p) {
        const float* __restrict src = a + (p0 + p) * lda + i0 + r0;
        float* __restrict d = panel + p * mr;
        for (int r = 0; r < rows; ++r) d[r] = alpha * src[r];
        for (int r = rows; r < mr; ++r) d[r] = 0.0f;
      }
    }
  }
}

void PackB(const float* b, int64_t ldb, tensor::Trans trans, int64_t p0, int64_t kc,
           int64_t j0, int64_t nc, int nr, int64_t panel_begin, int64_t panel_end,
           float* dst) {
  for (int64_t q = panel_begin; q < panel_end; ++q) {
    float* __restrict panel = dst + q * kc * nr;
    const int64_t j = q * nr;
    const int cols = static_cast<int>(std::min<int64_t>(nr, nc - j));
    if (trans == tensor::Trans::kNo) {
      // Stored (K,N): each step's nr values are a contiguous piece of a row of B.
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + j;
        float* d = panel + p * nr;
        std::memcpy(d, src, cols * sizeof(float));
        std::fill(d + cols, d + nr, 0.0f);
      }
    } else {
      // Stored (N,K): a row of the stored B is one column of the panel.
      for (int c = 0; c < cols; ++c) {
        const float* __restrict src = b + (j0 + j + c) * ldb + p0;
        for (int64_t p = 0; p < kc; ++p) panel[p * nr + c] = src[p];
      }
      for (int c = cols; c < nr; ++c) {
        for (int64_t p = 0; p < kc; ++p) panel[p * nr + c] = 0.0f;
      }
    }
  }
}

}  // namespace tt::accel::internal
