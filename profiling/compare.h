// A/B comparison of two measurements: the speedup with a confidence interval, a
// significance test, and a verdict. This is how later modules state "N x faster".
//
//   tt::prof::MeasureOptions measure;
//   tt::prof::CompareOptions compare;
//   compare.baseline_bytes = 4 * n;  // optional: f32 weights ...
//   compare.candidate_bytes = n;     // ... vs int8
//   TT_ASSIGN_OR_RETURN(
//       tt::prof::Comparison c,
//       tt::prof::CompareFunctions("naive", naive, "simd", simd, measure, compare));
//   std::puts(c.ToString().c_str());
//   // simd vs naive: 12.3x faster [11.9x, 12.8x] (p < 0.001, Mann-Whitney U), memory 4.00x smaller
//
// Statistics, and why these:
// - speedup = median(baseline) / median(candidate). Medians, because timings have long
//   right tails (a few preempted calls move the mean a lot, the median barely).
// - speedup_ci: percentile bootstrap. Resample each measurement with replacement (same
//   sizes), take the ratio of the resampled medians, repeat `bootstrap_resamples` times;
//   the interval is the alpha/2 and 1 - alpha/2 percentiles of those ratios. No formula
//   for the variance of a ratio of medians is needed. Seeded (tt::tensor::Rng), so a
//   report is reproducible. Its level is the nominal 1 - alpha.
// - p_value: two-sided Mann-Whitney U test (Wilcoxon rank-sum): "is a random baseline call
//   as likely to be slower than a random candidate call as faster?". It uses ranks only,
//   so it needs no normality and outliers cannot dominate it. Normal approximation with
//   average ranks for ties, the tie-corrected variance and a continuity correction
//   (the same as SciPy's mannwhitneyu(..., method="asymptotic")):
//     U = R_baseline - n1 (n1 + 1) / 2,  mu = n1 n2 / 2,
//     sigma^2 = n1 n2 / 12 * ((N + 1) - sum_ties (t^3 - t) / (N (N - 1))),  N = n1 + n2,
//     z = max(0, |U - mu| - 1/2) / sigma,  p = erfc(z / sqrt(2)).
//   Fine from about 8 samples each; timing runs have hundreds.
// - verdict: kFaster if p < alpha and speedup > 1, kSlower if p < alpha and speedup < 1,
//   otherwise kNoSignificantDifference.
#ifndef TT_PROFILING_COMPARE_H_
#define TT_PROFILING_COMPARE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "profiling/statistics.h"
#include "profiling/timer.h"

namespace tt::prof {

enum class Verdict { kFaster, kSlower, kNoSignificantDifference };

// "faster", "slower", "no significant difference".
const char* VerdictName(Verdict verdict);

struct CompareOptions {
  double alpha = 0.05;  // significance level of the test; the CI is at 1 - alpha
  int64_t bootstrap_resamples = 2000;
  uint64_t seed = 1;
  // Optional context, reported alongside the speed. Give both of a pair or neither.
  std::optional<int64_t> baseline_bytes, candidate_bytes;       // e.g. model sizes
  std::optional<double> baseline_accuracy, candidate_accuracy;  // e.g. test accuracy
};

struct Comparison {
  std::string baseline, candidate;  // the measurements' names
  // median(baseline) / median(candidate): > 1 means the candidate is faster.
  double speedup = 0.0;
  ConfidenceInterval speedup_ci;  // bootstrap, level 1 - alpha
  double p_value = 1.0;           // two-sided Mann-Whitney U
  Verdict verdict = Verdict::kNoSignificantDifference;
  std::optional<double> memory_reduction;  // baseline_bytes / candidate_bytes
  std::optional<double> accuracy_delta;    // candidate_accuracy - baseline_accuracy
  bool busy = false;                       // either measurement was on a busy machine

  // e.g. "simd vs naive: 12.3x faster [11.9x, 12.8x] (p < 0.001, Mann-Whitney U)";
  // slowdowns are written as "2.00x slower [1.90x, 2.10x]", followed by memory and
  // accuracy when given and "BUSY MACHINE" when busy.
  std::string ToString() const;
};

// Compares two measurements (ideally from one interleaved run: CompareFunctions).
// InvalidArgument when either has fewer than 2 samples, a sample is not finite and
// positive, alpha is outside (0, 1), bootstrap_resamples < 1, only one of a bytes or
// accuracy pair is given, or a byte count is not positive. Cost: O(bootstrap_resamples *
// (n1 + n2)).
absl::StatusOr<Comparison> Compare(const Measurement& baseline, const Measurement& candidate,
                                   const CompareOptions& options = {});

// Measures `baseline_fn` and `candidate_fn` interleaved (A B, B A, A B, ... rounds; see
// MeasureInterleaved), then compares them. Interleaving is the point: measured one after
// the other, a load spike or a frequency change during one of them would show up as a
// speedup; interleaved, both see the same machine and the ratio stays honest.
absl::StatusOr<Comparison> CompareFunctions(const std::string& baseline_name,
                                            const std::function<void()>& baseline_fn,
                                            const std::string& candidate_name,
                                            const std::function<void()>& candidate_fn,
                                            const MeasureOptions& measure_options = {},
                                            const CompareOptions& compare_options = {});

}  // namespace tt::prof

#endif  // TT_PROFILING_COMPARE_H_
