#include "profiling/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "profiling/statistics.h"
#include "profiling/timer.h"
#include "tensor/check.h"
#include "tensor/tensor.h"

namespace tt::prof {
namespace {

absl::Status ValidateOptions(const CompareOptions& options) {
  if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompareOptions.alpha = ", options.alpha, ": must be in (0, 1)"));
  }
  if (options.bootstrap_resamples < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CompareOptions.bootstrap_resamples = ", options.bootstrap_resamples, ": must be >= 1"));
  }
  if (options.baseline_bytes.has_value() != options.candidate_bytes.has_value()) {
    return absl::InvalidArgumentError(
        "CompareOptions: give both baseline_bytes and candidate_bytes, or neither");
  }
  if (options.baseline_bytes && (*options.baseline_bytes <= 0 || *options.candidate_bytes <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompareOptions: byte counts must be positive, got baseline_bytes = ",
                     *options.baseline_bytes, ", candidate_bytes = ", *options.candidate_bytes));
  }
  if (options.baseline_accuracy.has_value() != options.candidate_accuracy.has_value()) {
    return absl::InvalidArgumentError(
        "CompareOptions: give both baseline_accuracy and candidate_accuracy, or neither");
  }
  return absl::OkStatus();
}

absl::Status ValidateSamples(const Measurement& m, const char* role) {
  if (m.samples_ns.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("Compare: the ", role, " '", m.name, "' has ",
                                                   m.samples_ns.size(),
                                                   " samples; need at least 2"));
  }
  for (size_t i = 0; i < m.samples_ns.size(); ++i) {
    const double v = m.samples_ns[i];
    if (!(std::isfinite(v) && v > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat("Compare: sample ", i, " of the ", role, " '",
                                                     m.name, "' is ", v,
                                                     "; durations must be finite and positive"));
    }
  }
  return absl::OkStatus();
}

// The median (type 7: the mean of the two middle values for even n) in O(n); reorders `v`.
double MedianInPlace(std::vector<double>& v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + mid);
  return lower + 0.5 * (upper - lower);
}

// Two-sided Mann-Whitney U p-value, normal approximation (see compare.h for the formulas).
double MannWhitneyPValue(const std::vector<double>& a, const std::vector<double>& b) {
  const double n1 = static_cast<double>(a.size());
  const double n2 = static_cast<double>(b.size());
  const double n = n1 + n2;
  std::vector<std::pair<double, bool>> all;  // value, is from `a`
  all.reserve(a.size() + b.size());
  for (double v : a) all.emplace_back(v, true);
  for (double v : b) all.emplace_back(v, false);
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });

  double rank_sum_a = 0.0;
  double tie_term = 0.0;  // sum over tie groups of t^3 - t
  for (size_t i = 0; i < all.size();) {
    size_t end = i + 1;
    while (end < all.size() && all[end].first == all[i].first) ++end;
    // Positions i .. end-1 (0-based) share the average of 1-based ranks i+1 .. end.
    const double t = static_cast<double>(end - i);
    const double average_rank = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(end));
    for (size_t j = i; j < end; ++j) {
      if (all[j].second) rank_sum_a += average_rank;
    }
    tie_term += t * t * t - t;
    i = end;
  }
  const double u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
  const double mu = n1 * n2 / 2.0;
  const double variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
  // Every value tied: the samples cannot be told apart.
  if (!(variance > 0.0)) return 1.0;
  const double z = std::max(0.0, std::fabs(u - mu) - 0.5) / std::sqrt(variance);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

// Three significant digits: "12.3", "1.02", "123".
std::string FormatRatio(double x) {
  const double a = std::fabs(x);
  const int decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
  return absl::StrFormat("%.*f", decimals, x);
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kFaster:
      return "faster";
    case Verdict::kSlower:
      return "slower";
    case Verdict::kNoSignificantDifference:
      return "no significant difference";
  }
  return "unknown verdict";
}

