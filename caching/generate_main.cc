// Interactive generation from the char GPT: tokens are printed as they are produced.
//
//   bazel run -c opt //caching:generate -- --model=/tmp/gpt.ttm --prompt="Q: Why is"
//       [--max_new_tokens=300] [--temperature=0.8] [--top_k=N | --top_p=P] [--greedy]
//       [--seed=1] [--stop='\n\n'] [--no_cache] [--weights=f32|int8|int4]
//
// Without --model it first trains a model for --train_seconds (default 60) and says so
// (//caching:train_gpt trains a better one and saves it). Text goes to stdout, flushed
// after every piece, so a terminal or a pipe sees each character when it is sampled;
// the figures (prompt and new tokens, time to first token, tokens/s) go to stderr.
//
// Sampling (caching/sampling.h): --greedy or --temperature=0 takes the most likely
// character; otherwise --top_p in (0, 1) samples from the nucleus, --top_k > 0 from the
// k most likely, and neither from the whole distribution at --temperature. --seed fixes
// the draws. --stop ends the text at the first of these strings (comma-separated;
// the escapes \n, \t, \\ and \, are understood here and in --prompt).
//
// --no_cache runs the uncached baseline (every step recomputes the whole prefix: watch
// it slow down as the text grows). --weights=int8|int4 decodes on weight-only
// quantized Linear layers (quantization/gpt_quantize.h). When the text would run past
// the model's context, the sliding window (cached_gpt.h) keeps generating.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "caching/generate.h"
#include "caching/trained_gpt.h"
#include "tensor/backend.h"
#include "tensor/check.h"

ABSL_FLAG(std::string, model, "", "GPT model file (.ttm, float or int8/int4); empty: train one first");
ABSL_FLAG(std::string, prompt, "The ", "text to continue (escapes: \\n \\t \\\\)");
ABSL_FLAG(int64_t, max_new_tokens, 300, "characters to generate");
ABSL_FLAG(bool, greedy, false, "always take the most likely character");
ABSL_FLAG(double, temperature, 0.8, "sampling temperature (0: greedy)");
ABSL_FLAG(int32_t, top_k, 0, "sample among the k most likely characters (0: off)");
ABSL_FLAG(double, top_p, 0.0, "nucleus sampling: the smallest set with this probability (0: off)");
ABSL_FLAG(uint64_t, seed, 1, "sampling seed");
ABSL_FLAG(std::string, stop, "", "comma-separated stop strings (escapes: \\n \\t \\\\ \\,)");
ABSL_FLAG(bool, no_cache, false, "the uncached baseline: recompute the whole prefix every step");
ABSL_FLAG(std::string, weights, "f32", "Linear weights to decode with: f32, int8 or int4");
ABSL_FLAG(double, train_seconds, 60, "without --model: train a model this long first");
ABSL_FLAG(std::string, backend, "simd",
          "tensor backend of the uncached baseline (the cached engine runs its own kernels)");

