// TinyMLPerf's events: what each one measures, on which data, against which reference
// model and which quality target. The harness (loadgen.h) runs them; recipes.h builds
// the systems that compete in them.
//
//   TT_ASSIGN_OR_RETURN(const EventSpec* event, FindEvent("cnn_marathon"));
//   TT_ASSIGN_OR_RETURN(tensor::LoadedClassifier reference,
//                       tensor::LoadClassifier(ReferencePath(*event)));
//   double target = reference.metadata.accuracy() * event->target_fraction;
//
// The events (MLPerf's idea: a fixed task, a fixed data set, a reference model, and a
// quality target relative to it; the score is speed, but only at the target):
//   mlp_sprint             Fashion-MNIST MLP 784-256-128-10, SingleStream (batch 1),
//                          top-1 accuracy on all 10,000 test images >= 99% of the
//                          reference's.
//   cnn_marathon           Fashion-MNIST CNN (conv16, conv32, fc128), SingleStream,
//                          the same gate.
//   transformer_decathlon  the char-level GPT (d_model 128, 4 heads, 4 layers) on the
//                          fortunes text: Offline, one query = 256 new tokens (greedy)
//                          from a validation prompt, so samples/s x 256 = tokens/s;
//                          validation loss (nats/char) within 2% of the reference's
//                          (target_fraction 0.98: at most reference / 0.98).
//   training_relay         one epoch of the CNN at batch 64 from a fixed seed: Offline
//                          over the 60,000 training images, one query = one Adam step
//                          on 64 images (the seeded load generator's order is the
//                          epoch's shuffle), so samples/s = images/s; the gate is the
//                          test accuracy after that epoch, >= 99% of the reference
//                          run's (recorded in the CNN reference file's notes).
//
// Reference models are committed under benchmarking/reference/ (train_reference.cc
// wrote them; its command is in the README) with their accuracy, seed and recipe in
// the model file's metadata; reference_models_test checks they still reach it.
#ifndef TT_BENCHMARKING_TASKS_H_
#define TT_BENCHMARKING_TASKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarking/loadgen.h"
#include "benchmarking/result_io.h"
#include "tensor/data_loader.h"
#include "tensor/idx_reader.h"
#include "tensor/model.pb.h"

namespace tt::bench {

enum class EventKind { kClassifier, kTransformer, kTraining };

struct EventSpec {
  std::string name;   // "mlp_sprint": the result's task
  std::string title;  // "MLP Sprint"
  EventKind kind = EventKind::kClassifier;
  Scenario scenario = Scenario::kSingleStream;
  std::string reference_file;  // in ReferenceDir()
  std::string quality_metric;  // "top1_accuracy", "validation_loss_nats"
  Direction quality_direction = Direction::kHigherIsBetter;
  double target_fraction = 0.99;
  std::string headline;              // what the speedup is a ratio of, for people
  std::vector<std::string> recipes;  // the built-in recipes; "baseline" first
};

// The four events, in the order above.
const std::vector<EventSpec>& Events();
// NotFound listing the event names.
absl::StatusOr<const EventSpec*> FindEvent(absl::string_view name);

// Tokens generated per query in the transformer event.
inline constexpr int64_t kDecathlonNewTokens = 256;
// Characters of each transformer prompt (cut from the validation text at line starts).
inline constexpr int64_t kDecathlonPromptChars = 32;
// Validation windows (of the model's training window) scored for the quality gate.
inline constexpr int64_t kDecathlonValWindows = 200;
// The metadata note of the CNN reference file holding the training relay's reference
// accuracy (one epoch from the relay's seed on the accelerated backend).
inline constexpr char kRelayAccuracyNote[] = "training_relay_accuracy";
inline constexpr uint64_t kRelaySeed = 1;
inline constexpr int64_t kRelayBatch = 64;
inline constexpr float kRelayLearningRate = 1e-3f;

// Where the committed reference models are: $TINYMLPERF_REFERENCE_DIR if set, else the
// runfiles of `bazel run`/`bazel test` (the target needs data = ["//benchmarking:reference_models"]),
// else <workspace>/benchmarking/reference when run from the source tree.
std::string ReferenceDir();
std::string ReferencePath(const EventSpec& event);

// Fashion-MNIST as every course model was trained on it: pixels in [0, 1], normalized by
// the loaders (tensor::kFashionMnistMean / Stddev). limit -1: all.
struct FashionMnistData {
  tensor::Dataset train, test;
};
absl::StatusOr<FashionMnistData> LoadFashionMnistData(int64_t train_limit = -1,
                                                      int64_t test_limit = -1);

// Loader options of the course's classifiers: normalized, (B, 784) for an MLP or
// (B, 1, 28, 28) for a CNN, sequential (shuffle_seed 0) or shuffled by the seed.
tensor::DataLoader::Options ClassifierLoaderOptions(const tensor::proto::Architecture& arch,
                                                    int64_t batch, uint64_t shuffle_seed = 0);
// The shape of one example for `arch`: {784} or {1, 28, 28}.
std::vector<int64_t> ExampleShape(const tensor::proto::Architecture& arch);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_TASKS_H_
