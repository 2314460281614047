// Trains TinyMLPerf's reference models and writes them, with their quality, seed and
// recipe in the metadata, to benchmarking/reference/ (committed; see the README):
//
//   bazel run -c opt //benchmarking:train_reference -- --task=all
//   bazel run -c opt //benchmarking:train_reference -- --task=training_relay
//
// Tasks:
//   mlp_sprint             MLP 784-256-128-10, 4 epochs Adam 1e-3 cosine, batch 64
//   cnn_marathon           CNN conv16-conv32-fc128, the same schedule
//   transformer_decathlon  char GPT (d_model 128, 4 heads, 4 layers, context 128) on
//                          fortunes, 1,800 AdamW steps of 16 x 128 characters (a step
//                          budget, not a time budget, so the run is reproducible)
//   training_relay         runs the relay's accelerated recipe once (one epoch from the
//                          relay's seed, in the load generator's order) and records its
//                          test accuracy in cnn_marathon.ttm's notes (the relay's gate)
// Everything runs on the accelerated backend; seeds are fixed. The accuracy written is
// measured on the full test set (validation loss: 200 windows of the validation split).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "acceleration/backends.h"
#include "benchmarking/events.h"
#include "benchmarking/tasks.h"
#include "caching/trained_gpt.h"
#include "quantization/gpt_quantize.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/model_io.h"
#include "tensor/models.h"
#include "tensor/optim.h"
#include "tensor/train.h"

ABSL_FLAG(std::string, task, "all",
          "mlp_sprint, cnn_marathon, transformer_decathlon, training_relay or all");
ABSL_FLAG(std::string, out_dir, "",
          "where to write (default: <workspace>/benchmarking/reference)");
ABSL_FLAG(int, epochs, 4, "classifier training epochs");
ABSL_FLAG(int64_t, gpt_steps, 1800, "GPT training steps");

namespace tt::bench {
namespace {

std::string OutDir() {
  std::string dir = absl::GetFlag(FLAGS_out_dir);
  if (!dir.empty()) return dir;
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  return absl::StrCat(ws != nullptr ? ws : ".", "/benchmarking/reference");
}

absl::Status TrainClassifier(const EventSpec& event, const FashionMnistData& data) {
  const bool cnn = event.name == "cnn_marathon";
  const tensor::proto::Architecture arch = cnn ? tensor::ToArchitecture(tensor::CnnConfig{})
                                               : tensor::ToArchitecture(tensor::MlpConfig{});
  const uint64_t seed = 1;
  const int epochs = absl::GetFlag(FLAGS_epochs);
  TT_ASSIGN_OR_RETURN(std::unique_ptr<tensor::Sequential> model,
                      tensor::BuildClassifier(arch, seed));
  TT_ASSIGN_OR_RETURN(tensor::DataLoader train,
                      tensor::DataLoader::Create(&data.train, ClassifierLoaderOptions(arch, 64, seed)));
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test,
                      tensor::DataLoader::Create(&data.test, ClassifierLoaderOptions(arch, 500)));
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend, tensor::FindBackend("auto"));
  tensor::Adam adam(model->Parameters(), {.lr = 1e-3f});
  tensor::CosineSchedule schedule({.base_lr = 1e-3f, .total_steps = epochs * train.num_batches()});
  tensor::FitOptions fit;
  fit.epochs = epochs;
  fit.schedule = &schedule;
  fit.progress = tensor::FitOptions::Progress::kLines;
  fit.lines_per_epoch = 2;
  double accuracy = 0;
  {
    tensor::ScopedBackend use(backend);
    tensor::Fit(*model, adam, train, fit);
    accuracy = tensor::Evaluate(*model, test).accuracy;
  }
  tensor::proto::Metadata meta;
  meta.set_dataset("fashion-mnist");
  meta.set_accuracy(accuracy);
  meta.set_seed(seed);
  meta.set_epochs(epochs);
  meta.set_created_by("benchmarking/train_reference");
  auto& notes = *meta.mutable_notes();
  notes["optimizer"] = "adam";
  notes["lr"] = "1e-3 cosine to 0";
  notes["batch_size"] = "64";
  notes["shuffle_seed"] = absl::StrCat(seed);
  notes["normalization"] = absl::StrFormat("(x - %.4f) / %.4f", tensor::kFashionMnistMean,
                                           tensor::kFashionMnistStddev);
  // Keep the relay's recorded accuracy if the file already has one.
  const std::string path = absl::StrCat(OutDir(), "/", event.reference_file);
  if (absl::StatusOr<tensor::LoadedClassifier> old = tensor::LoadClassifier(path); old.ok()) {
    auto it = old->metadata.notes().find(kRelayAccuracyNote);
    if (it != old->metadata.notes().end()) notes[kRelayAccuracyNote] = it->second;
  }
  TT_RETURN_IF_ERROR(tensor::SaveClassifier(path, arch, *model, meta));
  std::printf("%s: test accuracy %.4f after %d epochs -> %s\n", event.name.c_str(), accuracy,
              epochs, path.c_str());
  return absl::OkStatus();
}

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

