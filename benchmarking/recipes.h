// TinyMLPerf's built-in recipes: how each module of the course is applied to an event's
// reference model to build a system under test. A recipe is a name plus the knobs it
// sets (recorded in the result file's Recipe.parameters), so a submission says exactly
// what it ran.
//
//   classifier events (mlp_sprint, cnn_marathon):
//     baseline      the reference model as tensor/ runs it: float32, the "reference"
//                   backend (plain loops), no fusion beyond what tensor does itself.
//     accelerated   the same model on acceleration's "auto" backend (blocked/SIMD GEMM,
//                   small-M rung at batch 1, fused bias + ReLU).
//     int8          quantization's post-training static int8 (per-channel weights, min-max
//                   calibration on 2,048 training images), int8 GEMM/conv kernels.
//     pruned+int8   compression's structured pruning (half of the hidden units or conv
//                   filters removed by L1 norm, the layer physically shrunk), fine-tuned
//                   on the training set, then int8 as above.
//   transformer_decathlon:
//     baseline      tensor's Gpt::Forward over the whole prefix for every new token (no
//                   cache), reference backend.
//     accelerated   the same without a cache on the "auto" backend.
//     cached        caching's CachedGpt: prefill once, then one cached decode step per
//                   token (the engine's default KV cache type), float32 weights.
//     cached+int8   the cached engine with int8 weight-only Linear layers (per-channel).
//   training_relay:
//     baseline      one epoch of Adam on the reference backend.
//     accelerated   the same training on the "auto" backend (both cores for big GEMMs).
//
// Every recipe starts from the same reference file and the same seeds; nothing is
// trained on the test set. Building a recipe (pruning, fine-tuning, calibration) is
// untimed; only the queries are.
#ifndef TT_BENCHMARKING_RECIPES_H_
#define TT_BENCHMARKING_RECIPES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarking/result.pb.h"
#include "benchmarking/tasks.h"
#include "caching/trained_gpt.h"
#include "tensor/model_io.h"
#include "tensor/nn.h"
#include "tensor/optim.h"
#include "tensor/tensor.h"

namespace tt::bench {

struct RecipeOptions {
  // Small budgets (fine-tuning steps, calibration batches): checks that every recipe
  // builds and runs, not how good it is. Used by tests and `tinymlperf --quick`.
  bool quick = false;
  // Fine-tuning epochs of pruned+int8 after pruning; -1: 1 for the MLP, 2 for the CNN.
  int finetune_epochs = -1;
  uint64_t seed = 1;
  // Where recipes write the model files whose sizes they report (must exist).
  std::string work_dir;
};

// --- Classifier events -------------------------------------------------------------

// A classifier as a recipe prepared it.
class ClassifierEngine {
 public:
  virtual ~ClassifierEngine() = default;
  // images: (B, example shape...), normalized as the loaders do -> logits (B, classes).
  virtual tensor::Tensor Logits(const tensor::Tensor& images) = 0;

  const proto::Recipe& recipe() const { return recipe_; }
  // Bytes of the model file this recipe stores (f32, int8, pruned int8).
  int64_t model_bytes() const { return model_bytes_; }
  // Bytes of weights held in memory while running (packed copies included).
  int64_t resident_bytes() const { return resident_bytes_; }

 protected:
  proto::Recipe recipe_;
  int64_t model_bytes_ = 0;
  int64_t resident_bytes_ = 0;
};

// Builds `recipe` (see the table above) from the event's reference. `data.train` is used
// for fine-tuning and calibration only. InvalidArgument naming the recipes for an
// unknown name; errors of the modules (pruning, quantization, file writes).
absl::StatusOr<std::unique_ptr<ClassifierEngine>> BuildClassifierEngine(
    absl::string_view recipe, const tensor::LoadedClassifier& reference,
    const FashionMnistData& data, const RecipeOptions& options);

// --- Transformer event ----------------------------------------------------------------

class TextEngine {
 public:
  virtual ~TextEngine() = default;
  // Greedy generation of exactly `new_tokens` tokens after `prompt` (no stop strings;
  // past the model's context the sliding window of caching/generate.h applies).
  virtual absl::Status Generate(const std::string& prompt, int64_t new_tokens) = 0;
  // Validation loss (nats/char) of the model as this recipe runs it, over `windows`
  // windows of the model's training window.
  virtual absl::StatusOr<double> ValidationLoss(int64_t windows) = 0;

  // The text of the last Generate call (the continuation only).
  const std::string& last_text() const { return last_text_; }
  const proto::Recipe& recipe() const { return recipe_; }
  int64_t model_bytes() const { return model_bytes_; }
  // Weights held in memory (float32 or int8).
  int64_t resident_bytes() const { return resident_bytes_; }

 protected:
  proto::Recipe recipe_;
  int64_t model_bytes_ = 0;
  int64_t resident_bytes_ = 0;
  std::string last_text_;
};

// Loads the reference GPT afresh (recipes change its weights) and prepares `recipe`.
absl::StatusOr<std::unique_ptr<TextEngine>> BuildTextEngine(absl::string_view recipe,
                                                            const std::string& reference_path,
                                                            const cache::CharCorpus& corpus,
                                                            const RecipeOptions& options);

// --- Training event -------------------------------------------------------------------

// One epoch of the relay: a fresh CNN of the reference architecture (initialized from
// kRelaySeed), Adam at kRelayLearningRate, cross-entropy; Step() is one optimizer step.
class TrainingEngine {
 public:
  // InvalidArgument for an unknown recipe or backend, or a non-CNN architecture.
  static absl::StatusOr<std::unique_ptr<TrainingEngine>> Create(
      absl::string_view recipe, const tensor::proto::Architecture& architecture);

  // images: (B, 1, 28, 28) normalized, labels: B class ids.
  void Step(const tensor::Tensor& images, const std::vector<int32_t>& labels);
  // Test accuracy of the model trained so far (on the recipe's backend).
  absl::StatusOr<double> TestAccuracy(const tensor::Dataset& test);

  const proto::Recipe& recipe() const { return recipe_; }
  tensor::Sequential& model() { return *model_; }
  int64_t steps() const { return steps_; }

 private:
  TrainingEngine() = default;
  proto::Recipe recipe_;
  tensor::proto::Architecture architecture_;
  tensor::Backend* backend_ = nullptr;
  std::unique_ptr<tensor::Sequential> model_;
  std::unique_ptr<tensor::Adam> adam_;
  int64_t steps_ = 0;
};

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_RECIPES_H_