namespace tt::cache {
namespace {

// Splits `s` at unescaped `separator`s (0: no splitting) and resolves \n \t \\ \,.
absl::StatusOr<std::vector<std::string>> Unescape(const std::string& s, char separator,
                                                  const char* flag) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 == s.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag, ": a lone \\ at the end"));
      }
      const char c = s[++i];
      switch (c) {
        case 'n': out.back() += '\n'; break;
        case 't': out.back() += '\t'; break;
        case '\\': out.back() += '\\'; break;
        case ',': out.back() += ','; break;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("--", flag, ": unknown escape \\", std::string(1, c),
                           " (known: \\n \\t \\\\ \\,)"));
      }
    } else if (separator != 0 && s[i] == separator) {
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

absl::StatusOr<SamplingOptions> Sampling() {
  SamplingOptions o;
  o.seed = absl::GetFlag(FLAGS_seed);
  o.temperature = static_cast<float>(absl::GetFlag(FLAGS_temperature));
  o.top_k = absl::GetFlag(FLAGS_top_k);
  o.top_p = static_cast<float>(absl::GetFlag(FLAGS_top_p));
  if (absl::GetFlag(FLAGS_greedy) || o.temperature == 0.0f) {
    o.mode = SamplingOptions::Mode::kGreedy;
  } else if (o.top_p != 0.0f) {
    o.mode = SamplingOptions::Mode::kTopP;
  } else if (o.top_k != 0) {
    o.mode = SamplingOptions::Mode::kTopK;
  } else {
    o.mode = SamplingOptions::Mode::kTemperature;
  }
  TT_RETURN_IF_ERROR(o.Validate());
  return o;
}

absl::Status Run() {
  TT_ASSIGN_OR_RETURN(WeightFormat weights, ParseWeightFormat(absl::GetFlag(FLAGS_weights)));
  TT_ASSIGN_OR_RETURN(std::vector<std::string> prompt,
                      Unescape(absl::GetFlag(FLAGS_prompt), 0, "prompt"));
  TT_ASSIGN_OR_RETURN(std::vector<std::string> stop,
                      Unescape(absl::GetFlag(FLAGS_stop), ',', "stop"));
  if (stop.size() == 1 && stop[0].empty()) stop.clear();
  GenerateOptions options;
  TT_ASSIGN_OR_RETURN(options.sampling, Sampling());
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.stop = stop;
  options.use_cache = !absl::GetFlag(FLAGS_no_cache);
  options.when_full = CacheFullPolicy::kSlidingWindow;
  options.on_token = [](int64_t, const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  TT_RETURN_IF_ERROR(options.Validate());
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend,
                      tensor::FindBackend(absl::GetFlag(FLAGS_backend)));

  TT_ASSIGN_OR_RETURN(CharCorpus corpus, LoadCharCorpus());
  tensor::LoadedGpt gpt;
  const std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) {
    CharGptTrainOptions train;
    train.seconds = absl::GetFlag(FLAGS_train_seconds);
    train.val_windows = 50;
    train.created_by = "caching/generate";
    std::fprintf(stderr,
                 "no --model given: training a char GPT on the fortunes text for %.0f s first "
                 "(bazel run -c opt //caching:train_gpt -- --out=gpt.ttm trains a better one)...\n",
                 train.seconds);
    TT_ASSIGN_OR_RETURN(TrainedCharGpt trained, TrainCharGpt(corpus, train));
    std::fprintf(stderr, "trained %lld steps, validation loss %.3f nats/char\n",
                 static_cast<long long>(trained.steps), trained.val_loss);
    gpt = std::move(trained.gpt);
  } else {
    TT_ASSIGN_OR_RETURN(gpt, LoadCharGpt(path, corpus));
  }
  TT_RETURN_IF_ERROR(SetWeights(*gpt.model, weights));
  auto loss = gpt.metadata.notes().find("val_loss");
  const std::string loss_note =
      loss == gpt.metadata.notes().end()
          ? ""
          : absl::StrCat(", val loss ", loss->second,
                         weights == WeightFormat::kF32 ? "" : " (as trained, before quantizing)");
  std::fprintf(stderr, "%s, %s weights%s, %s sampling, %s\n", gpt.model->Describe().c_str(),
               WeightFormatName(weights), loss_note.c_str(),
               SamplingModeName(options.sampling.mode),
               options.use_cache ? "KV cache" : "no cache (recomputing the prefix every step)");

  tensor::ScopedBackend use(backend);
  std::fwrite(prompt[0].data(), 1, prompt[0].size(), stdout);
  std::fflush(stdout);
  GenerateStats stats;
  TT_ASSIGN_OR_RETURN(std::vector<std::string> text,
                      Generate(*gpt.model, corpus.text, prompt, options, &stats));
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const double first = stats.token_seconds.empty() ? 0.0 : stats.token_seconds[0];
  const double decode_rate =
      stats.new_tokens > 1 && stats.decode_seconds > 0
          ? static_cast<double>(stats.new_tokens - 1) / stats.decode_seconds
          : 0.0;
  std::fprintf(stderr,
               "\n%lld prompt + %lld new tokens in %.3f s: %.0f tokens/s (time to first token "
               "%.2f ms, then %.0f tokens/s)\n",
               static_cast<long long>(stats.prompt_tokens),
               static_cast<long long>(stats.new_tokens),
               stats.prefill_seconds + stats.decode_seconds, stats.TokensPerSecond(),
               1e3 * first, decode_rate);
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::cache

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::cache::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "generate: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