absl::Status TrainTransformer(const EventSpec& event) {
  TT_ASSIGN_OR_RETURN(cache::CharCorpus corpus, cache::LoadCharCorpus());
  tensor::GptConfig config;
  config.vocab_size = corpus.text.vocab_size();
  config.context_length = 128;
  quant::GptTrainOptions train;
  train.max_seconds = 0;
  train.max_steps = absl::GetFlag(FLAGS_gpt_steps);
  train.batch_size = 16;
  train.sequence_length = 128;
  train.learning_rate = 3e-3f;
  train.seed = 1;
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend, tensor::FindBackend("auto"));
  tensor::ScopedBackend use(backend);
  std::printf("training the GPT for %lld steps...\n", static_cast<long long>(train.max_steps));
  TT_ASSIGN_OR_RETURN(quant::GptTrainResult r, quant::TrainGpt(config, corpus.split.train, train));
  r.model->Eval();
  TT_ASSIGN_OR_RETURN(double val_loss, cache::CharGptValidationLoss(*r.model, corpus,
                                                                    kDecathlonValWindows, 128));
  tensor::proto::Metadata meta;
  meta.set_dataset("fortunes");
  meta.set_seed(train.seed);
  meta.set_created_by("benchmarking/train_reference");
  auto& notes = *meta.mutable_notes();
  notes["val_loss"] = absl::StrFormat("%.6f", val_loss);
  notes["train_loss"] = absl::StrFormat("%.4f", r.last_loss);
  notes["train_steps"] = absl::StrCat(r.steps);
  notes["train_seconds"] = absl::StrFormat("%.1f", r.seconds);
  notes["sequence_length"] = "128";
  notes["batch_size"] = "16";
  notes["lr"] = "3e-3 AdamW, cosine to 10%";
  notes["backend"] = "auto";
  notes["vocabulary_hex"] = Hex(corpus.text.vocabulary());
  const std::string path = absl::StrCat(OutDir(), "/", event.reference_file);
  TT_RETURN_IF_ERROR(tensor::SaveGpt(path, *r.model, meta));
  std::printf("%s: validation loss %.4f nats/char after %lld steps (%.0f s) -> %s\n",
              event.name.c_str(), val_loss, static_cast<long long>(r.steps), r.seconds,
              path.c_str());
  return absl::OkStatus();
}

absl::Status RecordRelay(const FashionMnistData& data) {
  const std::string path = absl::StrCat(OutDir(), "/cnn_marathon.ttm");
  TT_ASSIGN_OR_RETURN(tensor::LoadedClassifier cnn, tensor::LoadClassifier(path));
  TT_ASSIGN_OR_RETURN(RelayEpoch epoch, RunRelayEpoch("accelerated", cnn.architecture, data,
                                                      RelaySettings(/*quick=*/false, kRelaySeed)));
  (*cnn.metadata.mutable_notes())[kRelayAccuracyNote] = absl::StrFormat("%.4f", epoch.accuracy);
  TT_RETURN_IF_ERROR(tensor::SaveClassifier(path, cnn.architecture, *cnn.model, cnn.metadata));
  std::printf("training_relay: one epoch (%lld steps, %.1f s) reached %.4f -> %s\n",
              static_cast<long long>(epoch.steps), epoch.seconds, epoch.accuracy, path.c_str());
  return absl::OkStatus();
}

absl::Status Main() {
  accel::RegisterAccelerationBackends();
  const std::string task = absl::GetFlag(FLAGS_task);
  const bool all = task == "all";
  if (!all) TT_RETURN_IF_ERROR(FindEvent(task).status());
  FashionMnistData data;
  if (all || task != "transformer_decathlon") {
    TT_ASSIGN_OR_RETURN(data, LoadFashionMnistData());
  }
  for (const EventSpec& e : Events()) {
    if (!all && e.name != task) continue;
    switch (e.kind) {
      case EventKind::kClassifier:
        TT_RETURN_IF_ERROR(TrainClassifier(e, data));
        break;
      case EventKind::kTransformer:
        TT_RETURN_IF_ERROR(TrainTransformer(e));
        break;
      case EventKind::kTraining:
        TT_RETURN_IF_ERROR(RecordRelay(data));
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = tt::bench::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "train_reference: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