std::string Comparison::ToString() const {
  std::string s = absl::StrCat(candidate, " vs ", baseline, ": ");
  const ConfidenceInterval& ci = speedup_ci;
  switch (verdict) {
    case Verdict::kFaster:
      absl::StrAppend(&s, FormatRatio(speedup), "x faster [", FormatRatio(ci.lo), "x, ",
                      FormatRatio(ci.hi), "x]");
      break;
    case Verdict::kSlower:
      // A slowdown reads better as its own ratio; the interval flips with it.
      absl::StrAppend(&s, FormatRatio(1.0 / speedup), "x slower [", FormatRatio(1.0 / ci.hi), "x, ",
                      FormatRatio(1.0 / ci.lo), "x]");
      break;
    case Verdict::kNoSignificantDifference:
      absl::StrAppend(&s, "no significant difference, speedup ", FormatRatio(speedup), "x [",
                      FormatRatio(ci.lo), "x, ", FormatRatio(ci.hi), "x]");
      break;
  }
  if (p_value < 0.001) {
    absl::StrAppend(&s, " (p < 0.001, Mann-Whitney U)");
  } else {
    absl::StrAppend(&s, absl::StrFormat(" (p = %.3f, Mann-Whitney U)", p_value));
  }
  if (memory_reduction) {
    if (*memory_reduction >= 1.0) {
      absl::StrAppend(&s, ", memory ", FormatRatio(*memory_reduction), "x smaller");
    } else {
      absl::StrAppend(&s, ", memory ", FormatRatio(1.0 / *memory_reduction), "x larger");
    }
  }
  if (accuracy_delta) absl::StrAppend(&s, absl::StrFormat(", accuracy %+.4g", *accuracy_delta));
  if (busy) absl::StrAppend(&s, ", BUSY MACHINE");
  return s;
}

absl::StatusOr<Comparison> Compare(const Measurement& baseline, const Measurement& candidate,
                                   const CompareOptions& options) {
  TT_RETURN_IF_ERROR(ValidateOptions(options));
  TT_RETURN_IF_ERROR(ValidateSamples(baseline, "baseline"));
  TT_RETURN_IF_ERROR(ValidateSamples(candidate, "candidate"));
  const std::vector<double>& a = baseline.samples_ns;
  const std::vector<double>& b = candidate.samples_ns;

  Comparison c;
  c.baseline = baseline.name;
  c.candidate = candidate.name;
  std::vector<double> scratch_a = a;
  std::vector<double> scratch_b = b;
  c.speedup = MedianInPlace(scratch_a) / MedianInPlace(scratch_b);

  tt::tensor::Rng rng(options.seed);
  const int64_t na = static_cast<int64_t>(a.size());
  const int64_t nb = static_cast<int64_t>(b.size());
  std::vector<double> ratios(static_cast<size_t>(options.bootstrap_resamples));
  for (double& ratio : ratios) {
    for (double& v : scratch_a) v = a[static_cast<size_t>(rng.UniformInt(na))];
    for (double& v : scratch_b) v = b[static_cast<size_t>(rng.UniformInt(nb))];
    ratio = MedianInPlace(scratch_a) / MedianInPlace(scratch_b);
  }
  std::sort(ratios.begin(), ratios.end());
  c.speedup_ci.lo = Percentile(ratios, 100.0 * options.alpha / 2.0);
  c.speedup_ci.hi = Percentile(ratios, 100.0 * (1.0 - options.alpha / 2.0));
  c.speedup_ci.level = 1.0 - options.alpha;

  c.p_value = MannWhitneyPValue(a, b);
  if (c.p_value < options.alpha && c.speedup > 1.0) {
    c.verdict = Verdict::kFaster;
  } else if (c.p_value < options.alpha && c.speedup < 1.0) {
    c.verdict = Verdict::kSlower;
  } else {
    c.verdict = Verdict::kNoSignificantDifference;
  }

  if (options.baseline_bytes) {
    c.memory_reduction = static_cast<double>(*options.baseline_bytes) /
                         static_cast<double>(*options.candidate_bytes);
  }
  if (options.baseline_accuracy) {
    c.accuracy_delta = *options.candidate_accuracy - *options.baseline_accuracy;
  }
  c.busy = baseline.load.busy || candidate.load.busy;
  return c;
}

absl::StatusOr<Comparison> CompareFunctions(const std::string& baseline_name,
                                            const std::function<void()>& baseline_fn,
                                            const std::string& candidate_name,
                                            const std::function<void()>& candidate_fn,
                                            const MeasureOptions& measure_options,
                                            const CompareOptions& compare_options) {
  // Before measuring: a bad option should not cost a whole measurement first.
  TT_RETURN_IF_ERROR(ValidateOptions(compare_options));
  TT_ASSIGN_OR_RETURN(
      std::vector<Measurement> m,
      MeasureInterleaved({{baseline_name, baseline_fn}, {candidate_name, candidate_fn}},
                         measure_options));
  return Compare(m[0], m[1], compare_options);
}

}  // namespace tt::prof
