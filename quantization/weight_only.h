// Weight-only quantization of Linear layers: int8 or int4 weights, float activations.
//
// Why: generating text one token at a time multiplies a single row of activations by
// every weight matrix of the model (a GEMV). Each weight is used once per token, so the
// time goes into reading weights, not into arithmetic: storing them in 8 or 4 bits
// instead of 32 reads 4x or 8x fewer bytes (and lets a whole small model sit in L2).
// The activations stay float32 and nothing is calibrated: the weights alone are
// rounded, once, and dequantized again inside the kernel's registers.
//
//   tt::quant::WeightOnlyOptions options;
//   options.scheme = tt::quant::WeightScheme::kInt4Block;   // blocks of 32 by default
//   TT_ASSIGN_OR_RETURN(auto kernel,
//                       tt::quant::MakeWeightOnlyLinear(linear.weight(), linear.bias(), options));
//   linear.SetKernel(kernel);          // linear.Forward(x) now runs on int4 weights
//
// The math (symmetric quantization, zero point 0, real value = scale * q):
//   int8, per output channel: column n of the (in, out) weight W gets
//     scale[n] = max_k |W[k, n]| / 127,   q = clamp(round(W / scale), -127, 127).
//   int4, per block: the flat row-major W is cut into blocks of `block_size` consecutive
//     elements (32 by default: 32 output columns of one input row); block b gets
//     scale[b] = max |W| over the block / 7,   q = clamp(round(W / scale), -8, 7).
//   round() is round-to-nearest-even. Inside the range every weight is off by at most
//   scale / 2, so an output y[n] = sum_k x[k] W[k, n] + bias[n] is off by at most
//     sum_k |x[k]| * scale(k, n) / 2         (plus float rounding of the sums)
//   which is the bound the tests check. The range is symmetric (-127..127, -7..7): the
//   extra negative code (-128, -8) would make the grid lopsided for no gain; files may
//   still hold it, and it is read correctly. An all-zero column or block gets scale 1
//   (every q is 0; a file's scales must be > 0).
//
// Kernels (quantization/kernels/wo_*): for up to 32 (int8) or 16 (int4) rows (decoding)
// a GEMV that streams only the int8/int4 bytes and dequantizes in registers (AVX-512,
// AVX2+FMA or portable, by tt::accel::ActiveIsa()); for more rows (a prompt, validation)
// the weights are dequantized a few columns at a time into a small scratch buffer that
// acceleration's f32 GEMM multiplies, so no full f32 copy is ever kept. Bias and
// ReLU/GELU run in acceleration's fused epilogue (VBiasAct / the GEMM's epilogue).
//
// In-memory layout: columns in panels of 64 (kernels/wo_kernels.h), not the file's
// row-major layout; WeightToProto and WeightOnlyLinearFromProto convert. The int4 GEMV
// needs blocks that tile rows in whole 16-column pieces (block_size % 16 == 0 and
// out % block_size == 0, true for the GPT with the default 32); other block sizes are
// valid and exact but always take the dequantize-and-GEMM path.
#ifndef TT_QUANTIZATION_WEIGHT_ONLY_H_
#define TT_QUANTIZATION_WEIGHT_ONLY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/model.pb.h"
#include "tensor/nn.h"
#include "tensor/tensor.h"

namespace tt::quant {

enum class WeightScheme {
  kInt8PerChannel,  // INT8, PER_CHANNEL along axis 1 (one scale per output column)
  kInt4Block,       // INT4, PER_BLOCK over the flat row-major (in, out) weight
};

// "int8 per channel", "int4 blocks".
const char* WeightSchemeName(WeightScheme scheme);

struct WeightOnlyOptions {
  WeightScheme scheme = WeightScheme::kInt8PerChannel;
  // Elements per int4 block (ignored for int8). Must be > 0.
  int block_size = 32;

  // InvalidArgument for block_size <= 0 (with int4) or an unknown scheme.
  absl::Status Validate() const;
};

// Up to this many rows Run uses the GEMV on the quantized bytes; more rows dequantize a
// panel at a time and run the f32 GEMM (threaded when large). The GEMV's cost grows with
// the rows (it converts each weight once per 4 rows), the GEMM path's conversion is paid
// once per call: measured with weight_only_report on 128 x 512 (one thread, AVX-512),
// the int8 GEMV still wins at 32 rows and loses at 64, int4's ties at 32.
inline constexpr int64_t kWeightOnlyGemvMaxRowsInt8 = 32;
inline constexpr int64_t kWeightOnlyGemvMaxRowsInt4 = 16;

// Which arithmetic Run uses; kAuto decides by the row count (tests force the others).
enum class WeightOnlyPath { kAuto, kGemv, kDequantGemm };

// A Linear layer's weights in int8 or int4 (plus the float32 bias), as a kernel that
// tt::tensor::Linear::SetKernel accepts. Immutable after construction, so one instance
// may serve several threads.
class WeightOnlyLinear : public tensor::LinearKernel {
 public:
  // act(x W + b): x (..., in) -> (..., out). x must be contiguous float (every Tensor
  // is) and end in `in` (TT_CHECK). Emits an op event named "wo_linear_int8" or
  // "wo_linear_int4".
  tensor::Tensor Forward(const tensor::Tensor& x, tensor::Activation act) override;
  // e.g. "int8 weights, per channel" or "int4 weights, blocks of 32".
  std::string Describe() const override;

