#include "benchmarking/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::bench {
namespace {

// log P(X = i) for X ~ Binomial(n, prob), 0 < prob < 1, 0 <= i <= n.
double LogBinomialPmf(int64_t i, int64_t n, double prob) {
  const double n_d = static_cast<double>(n);
  const double i_d = static_cast<double>(i);
  return std::lgamma(n_d + 1.0) - std::lgamma(i_d + 1.0) - std::lgamma(n_d - i_d + 1.0) +
         i_d * std::log(prob) + (n_d - i_d) * std::log1p(-prob);
}

// Every P(X = i), i = 0..n, for X ~ Binomial(n, prob). Terms far in the tails underflow
// to 0, which is harmless: they are below 1e-300.
std::vector<double> BinomialPmf(int64_t n, double prob) {
  std::vector<double> pmf(static_cast<size_t>(n) + 1, 0.0);
  if (prob <= 0.0) {
    pmf[0] = 1.0;
  } else if (prob >= 1.0) {
    pmf[static_cast<size_t>(n)] = 1.0;
  } else {
    for (int64_t i = 0; i <= n; ++i)
      pmf[static_cast<size_t>(i)] = std::exp(LogBinomialPmf(i, n, prob));
  }
  return pmf;
}

}  // namespace

double NearestRankPercentile(const std::vector<double>& sorted, double p) {
  TT_CHECK(!sorted.empty(), "NearestRankPercentile: empty sample");
  TT_CHECK(p >= 0.0 && p <= 100.0, "NearestRankPercentile: p must be in [0, 100], got ", p);
  const double n = static_cast<double>(sorted.size());
  // p * n first: for integer p and n it is an exact integer, so the division by 100 is
  // exact when the rank is a whole number and ceil() cannot be pushed up by rounding.
  const double rank = std::ceil(p * n / 100.0);
  const size_t k = static_cast<size_t>(std::clamp(rank, 1.0, n));
  return sorted[k - 1];
}

double BinomialCdf(int64_t k, int64_t n, double prob) {
  TT_CHECK(n >= 0, "BinomialCdf: n must be >= 0, got ", n);
  TT_CHECK(prob >= 0.0 && prob <= 1.0, "BinomialCdf: prob must be in [0, 1], got ", prob);
  if (k < 0) return 0.0;
  if (k >= n) return 1.0;
  if (prob <= 0.0) return 1.0;  // X = 0 <= k
  if (prob >= 1.0) return 0.0;  // X = n > k
  double sum = 0.0;
  for (int64_t i = 0; i <= k; ++i) sum += std::exp(LogBinomialPmf(i, n, prob));
  return std::min(sum, 1.0);
}

ConfidenceInterval QuantileConfidenceInterval(const std::vector<double>& sorted, double q,
                                              double level) {
  TT_CHECK(!sorted.empty(), "QuantileConfidenceInterval: empty sample");
  TT_CHECK(q > 0.0 && q < 1.0, "QuantileConfidenceInterval: q must be in (0, 1), got ", q);
  TT_CHECK(level > 0.0 && level < 1.0, "QuantileConfidenceInterval: level must be in (0, 1), got ",
           level);
  const int64_t n = static_cast<int64_t>(sorted.size());
  const double tail = (1.0 - level) / 2.0;
  const std::vector<double> pmf = BinomialPmf(n, q);  // P(B = i), B = count below Q

  // Lower end: the largest j with P(B <= j - 1) <= tail (j = 0 would be "no lower
  // bound"; it is clamped to x_(1) below).
  int64_t j = 0;
  double lower_tail = 0.0;  // P(B <= j - 1)
  while (j < n && lower_tail + pmf[static_cast<size_t>(j)] <= tail) {
    lower_tail += pmf[static_cast<size_t>(j)];
    ++j;
  }
  // Upper end: the smallest k with P(B >= k) <= tail (k = n + 1: no upper bound).
  int64_t k = n + 1;
  double upper_tail = 0.0;  // P(B >= k)
  while (k > 1 && upper_tail + pmf[static_cast<size_t>(k - 1)] <= tail) {
    upper_tail += pmf[static_cast<size_t>(k - 1)];
    --k;
  }
  if (j == 0) {  // even x_(1) is not low enough: it misses Q when B = 0
    j = 1;
    lower_tail = pmf[0];
  }
  if (k == n + 1) {  // even x_(n) is not high enough: it misses Q when B = n
    k = n;
    upper_tail = pmf[static_cast<size_t>(n)];
  }
  ConfidenceInterval ci;
  ci.lo = sorted[static_cast<size_t>(j - 1)];
  ci.hi = sorted[static_cast<size_t>(k - 1)];
  ci.level = std::clamp(1.0 - lower_tail - upper_tail, 0.0, 1.0);
  return ci;
}

