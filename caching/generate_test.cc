#include "caching/generate.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/char_dataset.h"
#include "tensor/check.h"
#include "tensor/models.h"

namespace tt::cache {
namespace {

using tensor::CharDataset;
using tensor::Gpt;
using tensor::GptConfig;

CharDataset Vocab() {
  auto vocab = CharDataset::FromText("the quick brown fox jumps over the lazy dog. THE END!\n");
  TT_CHECK(vocab.ok(), vocab.status().ToString());
  return std::move(vocab).value();
}

// A model with a few more output ids than the tokenizer has characters.
GptConfig SmallConfig(const CharDataset& vocab, int64_t context = 64) {
  GptConfig c;
  c.vocab_size = vocab.vocab_size() + 5;
  c.d_model = 32;
  c.num_heads = 4;
  c.num_layers = 2;
  c.context_length = context;
  return c;
}

GenerateOptions Greedy(int64_t max_new, bool use_cache) {
  GenerateOptions o;
  o.max_new_tokens = max_new;
  o.use_cache = use_cache;
  return o;
}

std::vector<std::string> MustGenerate(Gpt& gpt, const CharDataset& vocab,
                             const std::vector<std::string>& prompts,
                             const GenerateOptions& options, GenerateStats* stats = nullptr) {
  auto out = Generate(gpt, vocab, prompts, options, stats);
  TT_CHECK(out.ok(), out.status().ToString());
  return std::move(out).value();
}

TEST(GenerateTest, CachedAndUncachedGreedyGiveTheSameTokens) {
  const CharDataset vocab = Vocab();
  for (uint64_t seed : {1, 2, 3}) {
    Gpt gpt(SmallConfig(vocab), seed);
    const std::vector<std::string> prompts = {"the ", "a quick brown fox jumps", "z"};
    for (const auto& batch : std::vector<std::vector<std::string>>{
             prompts, {prompts[1]}, {prompts[2], prompts[0]}}) {
      const auto cached = MustGenerate(gpt, vocab, batch, Greedy(40, true));
      const auto uncached = MustGenerate(gpt, vocab, batch, Greedy(40, false));
      EXPECT_EQ(cached, uncached) << "seed " << seed;
      for (const std::string& s : cached) {
        EXPECT_EQ(s.size(), 40u);
        for (char ch : s) EXPECT_NE(vocab.vocabulary().find(ch), std::string::npos);
      }
    }
  }
}

TEST(GenerateTest, SlidingWindowGoesPastTheContextInBothPaths) {
  const CharDataset vocab = Vocab();
  Gpt gpt(SmallConfig(vocab, /*context=*/16), 4);
  GenerateOptions options = Greedy(60, true);
  options.when_full = CacheFullPolicy::kSlidingWindow;
  const auto cached = MustGenerate(gpt, vocab, {"the lazy", "dog"}, options);
  options.use_cache = false;
  const auto uncached = MustGenerate(gpt, vocab, {"the lazy", "dog"}, options);
  EXPECT_EQ(cached, uncached);
  EXPECT_EQ(cached[0].size(), 60u);
  // Under the error policy the same request is refused before any work.
  options.when_full = CacheFullPolicy::kError;
  auto refused = Generate(gpt, vocab, {"the lazy", "dog"}, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("context length"), std::string::npos);
  // Exactly filling the context is fine: 8 prompt + 9 new - 1 fed back = 16 positions.
  options.max_new_tokens = 9;
  EXPECT_TRUE(Generate(gpt, vocab, {"the lazy"}, options).ok());
  options.max_new_tokens = 10;
  EXPECT_FALSE(Generate(gpt, vocab, {"the lazy"}, options).ok());
}

TEST(GenerateTest, SeededSamplingIsReproducibleAndIndependentOfTheBatch) {
  const CharDataset vocab = Vocab();
  Gpt gpt(SmallConfig(vocab), 5);
  GenerateOptions options = Greedy(30, true);
  options.sampling.mode = SamplingOptions::Mode::kTopK;
  options.sampling.top_k = 8;
  options.sampling.temperature = 1.5f;
  options.sampling.seed = 11;
  const auto a = MustGenerate(gpt, vocab, {"the", "fox"}, options);
  const auto b = MustGenerate(gpt, vocab, {"the", "fox"}, options);
  EXPECT_EQ(a, b);
  // Prompt 0 draws from the same generator with or without prompt 1 beside it.
  const auto alone = MustGenerate(gpt, vocab, {"the"}, options);
  EXPECT_EQ(alone[0], a[0]);
  // The uncached baseline draws the same tokens (same logits up to rounding).
  options.use_cache = false;
  EXPECT_EQ(MustGenerate(gpt, vocab, {"the", "fox"}, options), a);
  options.use_cache = true;
  options.sampling.seed = 12;
  EXPECT_NE(MustGenerate(gpt, vocab, {"the", "fox"}, options), a);
}

TEST(GenerateTest, StopStringsEndTheTextAndStreamingMatchesIt) {
  const CharDataset vocab = Vocab();
  Gpt gpt(SmallConfig(vocab), 6);
  // Sampled (seeded) rather than greedy: an untrained model's greedy text repeats.
  GenerateOptions options = Greedy(40, true);
  options.sampling.mode = SamplingOptions::Mode::kTemperature;
  options.sampling.seed = 3;
  const std::string free_run = MustGenerate(gpt, vocab, {"the "}, options)[0];
  ASSERT_EQ(free_run.size(), 40u);
  // A stop string whose first occurrence is in the middle of the free-running text.
  size_t first = std::string::npos;
  std::string stop;
  for (size_t i = 10; i + 3 <= 30 && first == std::string::npos; ++i) {
    if (free_run.find(free_run.substr(i, 3)) == i) {
      first = i;
      stop = free_run.substr(i, 3);
    }
  }
  ASSERT_NE(first, std::string::npos) << free_run;
  options.stop = {"never-occurs", stop};
  std::map<int64_t, std::string> streamed;
  int calls = 0;
  options.on_token = [&](int64_t seq, const std::string& piece) {
    EXPECT_FALSE(piece.empty());
    streamed[seq] += piece;
    ++calls;
  };
  GenerateStats stats;
  const auto out = MustGenerate(gpt, vocab, {"the ", "fox"}, options, &stats);
  EXPECT_EQ(out[0], free_run.substr(0, first));
  EXPECT_EQ(streamed[0], out[0]);  // the stop string was never streamed
  EXPECT_EQ(streamed[1], out[1]);
  EXPECT_GT(calls, 0);
  // Tokens of the stop string count as generated.
  EXPECT_GE(stats.new_tokens, static_cast<int64_t>(first + stop.size()) + 1);
  // Without stop strings every token streams.
  options.stop.clear();
  streamed.clear();
  const auto plain = MustGenerate(gpt, vocab, {"the "}, options);
  EXPECT_EQ(streamed[0], plain[0]);
  EXPECT_EQ(plain[0], free_run);
}

TEST(GenerateTest, StatsCountTokensAndTimeEachStep) {
  const CharDataset vocab = Vocab();
  Gpt gpt(SmallConfig(vocab), 7);
  for (bool use_cache : {true, false}) {
    GenerateStats stats;
    MustGenerate(gpt, vocab, {"the quick", "dog"}, Greedy(12, use_cache), &stats);
    EXPECT_EQ(stats.prompt_tokens, 9 + 3);
    EXPECT_EQ(stats.new_tokens, 24);
    ASSERT_EQ(stats.token_seconds.size(), 12u);  // prefill + 11 decode steps
    EXPECT_GT(stats.prefill_seconds, 0.0);
    EXPECT_GT(stats.decode_seconds, 0.0);
    EXPECT_GT(stats.TokensPerSecond(), 0.0);
  }
  // Nothing to generate: empty continuations, no model run.
  GenerateStats stats;
  const auto none = MustGenerate(gpt, vocab, {"the"}, Greedy(0, true), &stats);
  EXPECT_EQ(none, std::vector<std::string>{""});
  EXPECT_EQ(stats.new_tokens, 0);
}

TEST(GenerateTest, BadInputIsAClearError) {
  const CharDataset vocab = Vocab();
  Gpt gpt(SmallConfig(vocab, 16), 8);
  auto error = [&](const std::vector<std::string>& prompts, const GenerateOptions& o) {
    return Generate(gpt, vocab, prompts, o).status();
  };
  const GenerateOptions ok = Greedy(4, true);
  EXPECT_EQ(error({}, ok).code(), absl::StatusCode::kInvalidArgument);
  const absl::Status empty = error({"the", ""}, ok);
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("prompt 1"), std::string::npos);
  const absl::Status unknown = error({"the ~ dog"}, ok);  // '~' is not in the corpus
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("prompt 0"), std::string::npos) << unknown.message();
  for (bool use_cache : {true, false}) {
    GenerateOptions o = Greedy(4, use_cache);
    o.when_full = CacheFullPolicy::kSlidingWindow;
    const absl::Status too_long = error({std::string(17, 'e')}, o);
    EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(too_long.message().find("context length"), std::string::npos);
  }
  GenerateOptions bad = ok;
  bad.max_new_tokens = -1;
  EXPECT_EQ(error({"the"}, bad).code(), absl::StatusCode::kInvalidArgument);
  bad = ok;
  bad.stop = {""};
  EXPECT_EQ(error({"the"}, bad).code(), absl::StatusCode::kInvalidArgument);
  bad = ok;
  bad.sampling.mode = SamplingOptions::Mode::kTopP;
  bad.sampling.top_p = 0.0f;
  EXPECT_NE(error({"the"}, bad).message().find("top_p"), std::string::npos);
  // A tokenizer with more characters than the model has ids.
  GptConfig tiny = SmallConfig(vocab, 16);
  tiny.vocab_size = vocab.vocab_size() - 1;
  Gpt small_vocab(tiny, 9);
  EXPECT_EQ(Generate(small_vocab, vocab, {"the"}, ok).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tt::cache
