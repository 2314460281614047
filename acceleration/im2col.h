// Fast im2col / col2im for tensor's Conv2d: the Backend::Im2Col / Col2Im contract
// (tensor/backend.h) with vector loads and stores, chosen by ActiveIsa().
//
//   // x: (C, H, W) -> cols: (C*KH*KW, OH*OW), row stride ld (padding reads as zero)
//   tt::accel::VIm2Col(geometry, x, cols, ld);
//   // cols -> dx: (C, H, W), ADDED into dx (the adjoint of im2col)
//   tt::accel::VCol2Im(geometry, cols, ld, dx);
//
// Stride 1 along the width (every convolution of the course's CNN) runs the AVX-512 or
// AVX2 kernel; other strides and the scalar ISA run tensor's ReferenceBackend loops.
// Results equal the reference bit for bit (im2col copies; col2im adds in the same
// order), which the tests check with every ISA forced.
#ifndef TT_ACCELERATION_IM2COL_H_
#define TT_ACCELERATION_IM2COL_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel {

// The contracts of Backend::Im2Col and Backend::Col2Im: g describes a valid
// convolution (positive sizes and strides, out_h() and out_w() >= 1), ld >= OH*OW,
// cols does not overlap x (resp. dx).
void VIm2Col(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld);
void VCol2Im(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_IM2COL_H_
