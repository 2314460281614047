#include "profiling/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/check.h"

namespace tt::prof {

double Percentile(const std::vector<double>& sorted, double p) {
  TT_CHECK(!sorted.empty(), "Percentile: empty sample");
  TT_CHECK(p >= 0.0 && p <= 100.0, "Percentile: p must be in [0, 100], got ", p);
  const double h = (static_cast<double>(sorted.size()) - 1.0) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  // p = 100 lands exactly on the last element; there is nothing above it to blend with.
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = h - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

ConfidenceInterval MedianConfidenceInterval(const std::vector<double>& sorted, double level) {
  TT_CHECK(!sorted.empty(), "MedianConfidenceInterval: empty sample");
  TT_CHECK(level > 0.0 && level < 1.0, "MedianConfidenceInterval: level must be in (0, 1), got ",
           level);
  TT_CHECK(std::is_sorted(sorted.begin(), sorted.end()),
           "MedianConfidenceInterval: the sample must be sorted ascending");
  const int64_t n = static_cast<int64_t>(sorted.size());
  const double n_d = static_cast<double>(n);
  // Each tail of Binomial(n, 1/2) may hold at most this much probability.
  const double tail = (1.0 - level) / 2.0;
  // P(B = i) = C(n, i) / 2^n. 2^-n underflows a double beyond n = 1074, so the walk
  // starts at i0 = n/2 - 10 sqrt(n) (20 standard deviations below the mean), where the
  // term is about e^-200 (at most e^-280 for small n), far from underflow, and the mass
  // below it is negligible next to any tail a double `level` can ask for. The first term
  // comes from lgamma, the rest from the exact recurrence
  // P(B = i + 1) = P(B = i) (n - i) / (i + 1): O(sqrt(n)) work instead of O(n).
  const int64_t i0 =
      std::max<int64_t>(0, static_cast<int64_t>(std::floor(n_d / 2 - 10 * std::sqrt(n_d))));
  auto pmf_at = [&](int64_t i) {
    const double i_d = static_cast<double>(i);
    return std::exp(std::lgamma(n_d + 1.0) - std::lgamma(i_d + 1.0) - std::lgamma(n_d - i_d + 1.0) -
                    n_d * std::log(2.0));
  };
  // Grow j while P(B <= j - 1) still fits in the tail. The walk stops before n / 2,
  // since P(B <= n / 2) >= 1/2 > tail.
  int64_t j = i0;
  double lower_tail = 0.0;  // P(B <= j - 1)
  double pmf = pmf_at(i0);  // P(B = j)
  while (j < n) {
    if (lower_tail + pmf > tail) break;
    lower_tail += pmf;
    pmf *= static_cast<double>(n - j) / static_cast<double>(j + 1);
    ++j;
  }
  if (j == 0) {
    // Not even [min, max] reaches `level`; report it with the coverage it has.
    j = 1;
    lower_tail = pmf_at(0);
  }
  ConfidenceInterval ci;
  ci.lo = sorted[static_cast<size_t>(j - 1)];
  ci.hi = sorted[static_cast<size_t>(n - j)];
  ci.level = std::max(0.0, 1.0 - 2.0 * lower_tail);
  return ci;
}

absl::StatusOr<Summary> Summarize(std::vector<double> samples, double ci_level) {
  if (samples.empty()) {
    return absl::InvalidArgumentError("Summarize: no samples (need at least one)");
  }
  if (!(ci_level > 0.0 && ci_level < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Summarize: ci_level must be in (0, 1), got ", ci_level));
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) {
      return absl::InvalidArgumentError(absl::StrCat("Summarize: sample ", i, " of ",
                                                     samples.size(), " is ", samples[i],
                                                     "; every sample must be finite"));
    }
  }
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();

  Summary s;
  s.count = static_cast<int64_t>(n);
  s.min = samples.front();
  s.max = samples.back();
  // Two passes: the one-pass sum-of-squares formula cancels catastrophically when the
  // spread is small next to the mean, which is the normal case for timings.
  double sum = 0.0;
  for (double v : samples) sum += v;
  s.mean = sum / static_cast<double>(n);
  double squares = 0.0;
  for (double v : samples) squares += (v - s.mean) * (v - s.mean);
  s.stddev = n > 1 ? std::sqrt(squares / static_cast<double>(n - 1)) : 0.0;
  s.cv = s.mean != 0.0 ? s.stddev / s.mean : std::nan("");

  s.median = Percentile(samples, 50.0);
  s.p90 = Percentile(samples, 90.0);
  s.p95 = Percentile(samples, 95.0);
  s.p99 = Percentile(samples, 99.0);
  s.median_ci = MedianConfidenceInterval(samples, ci_level);

  const double q1 = Percentile(samples, 25.0);
  const double q3 = Percentile(samples, 75.0);
  const double low_fence = q1 - 1.5 * (q3 - q1);
  const double high_fence = q3 + 1.5 * (q3 - q1);
  s.outliers_low = std::lower_bound(samples.begin(), samples.end(), low_fence) - samples.begin();
  s.outliers_high = samples.end() - std::upper_bound(samples.begin(), samples.end(), high_fence);
  return s;
}

std::string FormatDuration(double ns) {
  if (std::isnan(ns)) return "nan ns";
  static constexpr struct {
    double scale;
    const char* unit;
  } kUnits[] = {{1.0, "ns"}, {1e3, "us"}, {1e6, "ms"}, {1e9, "s"}};
  for (size_t u = 0; u < std::size(kUnits); ++u) {
    const double v = ns / kUnits[u].scale;
    const double a = std::fabs(v);
    const bool last = u + 1 == std::size(kUnits);
    // Decide on the value as it will be printed, so that 999.7 ns becomes "1.00 us",
    // not "1000 ns", and 9.996 prints as "10.0", not "10.00".
    if (a >= 999.5 && !last) continue;
    const int decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
    return absl::StrFormat("%.*f %s", decimals, v, kUnits[u].unit);
  }
  return "";  // not reached: the last unit always returns
}

}  // namespace tt::prof
