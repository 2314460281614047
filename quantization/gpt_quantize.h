// Weight-only quantization of the character-level GPT: every Linear layer (attention
// qkv and proj, both MLP layers of every block, and lm_head) runs on int8 or int4
// weights through WeightOnlyLinear; embeddings and LayerNorms stay float32. Quantized
// models save to and load from the model file with INT8/INT4 tensors, and their quality
// is measured as the validation loss next to the float model's.
//
//   namespace tq = tt::quant;
//   TT_ASSIGN_OR_RETURN(tt::tensor::LoadedGpt loaded, tt::tensor::LoadGpt("gpt.ttm"));
//   tt::tensor::Gpt& gpt = *loaded.model;
//   tq::WeightOnlyOptions options;
//   options.scheme = tq::WeightScheme::kInt4Block;           // blocks of 32
//   TT_ASSIGN_OR_RETURN(double float_loss, tq::GptValidationLoss(gpt, val.ids(), 64));
//   TT_ASSIGN_OR_RETURN(tq::WeightOnlyReport report, tq::QuantizeGptWeights(gpt, options));
//   TT_ASSIGN_OR_RETURN(double int4_loss, tq::GptValidationLoss(gpt, val.ids(), 64));
//   TT_RETURN_IF_ERROR(tq::SaveQuantizedGpt("gpt_int4.ttm", gpt, loaded.metadata));
//   TT_ASSIGN_OR_RETURN(tt::tensor::LoadedGpt int4, tq::LoadQuantizedGpt("gpt_int4.ttm"));
//   // int4.model->Forward(ids, 1, t, &past) decodes on int4 weights (KV cache unchanged).
//
// A quantized GPT is inference-only: QuantizeGptWeights and LoadQuantizedGpt turn off
// requires_grad on every parameter, so Forward runs without a NoGradGuard (a Linear
// with a kernel refuses inputs that need a gradient). Its float Linear weights stay in
// place but are not read while the kernels are set.
#ifndef TT_QUANTIZATION_GPT_QUANTIZE_H_
#define TT_QUANTIZATION_GPT_QUANTIZE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantization/weight_only.h"
#include "tensor/char_dataset.h"
#include "tensor/model.pb.h"
#include "tensor/model_io.h"
#include "tensor/models.h"

namespace tt::quant {

// What QuantizeGptWeights did. Byte counts cover the Linear weights only (biases,
// embeddings and LayerNorms stay float32 and are the same in both models):
//   float_weight_bytes     = 4 * sum(in * out)
//   quantized_weight_bytes = sum of WeightOnlyLinear::quantized_weight_bytes(): the
//                            integers plus 4 bytes per scale, as the model file stores them.
struct WeightOnlyReport {
  int64_t linear_layers = 0;
  int64_t float_weight_bytes = 0;
  int64_t quantized_weight_bytes = 0;
};

// Quantizes every Linear of `gpt` from its current float weight (a kernel already set
// is replaced) and sets the kernels; then makes the model inference-only (see above).
// All kernels are built before any is set: on error (bad options, a non-finite weight,
// named by its layer) the model is unchanged.
absl::StatusOr<WeightOnlyReport> QuantizeGptWeights(tensor::Gpt& gpt,
                                                    const WeightOnlyOptions& options);

// Saves a quantized GPT: the same architecture message and tensor names and order as
// tensor::SaveGpt, with each Linear's weight stored as its kernel's INT8/INT4 tensor
// (WeightOnlyLinear::WeightToProto) and its bias from the kernel; every other tensor F32.
// FailedPrecondition naming the layer if a Linear has no WeightOnlyLinear kernel; errors
// of SaveModel (which validates the file first) otherwise.
absl::Status SaveQuantizedGpt(const std::string& path, const tensor::Gpt& gpt,
                              const tensor::proto::Metadata& meta);

// Loads a file written by SaveQuantizedGpt: builds the GPT from its architecture, loads
// the F32 tensors, and sets a WeightOnlyLinear on every Linear from its INT8/INT4 weight.
// Each Linear's float weight is overwritten with the dequantized weight, so removing the
// kernels (SetKernel(nullptr)) leaves the equivalent float model. Errors start with the
// path and name the tensor: a Linear weight that is not INT8/INT4 (e.g. a float model
// file: load it with tensor::LoadGpt), a non-Linear tensor that is not F32, a wrong
// scheme or block size, nonzero zero points, missing scales, a shape that does not match
// the architecture, a missing or unexpected tensor; plus LoadModel's errors.
absl::StatusOr<tensor::LoadedGpt> LoadQuantizedGpt(const std::string& path);

struct ValidationLossOptions {
  int64_t window = 0;      // tokens per window; 0: the model's context length
  int64_t batch_size = 8;  // windows per forward pass
};

// Mean cross-entropy (nats per token; divide by ln 2 for bits per character) of `gpt`'s
// next-token predictions over `ids` (e.g. CharDatasetSplit::validation.ids()).
// The text is read as non-overlapping windows of options.window tokens (the last,
// shorter one included; each window predicts its own next tokens, so the first positions
// see little context, as in training: use the training length, since positions a model
// never trained on predict badly). When there are more than max_windows windows,
// max_windows of them are taken evenly spread over the text, so the figure covers the
// whole split and is deterministic. Every predicted token counts once. Runs in eval mode
// without gradients (restoring the mode). InvalidArgument if there are fewer than 2 ids,
// an id is outside [0, vocab_size), max_windows < 1, batch_size < 1, or the window is
// negative or longer than the context.
absl::StatusOr<double> GptValidationLoss(tensor::Gpt& gpt, const std::vector<int32_t>& ids,
                                         int64_t max_windows,
                                         const ValidationLossOptions& options = {});

// --- A trained model to quantize ---------------------------------------------------
// The quantization report needs a GPT that has learned something; training one takes
// a minute on the accelerated backend. (The caching module trains the model it ships;
// this is the small bounded trainer that comes before it.)

struct GptTrainOptions {
  double max_seconds = 60.0;  // wall-clock budget (checked after each step)
  int64_t max_steps = 0;      // 0: no step limit
  int64_t batch_size = 16;
  int64_t sequence_length = 128;  // <= context_length
  float learning_rate = 3e-3f;    // AdamW, cosine decay to 10% over the budget
  uint64_t seed = 1;
};

struct GptTrainResult {
  std::unique_ptr<tensor::Gpt> model;
  int64_t steps = 0;
  double seconds = 0.0;
  double last_loss = 0.0;  // mean training loss of the last 10 steps
};

// Trains a fresh GPT of `config` on windows sampled from `train` with AdamW on the
// current backend (wrap the call in a tt::tensor::ScopedBackend to choose one).
// InvalidArgument for a vocabulary larger than config.vocab_size, a sequence length
// above the context or the text, or non-positive sizes.
absl::StatusOr<GptTrainResult> TrainGpt(const tensor::GptConfig& config,
                                        const tensor::CharDataset& train,
                                        const GptTrainOptions& options);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_GPT_QUANTIZE_H_