absl::StatusOr<LatencyStats> ComputeLatencyStats(std::vector<double> latencies_ns,
                                                 double ci_level) {
  if (latencies_ns.empty()) {
    return absl::InvalidArgumentError("ComputeLatencyStats: no latencies (need at least one)");
  }
  if (!(ci_level > 0.0 && ci_level < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComputeLatencyStats: ci_level must be in (0, 1), got ", ci_level));
  }
  for (size_t i = 0; i < latencies_ns.size(); ++i) {
    if (!std::isfinite(latencies_ns[i]) || latencies_ns[i] < 0.0) {
      return absl::InvalidArgumentError(absl::StrCat("ComputeLatencyStats: latency ", i, " is ",
                                                     latencies_ns[i],
                                                     " (must be finite and >= 0)"));
    }
  }
  constexpr int64_t kBlocks = 10;
  ConfidenceInterval block_ci;
  const bool blocked = latencies_ns.size() >= 10 * kBlocks;
  if (blocked) block_ci = BlockMedianInterval(latencies_ns, kBlocks, ci_level);
  std::sort(latencies_ns.begin(), latencies_ns.end());
  const std::vector<double>& x = latencies_ns;
  LatencyStats s;
  s.count = static_cast<int64_t>(x.size());
  s.min_ns = x.front();
  s.max_ns = x.back();
  double sum = 0.0;
  for (double v : x) sum += v;
  s.mean_ns = sum / static_cast<double>(x.size());
  // Rounding can put the mean of equal values a hair outside [min, max].
  s.mean_ns = std::clamp(s.mean_ns, s.min_ns, s.max_ns);
  if (x.size() > 1) {
    double ss = 0.0;  // two-pass: no cancellation
    for (double v : x) ss += (v - s.mean_ns) * (v - s.mean_ns);
    s.stddev_ns = std::sqrt(ss / static_cast<double>(x.size() - 1));
  }
  s.p50_ns = NearestRankPercentile(x, 50);
  s.p90_ns = NearestRankPercentile(x, 90);
  s.p95_ns = NearestRankPercentile(x, 95);
  s.p99_ns = NearestRankPercentile(x, 99);
  s.p999_ns = NearestRankPercentile(x, 99.9);
  s.p50_ci = QuantileConfidenceInterval(x, 0.5, ci_level);
  s.p90_ci = QuantileConfidenceInterval(x, 0.9, ci_level);
  s.p50_block_ci = s.p50_ci;
  if (blocked) {
    s.p50_block_ci.lo = std::min(block_ci.lo, s.p50_ci.lo);
    s.p50_block_ci.hi = std::max(block_ci.hi, s.p50_ci.hi);
    s.p50_block_ci.level = std::min(block_ci.level, s.p50_ci.level);
  }
  return s;
}

ConfidenceInterval BlockMedianInterval(const std::vector<double>& in_order, int64_t blocks,
                                       double level) {
  TT_CHECK(blocks >= 2 && static_cast<int64_t>(in_order.size()) >= blocks,
           "BlockMedianInterval: need blocks >= 2 and at least one value per block, got ",
           blocks, " blocks for ", in_order.size(), " values");
  const int64_t size = static_cast<int64_t>(in_order.size()) / blocks;
  std::vector<double> medians;
  for (int64_t b = 0; b < blocks; ++b) {
    std::vector<double> block(in_order.begin() + b * size, in_order.begin() + (b + 1) * size);
    std::sort(block.begin(), block.end());
    medians.push_back(NearestRankPercentile(block, 50));
  }
  std::sort(medians.begin(), medians.end());
  return QuantileConfidenceInterval(medians, 0.5, level);
}

EarlyStopping EarlyStoppingEstimate(const std::vector<double>& sorted, double percentile,
                                    double confidence) {
  TT_CHECK(percentile > 0.0 && percentile < 100.0,
           "EarlyStoppingEstimate: percentile must be in (0, 100), got ", percentile);
  TT_CHECK(confidence > 0.0 && confidence < 1.0,
           "EarlyStoppingEstimate: confidence must be in (0, 1), got ", confidence);
  EarlyStopping es;
  es.percentile = percentile;
  es.confidence = confidence;
  es.queries = static_cast<int64_t>(sorted.size());
  es.min_queries = MinQueriesForEarlyStopping(percentile, confidence);
  const int64_t n = es.queries;
  const double above = 1.0 - percentile / 100.0;  // P(a latency is >= the true quantile)
  const double alpha = 1.0 - confidence;
  if (n == 0) return es;
  // Walk t = 0, 1, ... while P(T <= t) stays within alpha. P(T <= t) grows with t.
  double cdf = 0.0;
  int64_t t = -1;
  while (t + 1 < n) {
    const double next = cdf + std::exp(LogBinomialPmf(t + 1, n, above));
    if (next > alpha) break;
    cdf = next;
    ++t;
  }
  if (t < 0) return es;  // not even t = 0 passes: too few queries
  es.claim_possible = true;
  es.overlatency_allowed = t;
  es.latency_bound_ns = sorted[static_cast<size_t>(n - t - 1)];
  return es;
}

bool CanClaimPercentile(int64_t queries, int64_t overlatency, double percentile,
                        double confidence) {
  TT_CHECK(queries >= 0 && overlatency >= 0 && overlatency <= queries,
           "CanClaimPercentile: need 0 <= overlatency <= queries, got ", overlatency, " of ",
           queries);
  TT_CHECK(percentile > 0.0 && percentile < 100.0,
           "CanClaimPercentile: percentile must be in (0, 100), got ", percentile);
  TT_CHECK(confidence > 0.0 && confidence < 1.0,
           "CanClaimPercentile: confidence must be in (0, 1), got ", confidence);
  if (queries == 0 || overlatency == queries) return false;
  return BinomialCdf(overlatency, queries, 1.0 - percentile / 100.0) <= 1.0 - confidence;
}

double MaxClaimablePercentile(int64_t queries, int64_t overlatency, double confidence) {
  TT_CHECK(queries >= 0 && overlatency >= 0 && overlatency <= queries,
           "MaxClaimablePercentile: need 0 <= overlatency <= queries, got ", overlatency, " of ",
           queries);
  TT_CHECK(confidence > 0.0 && confidence < 1.0,
           "MaxClaimablePercentile: confidence must be in (0, 1), got ", confidence);
  if (queries == 0 || overlatency == queries) return 0.0;
  // f(r) = BinomialCdf(t, n, r) falls from 1 (r = 0) to 0 (r = 1). The claim for p holds
  // iff f(1 - p/100) <= 1 - c, i.e. iff r = 1 - p/100 >= r*, where f(r*) = 1 - c. So
  // the largest claimable p is 100 (1 - r*). Bisection keeps f(lo) > 1 - c >= f(hi).
  const double alpha = 1.0 - confidence;
  double lo = 0.0;
  double hi = 1.0;
  while (hi - lo > 1e-11) {
    const double mid = 0.5 * (lo + hi);
    if (BinomialCdf(overlatency, queries, mid) <= alpha) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return 100.0 * (1.0 - hi);
}

int64_t MinQueriesForEarlyStopping(double percentile, double confidence) {
  TT_CHECK(percentile > 0.0 && percentile < 100.0,
           "MinQueriesForEarlyStopping: percentile must be in (0, 100), got ", percentile);
  TT_CHECK(confidence > 0.0 && confidence < 1.0,
           "MinQueriesForEarlyStopping: confidence must be in (0, 1), got ", confidence);
  // (p/100)^n <= 1 - c. The closed form can be off by one through rounding, so it is
  // only the starting point of an exact check.
  const double p = percentile / 100.0;
  int64_t n = static_cast<int64_t>(std::ceil(std::log(1.0 - confidence) / std::log(p)));
  n = std::max<int64_t>(n - 1, 1);
  while (std::pow(p, static_cast<double>(n)) > 1.0 - confidence) ++n;
  return n;
}

}  // namespace tt::bench
