// Helpers shared by the GEMM rungs (not part of the module's API).
#ifndef TT_ACCELERATION_INTERNAL_GEMM_UTIL_H_
#define TT_ACCELERATION_INTERNAL_GEMM_UTIL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "acceleration/gemm.h"
#include "tensor/backend.h"

namespace tt::accel::internal {

// GELU, tanh approximation, written exactly as tensor's ReferenceBackend computes it.
inline float GeluScalar(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCoeff = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kCoeff * x * x * x)));
}

// row[j] = act(row[j] + bias[j]) for j < n; bias may be nullptr.
void EpilogueRow(const float* bias, tensor::Activation act, float* row, int64_t n);

// C = beta * C on an (m, n) block with row stride ldc; beta == 0 writes zeros without
// reading C (it may hold NaN), beta == 1 leaves C alone.
void ScaleC(float beta, float* c, int64_t ldc, int64_t m, int64_t n);

// The whole contract when there is no product to compute (K == 0):
// C = act(beta * C + bias). Call only with M, N > 0.
void GemmWithoutProducts(const GemmArgs& args);

// op(A)(i, p) and op(B)(p, j) of the contract, for the loop rungs.
inline float AAt(const GemmArgs& g, int64_t i, int64_t p) {
  return g.ta == tensor::Trans::kNo ? g.a[i * g.lda + p] : g.a[p * g.lda + i];
}
inline float BAt(const GemmArgs& g, int64_t p, int64_t j) {
  return g.tb == tensor::Trans::kNo ? g.b[p * g.ldb + j] : g.b[j * g.ldb + p];
}

// A growable float buffer aligned to 64 bytes (one cache line, one zmm register), for
// packed panels: aligned vector loads never split a cache line. Keeps its memory between
// calls, so a thread_local one is allocated (and page-faulted) once, not per GEMM.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  // At least `floats` floats; the contents are unspecified.
  float* Get(size_t floats);

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace tt::accel::internal

#endif  // TT_ACCELERATION_INTERNAL_GEMM_UTIL_H_
