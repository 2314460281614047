// A character-level GPT worth generating with: what //caching:train_gpt, :generate_main
// and //caching:report share. Trains the course's GPT on the fortunes text for a bounded
// time (quantization's TrainGpt, on an accelerated backend), measures its validation
// loss, records both in the model file's metadata, and loads such files back (float or
// int8/int4 weight-only) with the vocabulary checked against the corpus.
//
//   TT_ASSIGN_OR_RETURN(CharCorpus corpus, LoadCharCorpus());      // fortunes, 90/10 split
//   CharGptTrainOptions options;
//   options.seconds = 300;
//   TT_ASSIGN_OR_RETURN(TrainedCharGpt trained, TrainCharGpt(corpus, options));
//   TT_RETURN_IF_ERROR(tensor::SaveGpt("gpt.ttm", *trained.gpt.model, trained.gpt.metadata));
//   TT_ASSIGN_OR_RETURN(tensor::LoadedGpt loaded, LoadCharGpt("gpt.ttm", corpus));
//   TT_RETURN_IF_ERROR(SetWeights(*loaded.model, WeightFormat::kInt4));  // optional
//
// The metadata written (tensor/model.proto's Metadata): dataset "fortunes", created_by,
// seed, and notes "val_loss" (nats per character), "train_seconds", "train_steps",
// "train_loss", "sequence_length", "batch_size", "backend" and "vocabulary_hex" (the corpus's
// characters in id order, two hex digits each: proto strings must be UTF-8 and the
// fortunes text has a few stray non-ASCII bytes).
#ifndef TT_CACHING_TRAINED_GPT_H_
#define TT_CACHING_TRAINED_GPT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/char_dataset.h"
#include "tensor/model_io.h"
#include "tensor/models.h"

namespace tt::cache {

// The fortunes text (tensor::FortunesDir(): Bazel runfiles, $FORTUNES_DIR, or the Debian
// package) and its split: train = the first 90%, validation = the last 10%.
struct CharCorpus {
  tensor::CharDataset text;  // the whole corpus; its vocabulary is the tokenizer
  tensor::CharDatasetSplit split;
};
absl::StatusOr<CharCorpus> LoadCharCorpus();

struct CharGptTrainOptions {
  double seconds = 300.0;         // wall-clock training budget
  // Positions the model has (its position table). A model writes well only at the
  // positions it trained on (their embeddings are learned), and in a bounded time short
  // windows learn far faster per step than long ones (caching/README.md has the runs),
  // so the default trains every position of a 128-position model; Generate's re-based
  // sliding window lets it write texts of any length within those positions.
  int64_t context_length = 128;
  int64_t sequence_length = 0;    // training window; 0: min(context_length, 128)
  int64_t batch_size = 16;        // windows per step (16 x 128 = 2048 characters)
  float learning_rate = 3e-3f;    // AdamW peak, cosine decay over the budget
  uint64_t seed = 1;
  std::string backend = "auto";   // a registered tensor backend (link //acceleration)
  int64_t val_windows = 200;      // validation windows of sequence_length characters
  std::string created_by = "caching/train_gpt";
};

struct TrainedCharGpt {
  tensor::LoadedGpt gpt;   // the model (eval mode) and its metadata
  double val_loss = 0.0;   // nats per character on the validation split
  double train_loss = 0.0; // mean of the last 10 training steps
  int64_t steps = 0;
  double seconds = 0.0;
  int64_t sequence_length = 0;
};

// Trains the default GptConfig (d_model 128, 4 heads, 4 layers) with the corpus's
// vocabulary and options.context_length, then measures the validation loss. Errors:
// an unknown backend, bad sizes (TrainGpt's InvalidArgument), a non-positive budget.
absl::StatusOr<TrainedCharGpt> TrainCharGpt(const CharCorpus& corpus,
                                            const CharGptTrainOptions& options);

// Validation loss (nats/char) over `windows` evenly spread windows of `window`
// characters (0: min(context, 128), the default training window).
absl::StatusOr<double> CharGptValidationLoss(tensor::Gpt& gpt, const CharCorpus& corpus,
                                             int64_t windows, int64_t window = 0);

// Loads a GPT written by TrainCharGpt's callers (tensor::SaveGpt) or a weight-only
// quantized one (quant::SaveQuantizedGpt). InvalidArgument when the model's vocabulary
// size differs from the corpus's, or the metadata's vocabulary_hex names other
// characters; the loaders' errors (they name the path) otherwise.
absl::StatusOr<tensor::LoadedGpt> LoadCharGpt(const std::string& path, const CharCorpus& corpus);

// The Linear weights a GPT decodes with: float, or weight-only int8 (per output channel)
// or int4 (blocks of 64) through quantization's WeightOnlyLinear.
enum class WeightFormat { kF32, kInt8, kInt4 };
absl::StatusOr<WeightFormat> ParseWeightFormat(const std::string& name);  // f32|int8|int4
const char* WeightFormatName(WeightFormat format);
// Quantizes every Linear of `gpt` (kF32: nothing to do). The model becomes inference-only.
absl::Status SetWeights(tensor::Gpt& gpt, WeightFormat format);

// The training length a model's metadata records (0 when it records none).
int64_t RecordedSequenceLength(const tensor::proto::Metadata& metadata);

}  // namespace tt::cache

#endif  // TT_CACHING_TRAINED_GPT_H_
