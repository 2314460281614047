#include "acceleration/internal/gemm_util.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/check.h"

namespace tt::accel::internal {

void EpilogueRow(const float* bias, tensor::Activation act, float* row, int64_t n) {
  if (bias != nullptr) {
    for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
  switch (act) {
    case tensor::Activation::kNone:
      break;
    case tensor::Activation::kRelu:
      for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
      break;
    case tensor::Activation::kGelu:
      for (int64_t j = 0; j < n; ++j) row[j] = GeluScalar(row[j]);
      break;
  }
}

void ScaleC(float beta, float* c, int64_t ldc, int64_t m, int64_t n) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

void GemmWithoutProducts(const GemmArgs& g) {
  ScaleC(g.beta, g.c, g.ldc, g.m, g.n);
  if (g.bias == nullptr && g.act == tensor::Activation::kNone) return;
  for (int64_t i = 0; i < g.m; ++i) EpilogueRow(g.bias, g.act, g.c + i * g.ldc, g.n);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

float* AlignedBuffer::Get(size_t floats) {
  if (floats > capacity_) {
    std::free(data_);
    // aligned_alloc wants a size that is a multiple of the alignment.
    const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    TT_CHECK(data_ != nullptr, "AlignedBuffer: cannot allocate ", bytes, " bytes");
    capacity_ = bytes / sizeof(float);
  }
  return data_;
}

}  // namespace tt::accel::internal
