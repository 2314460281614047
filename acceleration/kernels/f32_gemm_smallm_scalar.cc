// F32GemmSmallMScalar: the small-M product in plain loops (no intrinsics, no -m flags).
// The readable version of the kernels beside it, and the path of CPUs without AVX2.
//
//   tb == kNo:  for each row r: C(r,:) = beta * C(r,:); for p: C(r,:) += A(r,p) * B(p,:)
//               (i-k-j, as GemmIkj: the inner loop walks a row of B and of C, vectorized
//               by the compiler with SSE2; B streams through the caches once per row)
//   tb == kYes: C(r,j) = dot(A(r,:), B(j,:)) + beta * C(r,j), with eight partial sums so
//               that the compiler can keep eight independent additions in flight
// then the bias and activation on the row, while it is in L1.
#include <algorithm>

#include "acceleration/internal/gemm_util.h"
#include "acceleration/kernels/f32_gemm_smallm.h"

namespace tt::accel::internal {
namespace {

float Dot(const float* __restrict x, const float* __restrict y, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[p + l] * y[p + l];
  }
  for (int l = 0; p < n; ++p, ++l) acc[l] += x[p] * y[p];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

void F32GemmSmallMScalar(const GemmSmallMArgs& u) {
  for (int r = 0; r < u.m; ++r) {
    const float* a_row = u.a + r * u.lda;
    float* __restrict c_row = u.c + r * u.ldc;
    if (u.tb == tensor::Trans::kNo) {
      ScaleC(u.beta, c_row, u.ldc, 1, u.n);
      for (int64_t p = 0; p < u.k; ++p) {
        const float a_rp = a_row[p];
        const float* __restrict b_row = u.b + p * u.ldb;
        for (int64_t j = 0; j < u.n; ++j) c_row[j] += a_rp * b_row[j];
      }
    } else {
      for (int64_t j = 0; j < u.n; ++j) {
        const float dot = Dot(a_row, u.b + j * u.ldb, u.k);
        c_row[j] = u.beta == 0.0f ? dot : dot + u.beta * c_row[j];
      }
    }
    EpilogueRow(u.bias, u.act, c_row, u.n);
  }
}

}  // namespace tt::accel::internal
