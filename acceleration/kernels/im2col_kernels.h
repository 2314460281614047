// The per-ISA im2col / col2im kernels behind acceleration/im2col.h, for stride 1 along
// the width (the course's 3x3 / stride-1 convolutions). Internal: call them through
// VIm2Col / VCol2Im, which pick the ISA and fall back to tensor's loops otherwise.
#ifndef TT_ACCELERATION_KERNELS_IM2COL_KERNELS_H_
#define TT_ACCELERATION_KERNELS_IM2COL_KERNELS_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel::kernels {

// Backend::Im2Col / Col2Im (tensor/backend.h) for g.stride_w == 1 (any stride_h,
// kernel and padding). Same values as ReferenceBackend's, bit for bit (im2col copies;
// col2im adds in the same order).
void F32Im2ColS1Avx512(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld);
void F32Col2ImS1Avx512(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx);
void F32Im2ColS1Avx2(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld);
void F32Col2ImS1Avx2(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx);

}  // namespace tt::accel::kernels

#endif  // TT_ACCELERATION_KERNELS_IM2COL_KERNELS_H_
