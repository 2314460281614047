#include "caching/generate.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "caching/cached_gpt.h"
#include "tensor/autograd.h"
#include "tensor/check.h"

namespace tt::cache {

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A well-mixed 64-bit value from x (SplitMix64's finalizer): seeds for prompt i that
// share no obvious structure with those of prompt i + 1.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The generated text of one sequence: stop strings and streaming with hold-back.
class TextStream {
 public:
  TextStream(int64_t seq, const GenerateOptions& options) : seq_(seq), options_(&options) {}

  // Appends `piece`; true when the text now contains a stop string (then cut before it).
  bool Add(const std::string& piece) {
    const size_t old = text_.size();
    text_ += piece;
    size_t cut = std::string::npos;
    for (const std::string& s : options_->stop) {
      // Only an occurrence that ends in the new piece is new.
      const size_t from = old >= s.size() - 1 ? old - (s.size() - 1) : 0;
      cut = std::min(cut, text_.find(s, from));
    }
    if (cut != std::string::npos) {
      text_.resize(std::max(cut, emitted_));
      Emit(text_.size());
      return true;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const std::string& s : options_->stop) {
      for (size_t len = std::min(s.size() - 1, text_.size()); len > hold; --len) {
        if (text_.compare(text_.size() - len, len, s, 0, len) == 0) {
          hold = len;
          break;
        }
      }
    }
    Emit(text_.size() - hold);
    return false;
  }
  void Finish() { Emit(text_.size()); }
  std::string& text() { return text_; }

 private:
  void Emit(size_t upto) {
    if (upto <= emitted_) return;
    if (options_->on_token) options_->on_token(seq_, text_.substr(emitted_, upto - emitted_));
    emitted_ = upto;
  }

  int64_t seq_;
  const GenerateOptions* options_;
  std::string text_;
  size_t emitted_ = 0;
};

struct Sequence {
  std::vector<int32_t> window;  // uncached: the ids the model runs on
  Sampler sampler;
  TextStream text;
  int64_t generated = 0;
  bool done = false;
  int32_t last = 0;  // the token to feed next
};

// Logits of the last position of `ids` by the uncached model (vocab floats into out).
void UncachedLogits(tensor::Gpt& gpt, const std::vector<int32_t>& ids, float* out) {
  tensor::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t v = gpt.config().vocab_size;
  tensor::GptOutput result = gpt.Forward(ids, 1, n);
  std::memcpy(out, result.logits.data() + (n - 1) * v, static_cast<size_t>(v) * sizeof(float));
}

}  // namespace

absl::Status GenerateOptions::Validate() const {
  if (max_new_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Generate: max_new_tokens must be >= 0, got ", max_new_tokens));
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    if (stop[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Generate: stop string ", i, " is empty"));
    }
  }
  if (when_full != CacheFullPolicy::kError && when_full != CacheFullPolicy::kSlidingWindow) {
    return absl::InvalidArgumentError("Generate: unknown CacheFullPolicy");
  }
  if (kv_dtype != KVDtype::kFloat32 && kv_dtype != KVDtype::kInt8) {
    return absl::InvalidArgumentError("Generate: unknown KVDtype");
  }
  return sampling.Validate();
}

double GenerateStats::TokensPerSecond() const {
  const double seconds = prefill_seconds + decode_seconds;
  return seconds > 0.0 ? static_cast<double>(new_tokens) / seconds : 0.0;
}

absl::StatusOr<std::vector<std::string>> Generate(tensor::Gpt& gpt,
                                                  const tensor::CharDataset& vocab,
                                                  const std::vector<std::string>& prompts,
                                                  const GenerateOptions& options,
                                                  GenerateStats* stats) {
  TT_RETURN_IF_ERROR(options.Validate());
  const tensor::GptConfig& config = gpt.config();
  const int64_t context = config.context_length;
  const int64_t model_vocab = config.vocab_size;
  if (prompts.empty()) return absl::InvalidArgumentError("Generate: no prompts");
  if (vocab.vocab_size() > model_vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("Generate: the tokenizer has ", vocab.vocab_size(),
                     " characters, more than the model's vocabulary of ", model_vocab));
  }
  const int64_t n = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(n));
  int64_t longest = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (prompts[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Generate: prompt ", i, " is empty"));
    }
    auto encoded = vocab.Encode(prompts[i]);
    if (!encoded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Generate: prompt ", i, ": ", encoded.status().message()));
    }
    ids[i] = std::move(encoded).value();
    const int64_t len = static_cast<int64_t>(ids[i].size());
    if (len > context) {
      return absl::InvalidArgumentError(absl::StrCat("Generate: prompt ", i, " has ", len,
                                                     " tokens, more than the context length ",
                                                     context));
    }
    // Positions used: the prompt and every generated token but the last (never fed).
    const int64_t needed = len + std::max<int64_t>(options.max_new_tokens - 1, 0);
    if (options.when_full == CacheFullPolicy::kError && needed > context) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Generate: prompt ", i, " (", len, " tokens) with max_new_tokens ",
          options.max_new_tokens, " needs ", needed, " positions, more than the context length ",
          context, " (when_full = error; use the sliding window or fewer tokens)"));
    }
    longest = std::max(longest, needed);
  }

  GenerateStats local_stats;
  GenerateStats& st = stats != nullptr ? *stats : local_stats;
  st = GenerateStats{};
  for (const auto& p : ids) st.prompt_tokens += static_cast<int64_t>(p.size());

  std::vector<Sequence> seqs;
  seqs.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    SamplingOptions sampling = options.sampling;
    sampling.seed = Mix(options.sampling.seed ^ Mix(static_cast<uint64_t>(i)));
    seqs.push_back(Sequence{ids[i], Sampler(sampling), TextStream(i, options)});
  }
  std::vector<std::string> out(static_cast<size_t>(n));
  if (options.max_new_tokens == 0) return out;

  std::unique_ptr<CachedGpt> engine;
  if (options.use_cache) {
    const int64_t window =
        options.when_full == CacheFullPolicy::kSlidingWindow ? context : longest;
    CachedGptOptions engine_options;
    engine_options.policy = options.when_full;
    engine_options.kv_dtype = options.kv_dtype;
    TT_ASSIGN_OR_RETURN(engine, CachedGpt::Create(gpt, n, window, engine_options));
  }
  const int64_t sample_vocab = vocab.vocab_size();
  std::vector<float> logits(static_cast<size_t>(n * model_vocab));
  // Draws the next token of sequence i from its logits row; false when it is finished.
  auto advance = [&](int64_t i, const float* row) {
    Sequence& s = seqs[i];
    s.last = s.sampler.Next(row, sample_vocab);
    ++s.generated;
    ++st.new_tokens;
    const bool stopped = s.text.Add(std::string(1, vocab.vocabulary()[s.last]));
    s.done = stopped || s.generated >= options.max_new_tokens;
  };

  // Prefill: every prompt once.
  for (int64_t i = 0; i < n; ++i) {
    const Clock::time_point start = Clock::now();
    float* row = logits.data() + i * model_vocab;
    if (engine != nullptr) {
      TT_RETURN_IF_ERROR(engine->PrefillInto(
          i, ids[i], absl::MakeSpan(row, static_cast<size_t>(model_vocab))));
    } else {
      UncachedLogits(gpt, seqs[i].window, row);
    }
    advance(i, row);
    const double seconds = SecondsSince(start);
    st.prefill_seconds += seconds;
    if (i == 0) st.token_seconds.push_back(seconds);
  }

  // Decode: one token for every running sequence per step.
  std::vector<int64_t> active;
  std::vector<int32_t> feed;
  active.reserve(static_cast<size_t>(n));
  feed.reserve(static_cast<size_t>(n));
  const int64_t keep = SlidingWindowKeep(context, 1);
  while (true) {
    active.clear();
    feed.clear();
    for (int64_t i = 0; i < n; ++i) {
      if (!seqs[i].done) {
        active.push_back(i);
        feed.push_back(seqs[i].last);
      }
    }
    if (active.empty()) break;
    const Clock::time_point start = Clock::now();
    const int64_t b = static_cast<int64_t>(active.size());
    if (engine != nullptr) {
      TT_RETURN_IF_ERROR(engine->DecodeInto(
          active, feed, absl::MakeSpan(logits.data(), static_cast<size_t>(b * model_vocab))));
    } else {
      for (int64_t r = 0; r < b; ++r) {
        std::vector<int32_t>& window = seqs[active[r]].window;
        // The same forgetting rule as CachedGpt's re-based sliding window.
        if (static_cast<int64_t>(window.size()) == context) {
          window.erase(window.begin(), window.end() - keep);
        }
        window.push_back(feed[r]);
        UncachedLogits(gpt, window, logits.data() + r * model_vocab);
      }
    }
    for (int64_t r = 0; r < b; ++r) advance(active[r], logits.data() + r * model_vocab);
    const double seconds = SecondsSince(start);
    st.decode_seconds += seconds;
    if (active[0] == 0) st.token_seconds.push_back(seconds);
  }
  for (int64_t i = 0; i < n; ++i) {
    seqs[i].text.Finish();
    out[i] = std::move(seqs[i].text.text());
  }
  return out;
}

}  // namespace tt::cache
