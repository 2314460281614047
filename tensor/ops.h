// The differentiable ops on Tensor: each records its backward for autograd.
//
//   Tensor h = Relu(Add(MatMul(x, w), b));      // (B,784)@(784,256) + (256) -> (B,256)
//   Tensor loss = CrossEntropy(logits, labels); // scalar
//   loss.Backward();
//
// Contracts: shape errors inside the math stop with a message naming the op and the
// shapes (TT_CHECK). Binary elementwise ops broadcast like NumPy: shapes are aligned at
// the right, and a dimension of 1 stretches to match. Axes may be negative (from the
// end). The heavy kernels (GEMM, im2col, elementwise maps, softmax rows) run on
// CurrentBackend() (backend.h). Every op reports an OpEvent (instrument.h); a backward
// pass reports the ops it runs (a matmul's backward is two "matmul" events), and
// hand-written backward kernels report "<op>.backward". Events do not nest inside one
// op, so summing events never counts work twice.
//
// Files: ops_elementwise.cc, ops_reduce.cc, ops_shape.cc, ops_linalg.cc (matmul,
// conv2d, max-pool), ops_nn.cc (softmax, layer norm, embedding, dropout, losses).
#ifndef TT_TENSOR_OPS_H_
#define TT_TENSOR_OPS_H_

#include <cstdint>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace tt::tensor {

enum class KeepDim { kNo, kYes };

// --- Elementwise (ops_elementwise.cc) ---------------------------------------------
// The broadcast result shape of a and b; stops with both shapes named when they do not
// broadcast ("op" names the caller in the message).
Shape BroadcastShapes(const Shape& a, const Shape& b, const char* op);

Tensor Add(const Tensor& a, const Tensor& b);  // broadcasting
Tensor Sub(const Tensor& a, const Tensor& b);
Tensor Mul(const Tensor& a, const Tensor& b);
Tensor Div(const Tensor& a, const Tensor& b);
Tensor Neg(const Tensor& x);
Tensor AddScalar(const Tensor& x, float s);  // x + s
Tensor MulScalar(const Tensor& x, float s);  // x * s
Tensor Exp(const Tensor& x);
Tensor Log(const Tensor& x);
Tensor Sqrt(const Tensor& x);
Tensor Tanh(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Relu(const Tensor& x);
Tensor Gelu(const Tensor& x);  // tanh approximation

inline Tensor operator+(const Tensor& a, const Tensor& b) { return Add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return Sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return Mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return Div(a, b); }
inline Tensor operator-(const Tensor& x) { return Neg(x); }
inline Tensor operator+(const Tensor& x, float s) { return AddScalar(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return AddScalar(x, -s); }
inline Tensor operator*(const Tensor& x, float s) { return MulScalar(x, s); }
inline Tensor operator*(float s, const Tensor& x) { return MulScalar(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return MulScalar(x, 1.0f / s); }

// --- Reductions (ops_reduce.cc) ------------------------------------------------------
Tensor Sum(const Tensor& x);  // all elements -> shape ()
Tensor Sum(const Tensor& x, const std::vector<int64_t>& axes, KeepDim keep = KeepDim::kNo);
Tensor Mean(const Tensor& x);
Tensor Mean(const Tensor& x, const std::vector<int64_t>& axes, KeepDim keep = KeepDim::kNo);
// Largest value along one axis; the gradient flows to the first maximal element.
Tensor Max(const Tensor& x, int64_t axis, KeepDim keep = KeepDim::kNo);
// Sums x down to `shape` (which x's shape broadcasts from): the adjoint of broadcasting.
Tensor SumTo(const Tensor& x, const Shape& shape);
// Copies x out to `shape` (x must broadcast to it).
Tensor BroadcastTo(const Tensor& x, const Shape& shape);
// Index of the largest element of each row of x: (rows, cols) -> rows values.
std::vector<int32_t> ArgMaxRows(const Tensor& x);

// --- Shape (ops_shape.cc) ------------------------------------------------------------
// Same elements, new shape (one dimension may be -1: inferred). A view: no copy.
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Flatten(const Tensor& x, int64_t start_axis = 1);  // (N, ...) -> (N, prod)
// Swaps two axes; a copy (tensors are always contiguous, see tensor.h).
Tensor Transpose(const Tensor& x, int64_t axis0, int64_t axis1);
// out.shape[i] = x.shape[perm[i]]; a copy.
Tensor Permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor Concat(const std::vector<Tensor>& xs, int64_t axis);
// Elements [start, end) along `axis`. Along axis 0 it is a view; otherwise a copy.
Tensor Slice(const Tensor& x, int64_t axis, int64_t start, int64_t end);

// --- Linear algebra (ops_linalg.cc) -------------------------------------------------
// Matrix product of the last two axes; op(a) = a^T when ta == Trans::kYes.
//   a: (..., M, K), b: (..., K, N) with the same leading axes -> (..., M, N)
//   a: (..., M, K), b: (K, N)  -> (..., M, N)   (one GEMM over all rows of a)
Tensor MatMul(const Tensor& a, const Tensor& b, Trans ta = Trans::kNo, Trans tb = Trans::kNo);

// act(x W + bias): x (..., in), w (in, out), bias (out) or undefined -> (..., out).
// With no gradient to record it runs as one fused GemmBiasAct on the backend (one pass
// over the output); otherwise it is exactly Act(Add(MatMul(x, w), bias)).
Tensor LinearAct(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act);

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
};
// x: (N, C, H, W), weight: (OC, C, KH, KW), bias: (OC) or undefined
//   -> (N, OC, OH, OW), OH = (H + 2*padding - KH) / stride + 1.
// im2col + GEMM on the current backend, one image at a time.
Tensor Conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});

// x: (N, C, H, W) -> (N, C, OH, OW), OH = (H - kernel) / stride + 1. No padding.
Tensor MaxPool2d(const Tensor& x, int64_t kernel, int64_t stride);

// --- Neural-network ops (ops_nn.cc) --------------------------------------------------
// Along the last axis; numerically stable (the row max is subtracted).
Tensor Softmax(const Tensor& x);
Tensor LogSoftmax(const Tensor& x);
// Normalizes over the last axis: x: (..., D), gamma, beta: (D) -> (..., D).
Tensor LayerNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps = 1e-5f);
// weight: (V, D), ids (values in [0, V)) of shape ids_shape -> (ids_shape..., D).
Tensor Embedding(const Tensor& weight, const std::vector<int32_t>& ids, const Shape& ids_shape);
// Causal mask for attention scores x: (..., T, S): sets x[..., i, j] = -inf where
// j > i + offset (offset = S - T when the first T - S keys are cached past positions).
Tensor CausalMask(const Tensor& x, int64_t offset);
// Zeroes each element with probability p and scales the rest by 1 / (1 - p).
Tensor Dropout(const Tensor& x, float p, Rng& rng);

// logits: (N, C), labels: N values in [0, C) -> mean cross-entropy, shape ().
// Fused log-softmax + negative log-likelihood: stable for any logit size.
Tensor CrossEntropy(const Tensor& logits, const std::vector<int32_t>& labels);
// Mean squared error over all elements; same shapes -> shape ().
Tensor MseLoss(const Tensor& prediction, const Tensor& target);

}  // namespace tt::tensor

#endif  // TT_TENSOR_OPS_H_
