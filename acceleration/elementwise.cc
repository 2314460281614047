#include "acceleration/elementwise.h"

#include "acceleration/cpu_features.h"
#include "acceleration/kernels/elementwise_kernels.h"
#include "tensor/check.h"

namespace tt::accel {
namespace {

// One row per Isa, in the enum's order, filled at compile time: a call costs one table
// lookup and one indirect call, nothing per element.
struct ElementwiseKernels {
  decltype(&kernels::F32VUnaryScalar) unary;
  decltype(&kernels::F32VUnaryBackwardScalar) unary_backward;
  decltype(&kernels::F32VBinaryScalar) binary;
  decltype(&kernels::F32SoftmaxRowsScalar) softmax_rows;
  decltype(&kernels::F32VBiasActScalar) bias_act;
};

constexpr ElementwiseKernels kKernels[] = {
    {kernels::F32VUnaryScalar, kernels::F32VUnaryBackwardScalar, kernels::F32VBinaryScalar,
     kernels::F32SoftmaxRowsScalar, kernels::F32VBiasActScalar},
    {kernels::F32VUnaryAvx2, kernels::F32VUnaryBackwardAvx2, kernels::F32VBinaryAvx2,
     kernels::F32SoftmaxRowsAvx2, kernels::F32VBiasActAvx2},
    {kernels::F32VUnaryAvx512, kernels::F32VUnaryBackwardAvx512, kernels::F32VBinaryAvx512,
     kernels::F32SoftmaxRowsAvx512, kernels::F32VBiasActAvx512},
};
static_assert(static_cast<int>(Isa::kScalar) == 0 && static_cast<int>(Isa::kAvx2Fma) == 1 &&
                  static_cast<int>(Isa::kAvx512) == 2,
              "kKernels rows follow the order of enum Isa");

const ElementwiseKernels& Active() { return kKernels[static_cast<int>(ActiveIsa())]; }

}  // namespace

void VUnary(tensor::UnaryOp op, const float* x, float* y, int64_t n) {
  TT_CHECK(n >= 0, "VUnary: n must be >= 0, got ", n);
  Active().unary(op, x, y, n);
}

void VUnaryBackward(tensor::UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n) {
  TT_CHECK(n >= 0, "VUnaryBackward: n must be >= 0, got ", n);
  Active().unary_backward(op, x, y, dy, dx, n);
}

void VBinary(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step,
             float* y, int64_t n) {
  TT_CHECK((a_step == 0 || a_step == 1) && (b_step == 0 || b_step == 1),
           "VBinary: steps must be 0 or 1, got ", a_step, " and ", b_step);
  TT_CHECK(n >= 0, "VBinary: n must be >= 0, got ", n);
  Active().binary(op, a, a_step, b, b_step, y, n);
}

void VSoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  TT_CHECK(rows >= 0 && cols >= 0, "VSoftmaxRows: needs rows, cols >= 0, got (", rows, ", ", cols,
           ")");
  Active().softmax_rows(x, y, rows, cols, log);
}

void VBiasAct(float* c, int64_t rows, int64_t cols, int64_t ldc, const float* bias,
              tensor::Activation act) {
  TT_CHECK(rows >= 0 && cols >= 0, "VBiasAct: needs rows, cols >= 0, got (", rows, ", ", cols, ")");
  TT_CHECK(rows <= 1 || ldc >= cols, "VBiasAct: row stride ldc ", ldc, " < cols ", cols);
  Active().bias_act(c, rows, cols, ldc, bias, act);
}

}  // namespace tt::accel
