// Generate: autoregressive text generation with tensor's GPT, with or without a KV cache.
//
//   GenerateOptions options;
//   options.max_new_tokens = 200;
//   options.sampling.mode = SamplingOptions::Mode::kTopK;
//   options.sampling.top_k = 20;
//   options.sampling.seed = 7;
//   options.stop = {"\n\n"};
//   options.on_token = [](int64_t seq, const std::string& piece) { std::cout << piece; };
//   GenerateStats stats;
//   TT_ASSIGN_OR_RETURN(std::vector<std::string> out,
//                       Generate(gpt, corpus, {"Q: What is", "A "}, options, &stats));
//   // out[i] is the continuation of prompt i (the prompt itself is not repeated).
//
// The loop, for each prompt i (all prompts advance together, one token per step):
//   ids = encode(prompt_i); logits = model(ids)[last]; repeat: t = sample(logits);
//   emit decode(t); stop after max_new_tokens or at a stop string; logits = model(ids + t).
// use_cache = true: CachedGpt (cached_gpt.h) prefills each prompt once and then runs one
//   batched decode step per token over every still-running sequence: each step is linear
//   in the sequence length (one dot product per cached key).
// use_cache = false: the baseline. Every step runs tensor::Gpt::Forward over the whole
//   prefix again, one sequence at a time (quadratic in the length; the backend is the
//   current tensor backend). Under greedy decoding both give the same tokens (tested;
//   their logits agree to ~1e-5, so only a near-tie could ever differ).
//
// Tokens: CharDataset's vocabulary (one id per byte). The model may have a larger vocab
// (e.g. 96 for a corpus of 90 bytes): only the first vocab.vocab_size() logits are
// sampled from, so every id decodes.
//
// Context: a prompt longer than the model's context length is InvalidArgument (it is not
// silently cut). when_full = kError: a prompt plus max_new_tokens - 1 fed-back tokens must
// fit the context (checked before any work: InvalidArgument naming the prompt).
// kSlidingWindow: generation goes on past the context; both paths forget old tokens by
// CachedGpt's re-base rule (SlidingWindowKeep), the uncached one by cutting its window
// the same way, so they still see the same tokens.
//
// Stop strings: generation of a sequence ends when its text contains one of `stop`;
// the returned text ends just before it. Streaming holds back any tail that could still
// become a stop string, so the pieces given to on_token always concatenate to exactly
// the returned text.
//
// Sampling: prompt i draws from its own Sampler seeded from (sampling.seed, i), so its
// tokens do not depend on which other prompts run beside it.
#ifndef TT_CACHING_GENERATE_H_
#define TT_CACHING_GENERATE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "caching/kv_cache.h"
#include "caching/sampling.h"
#include "tensor/char_dataset.h"
#include "tensor/models.h"

namespace tt::cache {

struct GenerateOptions {
  int64_t max_new_tokens = 64;  // >= 0 per prompt
  SamplingOptions sampling;
  std::vector<std::string> stop;  // each non-empty
  bool use_cache = true;
  CacheFullPolicy when_full = CacheFullPolicy::kError;
  // The cached path's KV cache: float32, or int8 with a scale per row (kv_cache.h).
  KVDtype kv_dtype = KVDtype::kFloat32;
  // Streaming: called with each new piece of text of sequence `seq` as soon as it is
  // known not to be part of a stop string (may be called with several bytes at once).
  std::function<void(int64_t seq, const std::string& piece)> on_token;

  // InvalidArgument for max_new_tokens < 0, an empty stop string, bad sampling options,
  // an unknown policy or dtype.
  absl::Status Validate() const;
};

struct GenerateStats {
  int64_t prompt_tokens = 0;  // over all prompts
  int64_t new_tokens = 0;     // generated, over all prompts (stop strings included)
  double prefill_seconds = 0.0;  // prompts -> first logits (every prompt)
  double decode_seconds = 0.0;   // every later step, sampling included
  // Per generated token of sequence 0: token_seconds[0] is its prefill and first draw
  // (time to first token); token_seconds[i >= 1] is the step that ran the model on its
  // token i - 1 (at position prompt length + i - 1) and drew token i. In a batch a step
  // advances every sequence, so this is the whole step's time.
  std::vector<double> token_seconds;
  // new_tokens / (prefill_seconds + decode_seconds); 0 when nothing ran.
  double TokensPerSecond() const;
};

// Continuations of `prompts` (see above). InvalidArgument for no prompts, an empty
// prompt, a character outside the vocabulary (prompt index and position named), a prompt
// longer than the context, a vocabulary larger than the model's, bad options, or (under
// kError) a prompt plus max_new_tokens that do not fit the context.
absl::StatusOr<std::vector<std::string>> Generate(tensor::Gpt& gpt,
                                                  const tensor::CharDataset& vocab,
                                                  const std::vector<std::string>& prompts,
                                                  const GenerateOptions& options,
                                                  GenerateStats* stats = nullptr);

}  // namespace tt::cache

#endif  // TT_CACHING_GENERATE_H_
