// Sampling: choosing the next token from the model's logits.
//
//   SamplingOptions options;
//   options.mode = SamplingOptions::Mode::kTopP;   // nucleus sampling
//   options.temperature = 0.8f;
//   options.top_p = 0.9f;
//   options.seed = 42;
//   TT_RETURN_IF_ERROR(options.Validate());
//   Sampler sampler(options);
//   int32_t next = sampler.Next(logits, vocab);    // the same sequence for the same seed
//
// The modes, for logits l_i and temperature T (p_i = exp(l_i / T) / sum_j exp(l_j / T)):
//   kGreedy       argmax_i l_i (the first one on ties); no randomness, T unused.
//   kTemperature  a draw from p. T < 1 sharpens the distribution, T > 1 flattens it.
//   kTopK         only the top_k largest logits stay (ties at the boundary: the lower
//                 ids); p is renormalized over them.
//   kTopP         nucleus: sort p descending (lower id first on ties) and keep the
//                 shortest prefix whose probabilities sum to >= top_p (at least one
//                 token); p is renormalized over it. top_p = 1 keeps every token with
//                 p_i > 0.
// Excluded tokens get probability exactly 0, so they are never drawn.
//
// Numerics: the exponentials are taken of (l_i - max) / T in double (no overflow for any
// float logits); the draw is u * total with u uniform in [0, 1) from 53 random bits of a
// std::mt19937_64 (whose sequence the C++ standard fixes, so a seed gives the same
// tokens on every platform), and the first id whose running sum exceeds it is chosen.
// NaN logits count as -inf (never drawn). If every logit is -inf or NaN, or one is +inf,
// Next returns the argmax (the first +inf, or id 0 when all are excluded) without
// drawing.
#ifndef TT_CACHING_SAMPLING_H_
#define TT_CACHING_SAMPLING_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tt::cache {

struct SamplingOptions {
  enum class Mode { kGreedy, kTemperature, kTopK, kTopP } mode = Mode::kGreedy;
  float temperature = 1.0f;  // > 0 and finite, for every mode but kGreedy
  int top_k = 40;            // >= 1, for kTopK (more than the vocabulary keeps all)
  float top_p = 0.9f;        // in (0, 1], for kTopP
  uint64_t seed = 0;

  // InvalidArgument naming the bad field for the chosen mode.
  absl::Status Validate() const;
};

// "greedy", "temperature", "top-k", "top-p".
const char* SamplingModeName(SamplingOptions::Mode mode);

class Sampler {
 public:
  // Contract: options.Validate() is OK (TT_CHECK); Create checks it and returns the error.
  explicit Sampler(const SamplingOptions& options);
  static absl::StatusOr<Sampler> Create(const SamplingOptions& options);

  // The next token id in [0, vocab) for logits[0..vocab). Contract: vocab >= 1.
  // Deterministic: the same seed and the same logits give the same ids in the same order.
  int32_t Next(const float* logits, int64_t vocab);

  // The distribution Next draws from, probs (vocab values summing to 1, or a single 1 at
  // the argmax for kGreedy and the degenerate cases above). For tests and for showing
  // what a mode does; draws nothing.
  void Distribution(const float* logits, int64_t vocab, std::vector<double>* probs);

  const SamplingOptions& options() const { return options_; }

 private:
  // Fills probs_ with unnormalized weights (0 for excluded ids); returns their sum, or
  // -1 with *argmax set when the result is a single certain token.
  double Weights(const float* logits, int64_t vocab, int32_t* argmax);

  SamplingOptions options_;
  std::mt19937_64 engine_;
  std::vector<double> probs_;   // scratch, reused across calls
  std::vector<int32_t> order_;  // scratch: ids sorted for top-k / top-p
};

}  // namespace tt::cache

#endif  // TT_CACHING_SAMPLING_H_