  // The same on raw memory: x (m, in) row-major -> y (m, out) row-major. y must not
  // overlap x. `path` forces an implementation (tests, benchmarks); a forced kGemv on an
  // int4 layout the GEMV cannot run (see the header comment) runs kDequantGemm.
  void Run(const float* x, int64_t m, float* y, tensor::Activation act,
           WeightOnlyPath path = WeightOnlyPath::kAuto) const;

  WeightScheme scheme() const { return scheme_; }
  int block_size() const { return block_size_; }  // int4 only; 0 for int8
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  // Whether Run's GEMV path applies (always for int8; int4 needs row-aligned blocks).
  bool gemv_supported() const { return gemv_ok_; }

  // Bytes of the quantized weight as a model file stores it: the integers (in*out for
  // int8, ceil(in*out/2) for int4) plus 4 per scale. The bias is not counted.
  int64_t quantized_weight_bytes() const;
  // The canonical integers, row-major (in, out): q in [-127, 127] or [-8, 7].
  std::vector<int8_t> QuantizedValues() const;
  // The scales: `out` of them (int8) or ceil(in*out / block_size) (int4).
  const std::vector<float>& scales() const { return scales_; }
  // scale * q as an (in, out) float tensor: the weight this kernel really multiplies by.
  tensor::Tensor DequantizedWeight() const;
  // The float32 bias (out), or an undefined tensor when the layer has none.
  tensor::Tensor Bias() const;

  // The weight as a model-file tensor named `name`: dtype INT8 (PER_CHANNEL, axis 1) or
  // INT4 (PER_BLOCK, block_size), shape (in, out), data in the canonical row-major
  // layout (int4: two per byte, low nibble first), scales, no zero points.
  tensor::proto::TensorProto WeightToProto(const std::string& name) const;

 private:
  friend absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> MakeWeightOnlyLinear(
      const tensor::Tensor& weight, const tensor::Tensor& bias, const WeightOnlyOptions& options);
  friend absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> WeightOnlyLinearFromProto(
      const tensor::proto::TensorProto& weight, const tensor::Tensor& bias);
  WeightOnlyLinear() = default;
  // Packs canonical values q (in * out, row-major) into the panels. q must be in the
  // scheme's range and `scales` of the scheme's count (the callers check).
  static std::shared_ptr<WeightOnlyLinear> Build(WeightScheme scheme, int block_size, int64_t in,
                                                 int64_t out, const std::vector<int8_t>& q,
                                                 std::vector<float> scales,
                                                 std::vector<float> bias);

  void RunGemv(const float* x, int64_t m, float* y) const;
  void RunDequantGemm(const float* x, int64_t m, float* y, tensor::Activation act) const;
  // Columns [n0, n0 + cols) of the dequantized weight into out (in, cols), row stride cols.
  void DequantizeColumns(int64_t n0, int64_t cols, float* out) const;
  int QuantizedAt(int64_t k, int64_t n) const;  // canonical q(k, n) from the panels

  WeightScheme scheme_ = WeightScheme::kInt8PerChannel;
  int block_size_ = 0;
  int64_t in_ = 0, out_ = 0;
  bool gemv_ok_ = false;
  std::vector<uint8_t> packed_;  // panels (kernels/wo_kernels.h)
  std::vector<float> scales_;    // canonical scales (int8: out; int4: ceil(in*out/bs))
  std::vector<float> padded_scales_;  // int8 only: scales_ zero-padded to round_up(out, 32)
  std::vector<float> bias_;      // out values, or empty
};

// Quantizes weight (in, out) with `options`; bias: (out) float32, or undefined for none
// (it is copied and stays float32). InvalidArgument for bad options, a weight that is
// not 2-D or is empty, a bias of the wrong shape, or a weight element that is NaN or
// infinite (the message gives its index).
absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> MakeWeightOnlyLinear(
    const tensor::Tensor& weight, const tensor::Tensor& bias, const WeightOnlyOptions& options);

// A kernel from a model-file tensor as WeightToProto writes it, plus the bias (or
// undefined). Errors name the tensor: it fails ValidateTensorProto (e.g. no scales); its
// dtype is not INT8/INT4; INT8 is not PER_CHANNEL on axis 1 or INT4 not PER_BLOCK; it
// has a nonzero zero point (the kernels are symmetric); it is not 2-D; the bias does not
// have `out` elements.
absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> WeightOnlyLinearFromProto(
    const tensor::proto::TensorProto& weight, const tensor::Tensor& bias);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_WEIGHT_ONLY_H_
