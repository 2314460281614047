// f32 binary maps with broadcasting (steps 0 or 1), portable C++: one plain loop per step
// pattern, which the compiler vectorizes (the reference's structure, kept for the kScalar
// path so that every ISA has a kernel of every family).
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"

namespace tt::accel::kernels {
namespace {

using tensor::BinaryOp;

template <typename F>
void Dispatch(const float* a, int64_t a_step, const float* b, int64_t b_step, float* y, int64_t n,
              F f) {
  if (a_step == 1 && b_step == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (a_step == 1) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (b_step == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    const float value = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = value;
  }
}

}  // namespace

void F32VBinaryScalar(BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step,
                      float* y, int64_t n) {
  if (n <= 0) return;  // a[0] / b[0] may not exist
  switch (op) {
    case BinaryOp::kAdd:
      Dispatch(a, a_step, b, b_step, y, n, [](float u, float w) { return u + w; });
      break;
    case BinaryOp::kSub:
      Dispatch(a, a_step, b, b_step, y, n, [](float u, float w) { return u - w; });
      break;
    case BinaryOp::kMul:
      Dispatch(a, a_step, b, b_step, y, n, [](float u, float w) { return u * w; });
      break;
    case BinaryOp::kDiv:
      Dispatch(a, a_step, b, b_step, y, n, [](float u, float w) { return u / w; });
      break;
  }
}

}  // namespace tt::accel::kernels
