// Fast 2-D max pooling with argmax on NCHW planes, for AVX-512, AVX2 and portable C++
// (chosen by ActiveIsa(), cpu_features.h). The 2x2 / stride-2 window of the course's
// CNNs has its own vector path; other kernel sizes and strides use loads or gathers.
//
//   // x: (N, C, H, W) -> y: (N, C, OH, OW), argmax: (N, C, OH, OW)
//   tt::accel::VMaxPool2d(x, n * c, h, w, /*kernel=*/2, /*stride=*/2, y, argmax);
//
// Values and indices equal tensor's MaxPool2d (ReferenceBackend::MaxPool2d) exactly, so
// its backward pass (dx[plane][argmax[o]] += dy[o]) works unchanged.
#ifndef TT_ACCELERATION_MAX_POOL_H_
#define TT_ACCELERATION_MAX_POOL_H_

#include <cstdint>

namespace tt::accel {

// x: `planes` planes of (h, w) -> y: planes of (oh, ow), oh = (h - kernel) / stride + 1,
// ow = (w - kernel) / stride + 1, no padding. argmax[o]: the flat index within its input
// plane of the first maximal element of window o, scanning the window row by row with a
// strict `>` (ties keep the earlier element; NaN is never taken unless it is the
// window's first element). Requires kernel >= 1, stride >= 1, kernel <= h, w, and
// h * w < 2^31 (checked). y and argmax must not overlap x.
void VMaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                int64_t stride, float* y, int32_t* argmax);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_MAX_POOL_H_
