#include "caching/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::cache {

const char* SamplingModeName(SamplingOptions::Mode mode) {
  switch (mode) {
    case SamplingOptions::Mode::kGreedy:
      return "greedy";
    case SamplingOptions::Mode::kTemperature:
      return "temperature";
    case SamplingOptions::Mode::kTopK:
      return "top-k";
    case SamplingOptions::Mode::kTopP:
      return "top-p";
  }
  return "unknown";
}

absl::Status SamplingOptions::Validate() const {
  switch (mode) {
    case Mode::kGreedy:
      return absl::OkStatus();
    case Mode::kTemperature:
    case Mode::kTopK:
    case Mode::kTopP:
      break;
    default:
      return absl::InvalidArgumentError("SamplingOptions: unknown mode");
  }
  if (!(temperature > 0.0f) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SamplingOptions: temperature must be > 0 and finite for ",
                     SamplingModeName(mode), " sampling, got ", temperature));
  }
  if (mode == Mode::kTopK && top_k < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("SamplingOptions: top_k must be >= 1, got ", top_k));
  }
  if (mode == Mode::kTopP && !(top_p > 0.0f && top_p <= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SamplingOptions: top_p must be in (0, 1], got ", top_p));
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), engine_(options.seed) {
  const absl::Status status = options.Validate();
  TT_CHECK(status.ok(), "Sampler: ", status.message());
}

absl::StatusOr<Sampler> Sampler::Create(const SamplingOptions& options) {
  const absl::Status status = options.Validate();
  if (!status.ok()) return status;
  return Sampler(options);
}

double Sampler::Weights(const float* logits, int64_t vocab, int32_t* argmax) {
  TT_CHECK(vocab >= 1 && vocab <= std::numeric_limits<int32_t>::max(), "Sampler: vocab ",
           vocab, " out of range");
  // The argmax, NaN counting as -inf (a NaN never compares greater).
  int32_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab; ++i) {
    if (logits[i] > best_value) {
      best_value = logits[i];
      best = static_cast<int32_t>(i);
    }
  }
  *argmax = best;
  if (options_.mode == SamplingOptions::Mode::kGreedy || !std::isfinite(best_value)) {
    return -1.0;
  }
  probs_.resize(static_cast<size_t>(vocab));
  const double inv_t = 1.0 / static_cast<double>(options_.temperature);
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    // exp((l - max) / T) is in (0, 1]; -inf and NaN give exactly 0.
    probs_[i] = l >= -std::numeric_limits<float>::max()
                    ? std::exp((static_cast<double>(l) - best_value) * inv_t)
                    : 0.0;
  }
  // Ids by descending probability, lower id first on ties: the order both truncations use.
  auto by_prob = [this](int32_t a, int32_t b) {
    return probs_[a] != probs_[b] ? probs_[a] > probs_[b] : a < b;
  };
  if (options_.mode == SamplingOptions::Mode::kTopK && options_.top_k < vocab) {
    order_.resize(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) order_[i] = static_cast<int32_t>(i);
    const auto kth = order_.begin() + options_.top_k;
    std::nth_element(order_.begin(), kth - 1, order_.end(), by_prob);
    // Everything after position k-1 ranks below the k-th: excluded.
    for (auto it = kth; it != order_.end(); ++it) probs_[*it] = 0.0;
  } else if (options_.mode == SamplingOptions::Mode::kTopP) {
    order_.resize(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) order_[i] = static_cast<int32_t>(i);
    std::sort(order_.begin(), order_.end(), by_prob);
    double total = 0.0;
    for (int64_t i = 0; i < vocab; ++i) total += probs_[i];
    const double target = static_cast<double>(options_.top_p) * total;
    double running = 0.0;
    size_t keep = 0;
    while (keep < order_.size() && (keep == 0 || running < target)) {
      running += probs_[order_[keep]];
      ++keep;
    }
    for (size_t i = keep; i < order_.size(); ++i) probs_[order_[i]] = 0.0;
  }
  double total = 0.0;
  for (int64_t i = 0; i < vocab; ++i) total += probs_[i];
  return total;
}

int32_t Sampler::Next(const float* logits, int64_t vocab) {
  int32_t argmax = 0;
  const double total = Weights(logits, vocab, &argmax);
  if (total < 0.0) return argmax;
  // u in [0, 1) with 53 random bits; the first id whose running sum exceeds u * total.
  const double u = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double running = 0.0;
  int32_t last_positive = argmax;
  for (int64_t i = 0; i < vocab; ++i) {
    if (probs_[i] <= 0.0) continue;
    running += probs_[i];
    last_positive = static_cast<int32_t>(i);
    if (running > target) return last_positive;
  }
  return last_positive;  // rounding left target at the very top: the last allowed id
}

void Sampler::Distribution(const float* logits, int64_t vocab, std::vector<double>* probs) {
  int32_t argmax = 0;
  const double total = Weights(logits, vocab, &argmax);
  probs->assign(static_cast<size_t>(vocab), 0.0);
  if (total < 0.0) {
    (*probs)[argmax] = 1.0;
    return;
  }
  for (int64_t i = 0; i < vocab; ++i) (*probs)[i] = probs_[i] / total;
}

}  // namespace tt::cache
