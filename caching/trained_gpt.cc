#include "caching/trained_gpt.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quantization/gpt_quantize.h"
#include "quantization/weight_only.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/idx_reader.h"

namespace tt::cache {
namespace {

std::string Hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

int64_t DefaultSequenceLength(int64_t context) { return std::min<int64_t>(context, 128); }

}  // namespace

absl::StatusOr<CharCorpus> LoadCharCorpus() {
  TT_ASSIGN_OR_RETURN(tensor::CharDataset text,
                      tensor::CharDataset::LoadFortunes(tensor::FortunesDir()));
  TT_ASSIGN_OR_RETURN(tensor::CharDatasetSplit split, text.Split(0.1));
  return CharCorpus{std::move(text), std::move(split)};
}

int64_t RecordedSequenceLength(const tensor::proto::Metadata& metadata) {
  auto it = metadata.notes().find("sequence_length");
  int64_t v = 0;
  if (it == metadata.notes().end() || !absl::SimpleAtoi(it->second, &v) || v < 1) return 0;
  return v;
}

absl::StatusOr<double> CharGptValidationLoss(tensor::Gpt& gpt, const CharCorpus& corpus,
                                             int64_t windows, int64_t window) {
  quant::ValidationLossOptions options;
  options.window = window > 0 ? window : DefaultSequenceLength(gpt.config().context_length);
  options.window = std::min(options.window, gpt.config().context_length);
  return quant::GptValidationLoss(gpt, corpus.split.validation.ids(), windows, options);
}

absl::StatusOr<TrainedCharGpt> TrainCharGpt(const CharCorpus& corpus,
                                            const CharGptTrainOptions& options) {
  if (!(options.seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TrainCharGpt: the budget must be > 0 seconds, got ", options.seconds));
  }
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend, tensor::FindBackend(options.backend));
  tensor::GptConfig config;
  config.vocab_size = corpus.text.vocab_size();
  config.context_length = options.context_length;
  quant::GptTrainOptions train;
  train.max_seconds = options.seconds;
  train.batch_size = options.batch_size;
  train.sequence_length = options.sequence_length > 0
                              ? options.sequence_length
                              : DefaultSequenceLength(options.context_length);
  train.learning_rate = options.learning_rate;
  train.seed = options.seed;
  TrainedCharGpt out;
  {
    tensor::ScopedBackend use(backend);
    TT_ASSIGN_OR_RETURN(quant::GptTrainResult r, quant::TrainGpt(config, corpus.split.train, train));
    out.gpt.model = std::move(r.model);
    out.steps = r.steps;
    out.seconds = r.seconds;
    out.train_loss = r.last_loss;
    out.sequence_length = train.sequence_length;
    TT_ASSIGN_OR_RETURN(out.val_loss, CharGptValidationLoss(*out.gpt.model, corpus,
                                                            options.val_windows,
                                                            train.sequence_length));
  }
  out.gpt.model->Eval();
  tensor::proto::Metadata& meta = out.gpt.metadata;
  meta.set_dataset("fortunes");
  meta.set_created_by(options.created_by);
  meta.set_seed(options.seed);
  auto& notes = *meta.mutable_notes();
  notes["val_loss"] = absl::StrFormat("%.4f", out.val_loss);
  notes["train_loss"] = absl::StrFormat("%.4f", out.train_loss);
  notes["train_seconds"] = absl::StrFormat("%.1f", out.seconds);
  notes["train_steps"] = absl::StrCat(out.steps);
  notes["sequence_length"] = absl::StrCat(out.sequence_length);
  notes["batch_size"] = absl::StrCat(options.batch_size);
  notes["backend"] = options.backend;
  notes["vocabulary_hex"] = Hex(corpus.text.vocabulary());
  return out;
}

absl::StatusOr<tensor::LoadedGpt> LoadCharGpt(const std::string& path, const CharCorpus& corpus) {
  absl::StatusOr<tensor::LoadedGpt> loaded = tensor::LoadGpt(path);
  if (!loaded.ok()) {
    // Perhaps a weight-only quantized file; if that fails too, the float error is the
    // one to show (it is the common case).
    absl::StatusOr<tensor::LoadedGpt> quantized = quant::LoadQuantizedGpt(path);
    if (!quantized.ok()) return loaded.status();
    loaded = std::move(quantized);
  }
  const int64_t vocab = loaded->model->config().vocab_size;
  if (vocab != corpus.text.vocab_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the model has a vocabulary of ", vocab,
                     " characters, the fortunes text here has ", corpus.text.vocab_size(),
                     " (was it trained on another text?)"));
  }
  auto it = loaded->metadata.notes().find("vocabulary_hex");
  if (it != loaded->metadata.notes().end() && it->second != Hex(corpus.text.vocabulary())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the model's vocabulary (metadata vocabulary_hex) differs from "
                           "the fortunes text's here: its ids would decode to other characters"));
  }
  loaded->model->Eval();
  return loaded;
}

absl::StatusOr<WeightFormat> ParseWeightFormat(const std::string& name) {
  if (name == "f32") return WeightFormat::kF32;
  if (name == "int8") return WeightFormat::kInt8;
  if (name == "int4") return WeightFormat::kInt4;
  return absl::InvalidArgumentError(
      absl::StrCat("weights: unknown format '", name, "', expected f32, int8 or int4"));
}

const char* WeightFormatName(WeightFormat format) {
  switch (format) {
    case WeightFormat::kF32:
      return "f32";
    case WeightFormat::kInt8:
      return "int8";
    case WeightFormat::kInt4:
      return "int4";
  }
  return "?";
}

absl::Status SetWeights(tensor::Gpt& gpt, WeightFormat format) {
  if (format == WeightFormat::kF32) return absl::OkStatus();
  quant::WeightOnlyOptions options;
  options.scheme = format == WeightFormat::kInt8 ? quant::WeightScheme::kInt8PerChannel
                                                 : quant::WeightScheme::kInt4Block;
  options.block_size = 64;  // the quantization module's headline int4 scheme
  TT_ASSIGN_OR_RETURN(quant::WeightOnlyReport report, quant::QuantizeGptWeights(gpt, options));
  (void)report;
  return absl::OkStatus();
}

}  // namespace tt::cache
