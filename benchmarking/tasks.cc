#include "benchmarking/tasks.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensor/check.h"

namespace tt::bench {
namespace {

bool IsDir(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

}  // namespace

const std::vector<EventSpec>& Events() {
  static const std::vector<EventSpec>* const events = [] {
    auto* v = new std::vector<EventSpec>;
    EventSpec mlp;
    mlp.name = "mlp_sprint";
    mlp.title = "MLP Sprint";
    mlp.kind = EventKind::kClassifier;
    mlp.scenario = Scenario::kSingleStream;
    mlp.reference_file = "mlp_sprint.ttm";
    mlp.quality_metric = "top1_accuracy";
    mlp.quality_direction = Direction::kHigherIsBetter;
    mlp.target_fraction = 0.99;
    mlp.headline = "p90 latency at batch 1 (early-stopping bound)";
    mlp.recipes = {"baseline", "accelerated", "int8", "pruned+int8"};
    v->push_back(mlp);

    EventSpec cnn = mlp;
    cnn.name = "cnn_marathon";
    cnn.title = "CNN Marathon";
    cnn.reference_file = "cnn_marathon.ttm";
    v->push_back(cnn);

    EventSpec gpt;
    gpt.name = "transformer_decathlon";
    gpt.title = "Transformer Decathlon";
    gpt.kind = EventKind::kTransformer;
    gpt.scenario = Scenario::kOffline;
    gpt.reference_file = "transformer_decathlon.ttm";
    gpt.quality_metric = "validation_loss_nats";
    gpt.quality_direction = Direction::kLowerIsBetter;
    gpt.target_fraction = 0.98;
    gpt.headline = "tokens/s generating 256 tokens at batch 1";
    gpt.recipes = {"baseline", "accelerated", "cached", "cached+int8"};
    v->push_back(gpt);

    EventSpec relay;
    relay.name = "training_relay";
    relay.title = "Training Relay";
    relay.kind = EventKind::kTraining;
    relay.scenario = Scenario::kOffline;
    relay.reference_file = "cnn_marathon.ttm";
    relay.quality_metric = "top1_accuracy_after_one_epoch";
    relay.quality_direction = Direction::kHigherIsBetter;
    relay.target_fraction = 0.99;
    relay.headline = "training images/s over one epoch at batch 64";
    relay.recipes = {"baseline", "accelerated"};
    v->push_back(relay);
    return v;
  }();
  return *events;
}

absl::StatusOr<const EventSpec*> FindEvent(absl::string_view name) {
  std::vector<std::string> names;
  for (const EventSpec& e : Events()) {
    if (e.name == name) return &e;
    names.push_back(e.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown event '", name,
                                          "'; the events are: ", absl::StrJoin(names, ", ")));
}

std::string ReferenceDir() {
  if (const char* dir = std::getenv("TINYMLPERF_REFERENCE_DIR"); dir != nullptr && *dir) {
    return dir;
  }
  std::vector<std::string> candidates;
  for (const char* root_var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* root = std::getenv(root_var);
    if (root != nullptr && *root != '\0') {
      candidates.push_back(absl::StrCat(root, "/tinytorch/benchmarking/reference"));
    }
  }
  // `bazel run` starts the binary in its runfiles tree; a binary started by hand finds
  // its runfiles next to itself.
  candidates.push_back("benchmarking/reference");
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    candidates.push_back(
        absl::StrCat(std::string(exe, n), ".runfiles/tinytorch/benchmarking/reference"));
  }
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr && *ws) {
    candidates.push_back(absl::StrCat(ws, "/benchmarking/reference"));
  }
  for (const std::string& c : candidates) {
    if (IsDir(c)) return c;
  }
  return "benchmarking/reference";  // the error then names this path
}

std::string ReferencePath(const EventSpec& event) {
  return absl::StrCat(ReferenceDir(), "/", event.reference_file);
}

absl::StatusOr<FashionMnistData> LoadFashionMnistData(int64_t train_limit, int64_t test_limit) {
  FashionMnistData data;
  const std::string dir = tensor::FashionMnistDir();
  tensor::LoadOptions train_options, test_options;
  train_options.limit = train_limit;
  test_options.limit = test_limit;
  TT_ASSIGN_OR_RETURN(data.train,
                      tensor::LoadFashionMnist(dir, tensor::Split::kTrain, train_options));
  TT_ASSIGN_OR_RETURN(data.test, tensor::LoadFashionMnist(dir, tensor::Split::kTest, test_options));
  return data;
}

std::vector<int64_t> ExampleShape(const tensor::proto::Architecture& arch) {
  if (arch.has_cnn()) {
    return {arch.cnn().in_channels(), arch.cnn().height(), arch.cnn().width()};
  }
  const int64_t in = arch.has_mlp() && arch.mlp().layer_sizes_size() > 0
                         ? arch.mlp().layer_sizes(0)
                         : 784;
  return {in};
}

tensor::DataLoader::Options ClassifierLoaderOptions(const tensor::proto::Architecture& arch,
                                                    int64_t batch, uint64_t shuffle_seed) {
  tensor::DataLoader::Options o;
  o.batch_size = batch;
  o.mean = tensor::kFashionMnistMean;
  o.stddev = tensor::kFashionMnistStddev;
  if (shuffle_seed != 0) {
    o.order = tensor::DataLoader::Order::kShuffled;
    o.seed = shuffle_seed;
  }
  if (arch.has_cnn()) o.example_shape = ExampleShape(arch);
  return o;
}

}  // namespace tt::bench
