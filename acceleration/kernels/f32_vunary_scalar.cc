// f32 unary maps and their backward passes, portable C++ (the kScalar path). The loop
// bodies are branch-free calls of f32_vmath_scalar.h, so the compiler vectorizes them
// with baseline SSE2; the math is the AVX kernels' (no FMA).
#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_scalar.h"

namespace tt::accel::kernels {
namespace {

namespace s = scalar;
using tensor::UnaryOp;

template <typename F>
void Map(const float* x, float* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename F>
void Map2(const float* u, const float* w, float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(u[i], w[i]);
}

}  // namespace

void F32VUnaryScalar(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::kExp:
      Map(x, y, n, [](float a) { return s::Exp(a); });
      break;
    case UnaryOp::kLog:
      Map(x, y, n, [](float a) { return s::Log(a); });
      break;
    case UnaryOp::kSqrt:
      Map(x, y, n, [](float a) { return __builtin_sqrtf(a); });
      break;
    case UnaryOp::kTanh:
      Map(x, y, n, [](float a) { return s::Tanh(a); });
      break;
    case UnaryOp::kSigmoid:
      Map(x, y, n, [](float a) { return s::Sigmoid(a); });
      break;
    case UnaryOp::kRelu:
      Map(x, y, n, [](float a) { return a > 0.0f ? a : 0.0f; });
      break;
    case UnaryOp::kGelu:
      Map(x, y, n, [](float a) { return s::Gelu(a); });
      break;
    case UnaryOp::kNeg:
      Map(x, y, n, [](float a) { return -a; });
      break;
  }
}

void F32VUnaryBackwardScalar(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                             int64_t n) {
  switch (op) {
    case UnaryOp::kExp:
      Map2(dy, y, dx, n, [](float g, float b) { return g * b; });
      break;
    case UnaryOp::kLog:
      Map2(dy, x, dx, n, [](float g, float a) { return g / a; });
      break;
    case UnaryOp::kSqrt:
      Map2(dy, y, dx, n, [](float g, float b) { return g * 0.5f / b; });
      break;
    case UnaryOp::kTanh:
      Map2(dy, y, dx, n, [](float g, float b) { return g * (1.0f - b * b); });
      break;
    case UnaryOp::kSigmoid:
      Map2(dy, y, dx, n, [](float g, float b) { return g * b * (1.0f - b); });
      break;
    case UnaryOp::kRelu:
      Map2(dy, x, dx, n, [](float g, float a) { return a > 0.0f ? g : 0.0f; });
      break;
    case UnaryOp::kGelu:
      Map2(dy, x, dx, n, [](float g, float a) { return g * s::GeluDerivative(a); });
      break;
    case UnaryOp::kNeg:
      Map(dy, dx, n, [](float g) { return -g; });
      break;
  }
}

}  // namespace tt::accel::kernels
