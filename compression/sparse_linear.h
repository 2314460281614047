// SparseLinear: a pruned Linear layer that runs on its nonzeros only.
//
// Pruning makes most weights zero, but a dense kernel still multiplies by every one of
// them: the model gets no faster, only more compressible. SparseLinear stores the
// nonzeros in CSR and its kernels touch nothing else, so the work falls with the
// sparsity. It plugs into tensor's Linear through the LinearKernel seam:
//
//   TT_ASSIGN_OR_RETURN(auto sparse,
//                       tt::compress::MakeSparseLinear(linear.weight(), linear.bias()));
//   linear.SetKernel(sparse);          // linear.Forward(x) now runs the sparse kernel
//   // Describe(): "Linear(784 -> 256, CSR, 90.0% zeros, 20070 nonzeros)"
//
// Layout: Linear's weight W is (in, out) and y = x W + b, so output n needs column n of
// W. SparseLinear keeps W^T in CSR (one row per output feature, its nonzeros' input
// indices increasing), so each output is one sparse dot product whose nonzeros sit
// together in memory (kernels/spmm_kernels.h).
//
// Kernels (kernels/spmm_<isa>.cc, AVX-512 / AVX2+FMA / portable by
// tt::accel::ActiveIsa(); kernels/spmm_kernels.h explains them):
//   - up to SparseGemvMaxRows(isa) rows of x, a GEMV per row: on AVX-512 the
//     "window-step" kernel, which keeps a window of 31 inputs in two registers and
//     fetches each lane's x value with one in-register table lookup (vpermi2ps); it
//     needs its own copy of the weights in that layout, built here once. On AVX2 and
//     portable: one sparse dot product per output, x values gathered by column index.
//   - more rows: the batch kernel, which transposes x in panels of up to 64 rows so that
//     every nonzero multiplies a vector of batch elements (no gather, no lane sums).
// Bias is the accumulators' starting value and ReLU is applied as the kernels store;
// GELU runs in acceleration's vectorized epilogue (tt::accel::VBiasAct) over the
// output, which is still in cache. The kernels run on the calling thread.
//
// Measured on this machine (784 -> 256 at 90% sparsity, interleaved with the "simd"
// backend's dense Linear; bazel run -c opt //compression:sparse_crossover_table): about
// 3.4x faster than dense at batch 1 and 4.0x at batch 64. sparse_crossover.h has the
// method; the module README has the table.
//
// Non-finite inputs: an output is inf or NaN when one of its nonzeros meets an inf or
// NaN in x, as in the dense product restricted to the stored weights (a dense kernel,
// which multiplies the zeros too, makes every output NaN instead: 0 * inf = NaN).
//
// Numerics: the sums run in another order than a dense product's (and with FMA), so the
// outputs differ from the dense layer's by rounding only; before the activation
//   |y - y_dense| <= (K + 2) 2^-23 (sum_k |x_k W_kn| + |b_n|)
// with K the number of nonzeros of column n (each path's worst-case summation bound).
// ReLU keeps that bound; GELU adds at most 1.2x it plus acceleration's GELU error
// (5.2e-7 absolute). The tests check these bounds on every ISA and both kernels.
#ifndef TT_COMPRESSION_SPARSE_LINEAR_H_
#define TT_COMPRESSION_SPARSE_LINEAR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "acceleration/cpu_features.h"
#include "compression/csr.h"
#include "tensor/nn.h"
#include "tensor/tensor.h"

namespace tt::compress {

namespace kernels {
struct StepLayout;
}  // namespace kernels

// Rows of x up to which `isa`'s GEMV runs; more rows take the batch kernel: 12 for
// AVX-512 (the window-step GEMV shares each step's loads among 4 rows), 2 for AVX2 (the
// gather GEMV), 8 for the portable kernels. Where the two cross, measured with
// sparse_benchmark (BM_SparsePath) on 784x256 at 50% and 90% and 256x128 at 90%
// sparsity; the GEMV gains with density (it wastes fewer lanes), the batch kernel with
// rows.
int64_t SparseGemvMaxRows(accel::Isa isa);

// Which kernel Run uses; kAuto decides by the row count (tests and benchmarks force the
// others).
enum class SparsePath { kAuto, kGemv, kBatch };

class SparseLinear : public tensor::LinearKernel {
 public:
  // weight_t: W^T as CSR, (out, in); bias: out values, or empty for no bias. Prefer
  // MakeSparseLinear / SparseLinearFromCsr, which check their inputs.
  SparseLinear(CsrMatrix weight_t, std::vector<float> bias);
  ~SparseLinear() override;

  // act(x W + b): x (..., in) -> (..., out). x must end in `in` (TT_CHECK; Linear
  // checks it before calling).
  tensor::Tensor Forward(const tensor::Tensor& x, tensor::Activation act) override;
  // e.g. "CSR, 90.0% zeros, 20070 nonzeros".
  std::string Describe() const override;

  // x: (rows, in) -> y: (rows, out), row-major, y = act(x W + b). rows >= 0; y must not
  // overlap x. Thread-safe: calls on one SparseLinear may run concurrently.
  void Run(const float* x, int64_t rows, float* y, tensor::Activation act,
           SparsePath path = SparsePath::kAuto) const;

  int64_t in_features() const { return weight_t_.cols; }
  int64_t out_features() const { return weight_t_.rows; }
  int64_t nnz() const { return weight_t_.nnz(); }
  double sparsity() const { return weight_t_.sparsity(); }
  bool has_bias() const { return has_bias_; }
  const std::vector<float>& bias() const { return bias_; }  // out values (0 if no bias)
  // Bytes held in memory: the CSR arrays, the bias, and the AVX-512 GEMV's layout of
  // the same weights when the CPU has AVX-512 (about as large again as the CSR at 90%).
  int64_t Bytes() const;

  // W^T, (out, in), as the kernels read it.
  const CsrMatrix& weight_t() const { return weight_t_; }
  // W, (in, out), the layout of Linear's weight and of its model-file tensor.
  CsrMatrix WeightCsr() const { return CsrTranspose(weight_t_); }

 private:
  CsrMatrix weight_t_;
  std::vector<float> bias_;  // out values, zeros when the layer has no bias
  bool has_bias_;
  // The AVX-512 GEMV's layout of the same weights; null when the CPU has no AVX-512.
  std::shared_ptr<const kernels::StepLayout> steps_;
};

// A SparseLinear holding the nonzeros of `weight` (in, out), e.g. a pruned Linear's
// weight(), and `bias` (out), or an undefined Tensor for none. Zeros are dropped
// exactly (DenseToCsr). InvalidArgument when weight is not 2-D or the bias is not (out).
absl::StatusOr<std::shared_ptr<SparseLinear>> MakeSparseLinear(const tensor::Tensor& weight,
                                                               const tensor::Tensor& bias);

// The same from a CSR weight (in, out), as CsrFromProto reads it from a model file.
// InvalidArgument when the bias is neither empty nor `weight.cols` values.
absl::StatusOr<std::shared_ptr<SparseLinear>> SparseLinearFromCsr(const CsrMatrix& weight,
                                                                  std::vector<float> bias);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_SPARSE_LINEAR_H_
