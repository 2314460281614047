#include "compression/sparse_linear.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "compression/kernels/spmm_kernels.h"
#include "tensor/check.h"

namespace tt::compress {
namespace {

using tensor::Activation;
using tensor::Tensor;

// One row per Isa, in the enum's order.
struct SparseKernels {
  decltype(&kernels::SpmvScalar) spmv;
  decltype(&kernels::SpmmScalar) spmm;
  int64_t gemv_max_rows;  // see SparseGemvMaxRows
};

constexpr SparseKernels kKernels[] = {
    {kernels::SpmvScalar, kernels::SpmmScalar, 8},
    {kernels::SpmvAvx2, kernels::SpmmAvx2, 2},
    {kernels::SpmvAvx512, kernels::SpmmAvx512, 12},
};
static_assert(static_cast<int>(accel::Isa::kScalar) == 0 &&
                  static_cast<int>(accel::Isa::kAvx2Fma) == 1 &&
                  static_cast<int>(accel::Isa::kAvx512) == 2,
              "kKernels rows follow the order of enum Isa");

// The kernels' scratch (rows of x in the GEMV's chunks, the batch kernel's panels): one
// 64-byte aligned buffer per thread, grown on demand and kept (a layer runs many times
// with the same sizes; allocating per call would cost a page fault per 4 KiB touched
// for the larger panels).
float* Scratch(int64_t floats) {
  struct Buffer {
    float* data = nullptr;
    int64_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (buffer.size < floats) {
    std::free(buffer.data);
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    buffer.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    TT_CHECK(buffer.data != nullptr, "SparseLinear: cannot allocate ", bytes,
             " bytes of scratch");
    buffer.size = floats;
  }
  return buffer.data;
}

}  // namespace

int64_t SparseGemvMaxRows(accel::Isa isa) { return kKernels[static_cast<int>(isa)].gemv_max_rows; }

SparseLinear::SparseLinear(CsrMatrix weight_t, std::vector<float> bias)
    : weight_t_(std::move(weight_t)), bias_(std::move(bias)), has_bias_(!bias_.empty()) {
  CheckCsr(weight_t_, "SparseLinear");
  if (!has_bias_) bias_.assign(weight_t_.rows, 0.0f);
  TT_CHECK(static_cast<int64_t>(bias_.size()) == weight_t_.rows, "SparseLinear: bias has ",
           bias_.size(), " values for ", weight_t_.rows, " outputs");
  // The AVX-512 GEMV's own layout, only where it can run.
  if (accel::IsaSupported(accel::Isa::kAvx512) && weight_t_.rows > 0 && weight_t_.cols > 0) {
    kernels::SparseWeight w;
    w.in = weight_t_.cols;
    w.out = weight_t_.rows;
    w.row_ptr = weight_t_.row_ptr.data();
    w.col_idx = weight_t_.col_idx.data();
    w.values = weight_t_.values.data();
    w.bias = bias_.data();
    steps_ = std::make_shared<const kernels::StepLayout>(kernels::PackSteps(w));
  }
}

SparseLinear::~SparseLinear() = default;

int64_t SparseLinear::Bytes() const {
  return weight_t_.Bytes() + static_cast<int64_t>(bias_.size() * sizeof(float)) +
         (steps_ != nullptr ? steps_->Bytes() : 0);
}

std::string SparseLinear::Describe() const {
  return absl::StrFormat("CSR, %.1f%% zeros, %d nonzeros", 100.0 * sparsity(), nnz());
}

void SparseLinear::Run(const float* x, int64_t rows, float* y, Activation act,
                       SparsePath path) const {
  TT_CHECK(rows >= 0, "SparseLinear::Run: rows must be >= 0, got ", rows);
  const int64_t in = in_features(), out = out_features();
  if (rows == 0 || out == 0) return;
  if (in == 0) {  // no products: y = act(b)
    for (int64_t r = 0; r < rows; ++r) std::copy(bias_.begin(), bias_.end(), y + r * out);
    accel::VBiasAct(y, rows, out, out, nullptr, act);
    return;
  }
  kernels::SparseWeight w;
  w.in = in;
  w.out = out;
  w.row_ptr = weight_t_.row_ptr.data();
  w.col_idx = weight_t_.col_idx.data();
  w.values = weight_t_.values.data();
  w.bias = bias_.data();
  w.steps = steps_.get();
  const accel::Isa isa = accel::ActiveIsa();
  const SparseKernels& k = kKernels[static_cast<int>(isa)];
  if (path == SparsePath::kAuto) {
    path = rows <= SparseGemvMaxRows(isa) ? SparsePath::kGemv : SparsePath::kBatch;
  }
  // The kernels add the bias (their accumulators start from it) and apply ReLU as they
  // store; GELU runs afterwards in acceleration's vectorized epilogue, over an output
  // that is still in cache.
  const bool relu = act == Activation::kRelu;
  float* scratch = Scratch(kernels::SpmmScratchFloats(in, out));
  if (path == SparsePath::kGemv) {
    k.spmv(w, x, rows, relu, y, scratch);
  } else {
    k.spmm(w, x, rows, relu, y, scratch);
  }
  if (act == Activation::kGelu) accel::VBiasAct(y, rows, out, out, nullptr, act);
}

Tensor SparseLinear::Forward(const Tensor& x, Activation act) {
  const int64_t in = in_features();
  TT_CHECK(x.defined() && x.dim() >= 1 && x.shape().back() == in, "SparseLinear(", in, " -> ",
           out_features(), "): input shape ",
           x.defined() ? tensor::ShapeToString(x.shape()) : "undefined", " does not end in ",
           in);
  tensor::Shape shape = x.shape();
  shape.back() = out_features();
  Tensor y = Tensor::Empty(shape);
  const int64_t rows = in == 0 ? tensor::NumElements(tensor::Shape(shape.begin(), shape.end() - 1))
                               : x.numel() / in;
  Run(x.data(), rows, y.data(), act);
  return y;
}

absl::StatusOr<std::shared_ptr<SparseLinear>> MakeSparseLinear(const Tensor& weight,
                                                               const Tensor& bias) {
  if (!weight.defined() || weight.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MakeSparseLinear: weight must be 2-D (in, out), got ",
        weight.defined() ? tensor::ShapeToString(weight.shape()) : "an undefined tensor"));
  }
  const CsrMatrix w = DenseToCsr(weight.data(), weight.size(0), weight.size(1));
  std::vector<float> b;
  if (bias.defined()) {
    if (bias.dim() != 1 || bias.size(0) != w.cols) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MakeSparseLinear: bias must have shape (", w.cols, ") for weight ",
          tensor::ShapeToString(weight.shape()), ", got ", tensor::ShapeToString(bias.shape())));
    }
    b = bias.ToVector();
  }
  return std::make_shared<SparseLinear>(CsrTranspose(w), std::move(b));
}

absl::StatusOr<std::shared_ptr<SparseLinear>> SparseLinearFromCsr(const CsrMatrix& weight,
                                                                  std::vector<float> bias) {
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != weight.cols) {
    return absl::InvalidArgumentError(absl::StrCat("SparseLinearFromCsr: bias has ", bias.size(),
                                                   " values, the weight (", weight.rows, ", ",
                                                   weight.cols, ") has ", weight.cols,
                                                   " outputs"));
  }
  CheckCsr(weight, "SparseLinearFromCsr");
  return std::make_shared<SparseLinear>(CsrTranspose(weight), std::move(bias));
}

}  // namespace tt::compress
