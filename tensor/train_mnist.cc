// Trains the reference MLP or CNN on Fashion-MNIST and reports test accuracy and speed.
//
//   bazel run //tensor:train_mnist -- --model=cnn --epochs=5 --json=/tmp/cnn.json
//
// Seeded and reproducible: the same flags give the same accuracy. --json writes the
// figures as one flat object (keys in tensor/README.md); --save writes the trained model
// in the course's model format.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/data_loader.h"
#include "tensor/flat_json.h"
#include "tensor/idx_reader.h"
#include "tensor/model_io.h"
#include "tensor/models.h"
#include "tensor/optim.h"
#include "tensor/train.h"

ABSL_FLAG(std::string, model, "mlp", "mlp (784-256-128-10) or cnn");
ABSL_FLAG(int64_t, epochs, 5, "training epochs");
ABSL_FLAG(int64_t, batch_size, 64, "examples per batch");
ABSL_FLAG(double, lr, 1e-3, "peak learning rate (Adam, cosine decay to 0)");
ABSL_FLAG(uint64_t, seed, 1, "seed for initialization and shuffling");
ABSL_FLAG(int64_t, train_limit, -1, "use only the first N training images (-1: all 60000)");
ABSL_FLAG(int64_t, test_limit, -1, "use only the first N test images (-1: all 10000)");
ABSL_FLAG(std::string, data_dir, "", "Fashion-MNIST directory (default: found automatically)");
ABSL_FLAG(std::string, backend, "reference", "compute backend (see backend.h)");
ABSL_FLAG(std::string, progress, "auto", "auto, bar, lines or none");
ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(std::string, save, "", "save the trained model to this file (.ttm)");

namespace tt::tensor {
namespace {

constexpr float kPixelMean = kFashionMnistMean;
constexpr float kPixelStddev = kFashionMnistStddev;

absl::Status Run() {
  const std::string model_name = absl::GetFlag(FLAGS_model);
  if (model_name != "mlp" && model_name != "cnn") {
    return absl::InvalidArgumentError(
        absl::StrCat("--model must be mlp or cnn, got '", model_name, "'"));
  }
  const int64_t epochs = absl::GetFlag(FLAGS_epochs);
  if (epochs < 1) return absl::InvalidArgumentError("--epochs must be >= 1");
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  FitOptions fit;
  fit.epochs = epochs;
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress == "bar") {
    fit.progress = FitOptions::Progress::kBar;
  } else if (progress == "lines") {
    fit.progress = FitOptions::Progress::kLines;
  } else if (progress == "none") {
    fit.progress = FitOptions::Progress::kNone;
  } else if (progress != "auto") {
    return absl::InvalidArgumentError(absl::StrCat("--progress: unknown value '", progress, "'"));
  }
  TT_ASSIGN_OR_RETURN(Backend * backend, FindBackend(absl::GetFlag(FLAGS_backend)));
  ScopedBackend use_backend(backend);

  std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) dir = FashionMnistDir();
  LoadOptions train_opts, test_opts;
  train_opts.limit = absl::GetFlag(FLAGS_train_limit);
  test_opts.limit = absl::GetFlag(FLAGS_test_limit);
  TT_ASSIGN_OR_RETURN(Dataset train, LoadFashionMnist(dir, Split::kTrain, train_opts));
  TT_ASSIGN_OR_RETURN(Dataset test, LoadFashionMnist(dir, Split::kTest, test_opts));

  const bool cnn = model_name == "cnn";
  DataLoader::Options loader;
  loader.batch_size = absl::GetFlag(FLAGS_batch_size);
  loader.mean = kPixelMean;
  loader.stddev = kPixelStddev;
  if (cnn) loader.example_shape = {1, 28, 28};
  DataLoader::Options train_loader_opts = loader;
  train_loader_opts.order = DataLoader::Order::kShuffled;
  train_loader_opts.seed = seed;
  TT_ASSIGN_OR_RETURN(DataLoader train_loader, DataLoader::Create(&train, train_loader_opts));
  loader.batch_size = 500;  // evaluation: larger batches, same results
  TT_ASSIGN_OR_RETURN(DataLoader test_loader, DataLoader::Create(&test, loader));

  proto::Architecture arch = cnn ? ToArchitecture(CnnConfig{}) : ToArchitecture(MlpConfig{});
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> model, BuildClassifier(arch, seed));
  std::fprintf(stderr, "%s", model->Summary().c_str());
  std::fprintf(stderr, "training %s on %lld images, testing on %lld, backend %s\n",
               model_name.c_str(), static_cast<long long>(train.labels.size()),
               static_cast<long long>(test.labels.size()), backend->name().c_str());

  const float lr = static_cast<float>(absl::GetFlag(FLAGS_lr));
  Adam optimizer(model->Parameters(), Adam::Options{.lr = lr});
  CosineSchedule schedule({.base_lr = lr, .total_steps = epochs * train_loader.num_batches()});
  fit.schedule = &schedule;
  std::vector<EpochStats> history = Fit(*model, optimizer, train_loader, fit, &test_loader);

  const EvalResult final_eval = history.back().validation;
  double seconds = 0.0;
  for (const EpochStats& e : history) seconds += e.seconds;
  const double seconds_per_epoch = seconds / epochs;
  const double images_per_second = train.labels.size() * epochs / seconds;
  std::printf("model %s  epochs %lld  test accuracy %.4f  test loss %.4f  "
              "%.1f s/epoch  %.0f images/s (backend %s)\n",
              model_name.c_str(), static_cast<long long>(epochs), final_eval.accuracy,
              final_eval.loss, seconds_per_epoch, images_per_second, backend->name().c_str());

  if (const std::string path = absl::GetFlag(FLAGS_save); !path.empty()) {
    proto::Metadata meta;
    meta.set_dataset("fashion-mnist");
    meta.set_accuracy(final_eval.accuracy);
    meta.set_seed(seed);
    meta.set_created_by("tensor/train_mnist");
    meta.set_epochs(epochs);
    (*meta.mutable_notes())["optimizer"] = absl::StrFormat("adam lr %g cosine", lr);
    (*meta.mutable_notes())["batch_size"] = absl::StrCat(loader.batch_size);
    TT_RETURN_IF_ERROR(SaveClassifier(path, arch, *model, meta));
    std::printf("saved %s\n", path.c_str());
  }
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    FlatJson json;
    json.Add("model", model_name);
    json.Add("backend", backend->name());
    json.Add("epochs", epochs);
    json.Add("batch_size", absl::GetFlag(FLAGS_batch_size));
    json.Add("seed", static_cast<int64_t>(seed));
    json.Add("parameters", model->NumParameters());
    json.Add("train_examples", static_cast<int64_t>(train.labels.size()));
    json.Add("test_examples", final_eval.examples);
    json.Add("test_accuracy", final_eval.accuracy);
    json.Add("test_loss", final_eval.loss);
    json.Add("final_train_loss", history.back().train_loss);
    json.Add("seconds_per_epoch", seconds_per_epoch);
    json.Add("images_per_second", images_per_second);
    TT_RETURN_IF_ERROR(json.WriteFile(path));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::tensor

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::tensor::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "train_mnist: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
