// The per-ISA elementwise kernels behind acceleration/elementwise.h. Internal: call them
// through elementwise.h, which checks arguments and picks the ISA the CPU supports.
//
// Naming follows the module's grammar <dtype><Op><Isa> (files: f32_<op>_<isa>.cc, one
// kernel family per file). Each ISA's files form their own library compiled with that
// ISA's -m flags only. The contracts are those of the elementwise.h functions of the same
// name without the F32 prefix and ISA suffix; arguments arrive already checked.
#ifndef TT_ACCELERATION_KERNELS_ELEMENTWISE_KERNELS_H_
#define TT_ACCELERATION_KERNELS_ELEMENTWISE_KERNELS_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel::kernels {

// y[i] = op(x[i]), i < n.
void F32VUnaryScalar(tensor::UnaryOp op, const float* x, float* y, int64_t n);
void F32VUnaryAvx2(tensor::UnaryOp op, const float* x, float* y, int64_t n);
void F32VUnaryAvx512(tensor::UnaryOp op, const float* x, float* y, int64_t n);

// dx[i] = dy[i] * op'(x[i]), with y = op(x).
void F32VUnaryBackwardScalar(tensor::UnaryOp op, const float* x, const float* y, const float* dy,
                             float* dx, int64_t n);
void F32VUnaryBackwardAvx2(tensor::UnaryOp op, const float* x, const float* y, const float* dy,
                           float* dx, int64_t n);
void F32VUnaryBackwardAvx512(tensor::UnaryOp op, const float* x, const float* y, const float* dy,
                             float* dx, int64_t n);

// y[i] = a[i * a_step] op b[i * b_step], steps 0 or 1.
void F32VBinaryScalar(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b,
                      int64_t b_step, float* y, int64_t n);
void F32VBinaryAvx2(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b,
                    int64_t b_step, float* y, int64_t n);
void F32VBinaryAvx512(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b,
                      int64_t b_step, float* y, int64_t n);

// x, y: (rows, cols): (log-)softmax of each row.
void F32SoftmaxRowsScalar(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void F32SoftmaxRowsAvx2(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void F32SoftmaxRowsAvx512(const float* x, float* y, int64_t rows, int64_t cols, bool log);

// c: (rows, cols), row stride ldc: c = act(c + bias), bias: cols values or nullptr.
void F32VBiasActScalar(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                       tensor::Activation act);
void F32VBiasActAvx2(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                     tensor::Activation act);
void F32VBiasActAvx512(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
                       tensor::Activation act);

}  // namespace tt::accel::kernels

#endif  // TT_ACCELERATION_KERNELS_ELEMENTWISE_KERNELS_H_
