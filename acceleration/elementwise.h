// Vectorized elementwise kernels: unary maps and their gradients, broadcasting binary
// maps, row (log-)softmax, and the fused bias + activation GEMM epilogue. Each has an
// AVX-512, an AVX2+FMA and a portable version; every call runs the one ActiveIsa()
// selects (cpu_features.h), so tests and benchmarks can force a lower path:
//
//   tt::accel::VUnary(tt::tensor::UnaryOp::kGelu, x.data(), y.data(), n);
//   tt::accel::VSoftmaxRows(logits, probs, batch, vocab, /*log=*/false);
//   {
//     tt::accel::ScopedIsa force(tt::accel::Isa::kAvx2Fma);
//     tt::accel::VUnary(tt::tensor::UnaryOp::kExp, x.data(), x.data(), n);  // in place
//   }
//
// The contracts are those of tensor's Backend methods of the same names (backend.h);
// ReferenceBackend is the oracle the tests compare against. exp, log, tanh, sigmoid and
// GELU are this module's own approximations, not libm's. Their largest errors against
// the double-precision functions, measured over every float of the range on every ISA
// (the module README (elementwise section); elementwise_accuracy_test.cc asserts them):
//
//   exp      1.02 ulp   on [-104, 89]: all finite results, denormals included; 0 below,
//                       inf above
//   log      0.96 ulp   on all positive floats, denormals included; log(0) = -inf,
//                       log(x < 0) = NaN, log(inf) = inf
//   tanh     1.4 ulp    on [-20, 20] (+-1 beyond); tanh(-0) = -0
//   sigmoid  2.4 ulp    on [-104, 40], also where the result is tiny or denormal
//   GELU     5.2e-7 absolute on [-20, 20]; 2.8 ulp for x >= -1. Below -1 the result
//            is tiny and its relative error grows with GELU's condition number there
//            (~|x|^3 ulp; the reference returns 0 from x ~ -5.7 on).
//   GELU'    2.3e-7 absolute on [-20, 20] (VUnaryBackward).
//   sqrt, relu, neg, the binary maps, and every backward pass but GELU's: exact, bit
//   for bit the reference's results.
//
// Special values follow the reference: NaN in, NaN out; relu(NaN) = 0 like its
// `x > 0 ? x : 0`. Every function accepts an output that aliases its input exactly
// (in place: y == x, dx == dy, ...); partially overlapping arrays are not allowed.
// Sizes must be >= 0 (checked: a bad argument stops with a message naming the function).
#ifndef TT_ACCELERATION_ELEMENTWISE_H_
#define TT_ACCELERATION_ELEMENTWISE_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel {

// x: (n) -> y: (n), y[i] = op(x[i]). GELU is the tanh approximation, as the reference.
void VUnary(tensor::UnaryOp op, const float* x, float* y, int64_t n);

// x, y, dy: (n) -> dx: (n), dx[i] = dy[i] * op'(x[i]); y = op(x) as VUnary computed it
// (exp, sqrt, tanh and sigmoid use y, log, relu and GELU use x, neg neither). dx may
// alias x, y or dy.
void VUnaryBackward(tensor::UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n);

// y[i] = a[i * a_step] op b[i * b_step], i < n; each step is 0 (broadcast a[0] / b[0])
// or 1. y may alias an operand whose step is 1.
void VBinary(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step,
             float* y, int64_t n);

// x, y: (rows, cols) row-major; each row of y = softmax (log == false) or log-softmax
// (log == true) of the row of x. Numerically stable: the row max is subtracted first;
// the sum of exponentials accumulates in double. y may alias x.
void VSoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log);

// c: (rows, cols) with row stride ldc >= cols, in place: c = act(c + bias), bias: (cols)
// or nullptr (no bias). One pass over c; equal to VBinary(kAdd) then VUnary(act) on
// each row. act == kNone with no bias does nothing.
void VBiasAct(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
              tensor::Activation act);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_ELEMENTWISE_H_
