// Trains the course's character-level GPT on the fortunes text for a bounded time and
// saves it: the model the caching module generates with.
//
//   bazel run -c opt //caching:train_gpt -- --seconds=300 --out=/tmp/gpt.ttm [--context=128]
//
// Training runs quantization's TrainGpt (AdamW, warmup then cosine decay over the time
// budget) on an accelerated backend (--backend, default "auto": both cores for the big
// GEMMs). The validation loss (nats per character over the last 10% of the text) is
// printed and stored in the file's metadata with the training figures (caching/
// trained_gpt.h lists the notes). At the end a short greedy sample shows what the model
// learned; `bazel run //caching:generate -- --model=...` samples from it interactively.
//
// The model has --context positions but learns only the first --sequence_length of them
// (default min(context, 128)): text at later positions is not what it trained for. The
// default trains all 128 positions of a 128-position model; generation goes past them
// with the re-based sliding window (cached_gpt.h), which keeps every position trained.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "caching/generate.h"
#include "caching/trained_gpt.h"
#include "tensor/check.h"
#include "tensor/model_io.h"

ABSL_FLAG(double, seconds, 300, "training time budget in seconds");
ABSL_FLAG(std::string, out, "/tmp/gpt.ttm", "where to save the model");
ABSL_FLAG(int64_t, context, 128, "context length (positions) of the model");
ABSL_FLAG(int64_t, sequence_length, 0, "training window in characters; 0: min(context, 128)");
ABSL_FLAG(int64_t, batch_size, 16, "training windows per step");
ABSL_FLAG(double, lr, 3e-3, "peak learning rate (AdamW, cosine decay to 10%)");
ABSL_FLAG(uint64_t, seed, 1, "initialization and batch sampling seed");
ABSL_FLAG(std::string, backend, "auto", "tensor backend to train on (auto, simd, simd_threaded, ...)");
ABSL_FLAG(int64_t, val_windows, 200, "validation windows to average the loss over");
ABSL_FLAG(std::string, prompt, "The ", "prompt of the greedy sample printed at the end");
ABSL_FLAG(int64_t, sample_chars, 200, "length of that sample (0: none)");

namespace tt::cache {
namespace {

absl::Status Run() {
  TT_ASSIGN_OR_RETURN(CharCorpus corpus, LoadCharCorpus());
  CharGptTrainOptions options;
  options.seconds = absl::GetFlag(FLAGS_seconds);
  options.context_length = absl::GetFlag(FLAGS_context);
  options.sequence_length = absl::GetFlag(FLAGS_sequence_length);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.learning_rate = static_cast<float>(absl::GetFlag(FLAGS_lr));
  options.seed = absl::GetFlag(FLAGS_seed);
  options.backend = absl::GetFlag(FLAGS_backend);
  options.val_windows = absl::GetFlag(FLAGS_val_windows);
  std::printf("training the char GPT (d_model 128, 4 heads, 4 layers, vocab %d, context %lld) "
              "on %lld characters of fortunes for %.0f s on backend %s...\n",
              corpus.text.vocab_size(), static_cast<long long>(options.context_length),
              static_cast<long long>(corpus.split.train.size()), options.seconds,
              options.backend.c_str());
  std::fflush(stdout);
  TT_ASSIGN_OR_RETURN(TrainedCharGpt trained, TrainCharGpt(corpus, options));
  std::printf("trained %lld steps of %lld x %lld characters in %.1f s; last train loss %.4f\n",
              static_cast<long long>(trained.steps), static_cast<long long>(options.batch_size),
              static_cast<long long>(trained.sequence_length), trained.seconds,
              trained.train_loss);
  std::printf("validation loss %.4f nats/char (%.3f bits/char) over %lld windows of %lld "
              "characters from the last 10%% of the text\n",
              trained.val_loss, trained.val_loss / 0.6931471805599453,
              static_cast<long long>(options.val_windows),
              static_cast<long long>(trained.sequence_length));
  const std::string out = absl::GetFlag(FLAGS_out);
  TT_RETURN_IF_ERROR(tensor::SaveGpt(out, *trained.gpt.model, trained.gpt.metadata));
  std::printf("saved %s\n", out.c_str());

  const int64_t chars = absl::GetFlag(FLAGS_sample_chars);
  if (chars <= 0) return absl::OkStatus();
  GenerateOptions generate;
  generate.max_new_tokens = chars;
  generate.sampling.mode = SamplingOptions::Mode::kGreedy;
  generate.when_full = CacheFullPolicy::kSlidingWindow;  // a short context still samples
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  TT_ASSIGN_OR_RETURN(std::vector<std::string> text,
                      Generate(*trained.gpt.model, corpus.text, {prompt}, generate, nullptr));
  std::printf("\ngreedy sample:\n%s%s\n", prompt.c_str(), text[0].c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::cache

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::cache::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "train_gpt: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
