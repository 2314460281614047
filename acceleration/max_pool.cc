#include "acceleration/max_pool.h"

#include <cstdint>
#include <limits>

#include "acceleration/cpu_features.h"
#include "acceleration/kernels/max_pool_kernels.h"
#include "tensor/check.h"

namespace tt::accel {

void VMaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                int64_t stride, float* y, int32_t* argmax) {
  TT_CHECK(kernel >= 1 && stride >= 1, "VMaxPool2d: bad kernel ", kernel, " or stride ", stride);
  TT_CHECK(planes >= 0 && h >= kernel && w >= kernel, "VMaxPool2d: kernel ", kernel,
           " larger than the (", h, ", ", w, ") planes, or planes ", planes, " < 0");
  TT_CHECK(h * w <= std::numeric_limits<int32_t>::max(), "VMaxPool2d: a (", h, ", ", w,
           ") plane has more elements than int32 argmax indices can address");
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      kernels::F32MaxPool2dAvx512(x, planes, h, w, kernel, stride, y, argmax);
      return;
    case Isa::kAvx2Fma:
      kernels::F32MaxPool2dAvx2(x, planes, h, w, kernel, stride, y, argmax);
      return;
    case Isa::kScalar:
      kernels::F32MaxPool2dScalar(x, planes, h, w, kernel, stride, y, argmax);
      return;
  }
}

}  // namespace tt::accel
