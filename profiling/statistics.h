// Statistics of timing samples: percentiles, a distribution-free confidence interval for
// the median, outliers, and a readable duration format.
//
// Timings are not normally distributed: they have a hard floor (the fastest the code can
// run), a long right tail (interrupts, preemption, cache misses) and sometimes several
// modes. So the summary is built around the median and order statistics, which need no
// assumption about the shape of the distribution; mean and standard deviation are
// reported too, but only as secondary figures.
//
//   std::vector<double> ns = ...;  // one duration per call, in nanoseconds
//   TT_ASSIGN_OR_RETURN(tt::prof::Summary s, tt::prof::Summarize(ns));
//   std::printf("median %s, 95%% CI [%s, %s]\n", FormatDuration(s.median).c_str(),
//               FormatDuration(s.median_ci.lo).c_str(), FormatDuration(s.median_ci.hi).c_str());
#ifndef TT_PROFILING_STATISTICS_H_
#define TT_PROFILING_STATISTICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tt::prof {

// An interval [lo, hi] and its coverage: the probability that the interval built this way
// contains the true value. `level` is what was actually achieved, which for order
// statistics is usually more than what was asked for (coverages come in discrete steps).
struct ConfidenceInterval {
  double lo = 0.0;
  double hi = 0.0;
  double level = 0.0;
};

// Summary statistics of a sample (all in the sample's unit, e.g. nanoseconds).
struct Summary {
  int64_t count = 0;
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  double stddev = 0.0;  // sample standard deviation (divides by n - 1); 0 when n == 1
  double median = 0.0;
  double p90 = 0.0;  // percentiles by linear interpolation (see Percentile)
  double p95 = 0.0;
  double p99 = 0.0;
  double cv = 0.0;               // coefficient of variation, stddev / mean; NaN when mean == 0
  ConfidenceInterval median_ci;  // see MedianConfidenceInterval
  // Tukey's fences: values below Q1 - 1.5 IQR or above Q3 + 1.5 IQR (IQR = Q3 - Q1,
  // quartiles by Percentile). In timings, high outliers are interruptions; they are
  // counted, never removed, since they are part of what the code costs on this machine.
  int64_t outliers_low = 0;
  int64_t outliers_high = 0;
};

// The p-th percentile (p in [0, 100]) of `sorted` (ascending, non-empty) by linear
// interpolation between order statistics, Hyndman & Fan's "type 7", the default of
// NumPy's percentile and R's quantile:
//
//   h = (n - 1) * p / 100,  k = floor(h),  Percentile = x[k] + (h - k) * (x[k+1] - x[k])
//
// (0-based x). So p = 0 is the minimum, p = 100 the maximum, p = 50 the usual median (the
// mean of the two middle values when n is even). Empty input or p outside [0, 100] is a
// contract violation (TT_CHECK). Sortedness is the caller's promise and is not verified:
// checking it would make this O(1) lookup O(n).
double Percentile(const std::vector<double>& sorted, double p);

// A distribution-free confidence interval for the median, from order statistics.
//
// For n independent samples of a continuous distribution, the number B of samples below
// the true median m is Binomial(n, 1/2). With order statistics x_(1) <= ... <= x_(n)
// (1-based), the interval [x_(j), x_(n-j+1)] misses m exactly when B < j or B > n - j, so
//
//   coverage(j) = P(j <= B <= n - j) = 1 - 2 * sum_{i=0}^{j-1} C(n, i) / 2^n.
//
// The result is the narrowest such interval (the largest j) with coverage(j) >= `level`,
// and `level` in the result is coverage(j) exactly, not the level asked for. When even
// [min, max] (j = 1, coverage 1 - 2^(1-n)) falls short of `level` (n too small: n <= 5 at
// 95%), the result is [min, max] with its lower coverage: an honest interval, flagged by
// its level, rather than an error. For n = 1 that coverage is 0.
//
// Binomial terms are computed in log space (lgamma), so any n works; cost O(n).
// `sorted` must be ascending and non-empty and 0 < level < 1 (TT_CHECK).
ConfidenceInterval MedianConfidenceInterval(const std::vector<double>& sorted, double level);

// Summary of `samples` (any order; taken by value because it is sorted in place), with a
// median confidence interval at `ci_level`. InvalidArgument for an empty sample, a value
// that is NaN or infinite (its index is named), or ci_level outside (0, 1).
absl::StatusOr<Summary> Summarize(std::vector<double> samples, double ci_level = 0.95);

// A duration in nanoseconds, with three significant digits in the largest unit that keeps
// the number at least 1: "850 ns", "12.3 us", "4.56 ms", "1.23 s" (seconds are the largest
// unit: "1234 s"). "nan ns" for NaN.
std::string FormatDuration(double ns);

}  // namespace tt::prof

#endif  // TT_PROFILING_STATISTICS_H_
