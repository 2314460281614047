// Post-training static quantization of the reference classifiers (MLP and CNN).
//
// Static quantization fixes every scale before inference: weights get one int8 scale per
// output channel from their own values, and activations get one uint8 (scale, zero point)
// per tensor from a calibration pass over real images. Inference then runs integers only:
//
//   float image --quantize--> uint8 --[int8 GEMM, int32 accumulate, requantize (+ReLU)]-->
//   uint8 --[max-pool on uint8]--> ... --[last GEMM, int32]--> dequantize --> float logits
//
// Nothing is dequantized between layers ("fake quantization" would); the only float work
// is quantizing the input and dequantizing the ten logits.
//
//   TT_ASSIGN_OR_RETURN(auto q, QuantizeClassifier(float_model, arch, calibration, {}));
//   Tensor logits = q->Forward(images);                 // same input as the float model
//   TT_RETURN_IF_ERROR(SaveQuantizedClassifier("cnn_int8.ttm", *q, meta));
//   TT_ASSIGN_OR_RETURN(auto loaded, LoadQuantizedClassifier("cnn_int8.ttm"));
//
// The model file keeps the float model's architecture and tensor names; weights are
// INT8 with PER_CHANNEL scales (symmetric, no zero points), biases stay F32 (they are
// turned into int32 at load time, once the input scale is known), and the activation
// parameters sit in ModelFile.activation_quant under "input" and "<layer>.output".
#ifndef TT_QUANTIZATION_QUANTIZED_MODEL_H_
#define TT_QUANTIZATION_QUANTIZED_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantization/int8_conv.h"
#include "quantization/int8_gemm.h"
#include "quantization/qparams.h"
#include "quantization/requantize.h"
#include "tensor/data_loader.h"
#include "tensor/model.pb.h"
#include "tensor/nn.h"

namespace tt::quant {

struct QuantizeOptions {
  // Activation observer (observers.h MakeObserver spec): "minmax", "ema", "percentile",
  // "mse", ...
  std::string observer = "minmax";
  // Calibration batches taken from the loader's current epoch (from its start); -1 = all.
  int64_t calibration_batches = 32;
  // Weights: one scale per output channel (default) or one for the whole tensor.
  bool per_channel = true;
};

// One layer of the quantized network, with everything it needs precomputed.
struct QuantizedLayer {
  enum class Kind { kLinear, kConv, kMaxPool };
  Kind kind = Kind::kLinear;
  std::string name;  // the float model's child name ("0", "3", ...): "<name>.weight"

  // kLinear / kConv.
  int64_t in_features = 0, out_features = 0;  // GEMM K and N
  ConvShape conv;                             // kConv only; batch is set per call
  std::vector<int64_t> weight_shape;          // float layout: (in, out) or (OC, C, K, K)
  std::vector<int8_t> weight;                 // int8, float layout (what the file stores)
  std::vector<float> weight_scale;            // per output channel (or 1 entry)
  std::vector<float> bias;                    // float, per output channel
  QParams input, output;                      // activation parameters (output unused if last)
  bool relu = false;                          // ReLU fused into the requantization clamp
  bool last = false;                          // produces float logits

  // Derived at build time.
  std::shared_ptr<const PackedInt8Matrix> packed;
  std::vector<int32_t> bias_q;  // bias / (input.scale * weight_scale)
  std::vector<FixedPointMultiplier> multipliers;
  std::vector<float> dequant_scale;  // last layer: input.scale * weight_scale[n]

  // kMaxPool.
  int64_t pool_kernel = 0, pool_stride = 0;
};

class QuantizedClassifier {
 public:
  // `layers` fully described (weights, scales, activation params); derives the packed
  // weights, int32 biases and multipliers. Errors for inconsistent layers.
  static absl::StatusOr<std::unique_ptr<QuantizedClassifier>> Build(
      tensor::proto::Architecture architecture, std::vector<QuantizedLayer> layers);

  // x: the float model's input, (B, 784) for the MLP or (B, C, H, W) for the CNN, with
  // the same normalization. Returns float logits (B, classes). Not thread-safe: the
  // scratch buffers are reused from call to call.
  tensor::Tensor Forward(const tensor::Tensor& x);

  const tensor::proto::Architecture& architecture() const { return architecture_; }
  const std::vector<QuantizedLayer>& layers() const { return layers_; }
  // Bytes of the int8 weights plus the float biases and scales.
  int64_t ParameterBytes() const;
  // One line per layer with its scales, e.g. for the report.
  std::string Summary() const;

 private:
  QuantizedClassifier() = default;

  tensor::proto::Architecture architecture_;
  std::vector<QuantizedLayer> layers_;
  bool nhwc_input_ = false;  // CNN: the float input is NCHW and gets transposed
  int64_t in_c_ = 0, in_h_ = 0, in_w_ = 0, in_features_ = 0, classes_ = 0;
  // Scratch, reused across calls.
  std::vector<uint8_t> act_a_, act_b_, cols_;
  std::vector<int32_t> acc_;
};

// Quantizes a trained float MLP or CNN (built from `architecture`, e.g. by
// tensor::BuildClassifier, in eval mode or not) with activation ranges from
// `calibration` (a loader producing the model's input). Errors: a layer the quantizer
// does not know (it handles Linear, Conv2d, ReLU after them, MaxPool2d, Flatten,
// Dropout), NaN/Inf in weights or activations, an empty calibration set.
absl::StatusOr<std::unique_ptr<QuantizedClassifier>> QuantizeClassifier(
    tensor::Sequential& model, const tensor::proto::Architecture& architecture,
    tensor::DataLoader& calibration, const QuantizeOptions& options = {});

// Model file round trip (see the top of this header for the layout).
absl::Status SaveQuantizedClassifier(const std::string& path, const QuantizedClassifier& model,
                                     const tensor::proto::Metadata& metadata);
struct LoadedQuantizedClassifier {
  std::unique_ptr<QuantizedClassifier> model;
  tensor::proto::Metadata metadata;
};
absl::StatusOr<LoadedQuantizedClassifier> LoadQuantizedClassifier(const std::string& path);

// Accuracy of `model` on every example of `loader` (one epoch from its start).
double QuantizedAccuracy(QuantizedClassifier& model, tensor::DataLoader& loader);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_QUANTIZED_MODEL_H_
