// The per-ISA max-pooling kernels behind acceleration/max_pool.h. Internal: call them
// through VMaxPool2d, which checks the arguments and picks the ISA.
#ifndef TT_ACCELERATION_KERNELS_MAX_POOL_KERNELS_H_
#define TT_ACCELERATION_KERNELS_MAX_POOL_KERNELS_H_

#include <cstdint>

namespace tt::accel::kernels {

// x: `planes` planes of (h, w) -> y: planes of (oh, ow), oh = (h - kernel) / stride + 1,
// ow likewise; argmax: the flat index within the input plane of each output's first
// maximal element (row-major window scan, strict >: NaN never replaces, ties keep the
// earlier element). Requires 1 <= kernel <= h, w; stride >= 1; h * w < 2^31.
void F32MaxPool2dScalar(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                        int64_t stride, float* y, int32_t* argmax);
void F32MaxPool2dAvx2(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                      int64_t stride, float* y, int32_t* argmax);
void F32MaxPool2dAvx512(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                        int64_t stride, float* y, int32_t* argmax);

}  // namespace tt::accel::kernels

#endif  // TT_ACCELERATION_KERNELS_MAX_POOL_KERNELS_H_
