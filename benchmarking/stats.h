// Latency statistics of a benchmark run, and the early-stopping bound MLPerf uses to
// state a latency percentile with a confidence level.
//
// A benchmark run produces one latency per query. Its headline figure is a tail
// percentile (p90 for SingleStream, p99 for Server), because the slow queries are what a
// user of the system waits for. Three questions follow, each answered here:
//
//   1. Which number is "the p90" of 1000 latencies?  NearestRankPercentile: an actual
//      latency of the run, never an interpolated one.
//   2. How sure are we of it?  QuantileConfidenceInterval: a distribution-free interval
//      for the true quantile from order statistics (the binomial, no normality).
//   3. What can we promise?  EarlyStoppingEstimate: the smallest latency L such that
//      "the true p90 is <= L" holds with 99% confidence. With few queries the promise
//      must be looser than the measured p90; with many it approaches it.
//
//   std::vector<double> ns = ...;  // one latency per query
//   TT_ASSIGN_OR_RETURN(tt::bench::LatencyStats s, tt::bench::ComputeLatencyStats(ns));
//   std::sort(ns.begin(), ns.end());
//   tt::bench::EarlyStopping es = tt::bench::EarlyStoppingEstimate(ns, 90, 0.99);
//   if (es.claim_possible) printf("with 99%% confidence p90 <= %g ns\n", es.latency_bound_ns);
//
// The binomial model behind 2 and 3: queries are independent draws from one latency
// distribution F. For the true q-quantile Q (F(Q) = q), each latency falls below Q with
// probability q, so the count B of latencies below Q is Binomial(n, q), and the count of
// latencies above a fixed bound L is Binomial(n, 1 - F(L)). Everything below is exact
// arithmetic on these binomials; no normal approximation.
#ifndef TT_BENCHMARKING_STATS_H_
#define TT_BENCHMARKING_STATS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "profiling/statistics.h"

namespace tt::bench {

using ConfidenceInterval = ::tt::prof::ConfidenceInterval;

// The p-th percentile (p in [0, 100]) of `sorted` (ascending, non-empty) by the
// nearest-rank definition:
//
//   rank k = ceil(p / 100 * n), clamped to [1, n];  Percentile = x_(k)  (1-based)
//
// So the value returned is always one of the latencies measured (as MLPerf LoadGen
// reports them), and at least p% of the latencies are <= it: for n = 10, p90 is the 9th
// smallest, p99 the largest; p = 0 gives the minimum. This differs from
// tt::prof::Percentile (linear interpolation), which can report a latency no query had.
// Empty input or p outside [0, 100] is a contract violation (TT_CHECK); sortedness is the
// caller's promise.
double NearestRankPercentile(const std::vector<double>& sorted, double p);

// P(X <= k) for X ~ Binomial(n, prob): sum_{i=0}^{k} C(n, i) prob^i (1 - prob)^(n - i).
// Each term is computed in log space (lgamma), so large n neither overflows nor
// underflows term by term; cost O(min(k, n)). k < 0 gives 0, k >= n gives 1.
// n >= 0 and prob in [0, 1] (TT_CHECK).
double BinomialCdf(int64_t k, int64_t n, double prob);

// A distribution-free confidence interval for the q-quantile (q in (0, 1)) from order
// statistics x_(1) <= ... <= x_(n) of `sorted`. With B ~ Binomial(n, q) the count below
// the true quantile Q, the interval [x_(j), x_(k)] misses Q exactly when B < j (Q below
// it) or B >= k (Q above it), so
//
//   coverage = 1 - P(B <= j - 1) - P(B >= k).
//
// j is the largest index with P(B <= j - 1) <= (1 - level) / 2 and k the smallest with
// P(B >= k) <= (1 - level) / 2 (each tail gets half the error). When a tail cannot be
// made that small (too few samples; for p90 the upper tail needs n >= 36 at 95%), the
// interval stops at x_(1) or x_(n) and `level` reports the lower coverage it really
// has, as tt::prof::MedianConfidenceInterval does; for q = 0.5 the two agree.
// `sorted` ascending and non-empty, q in (0, 1), level in (0, 1) (TT_CHECK). O(n).
ConfidenceInterval QuantileConfidenceInterval(const std::vector<double>& sorted, double q,
                                              double level);

// The interval above assumes independent latencies. Real ones are not: a busy neighbour,
// a frequency change or a cache flush slows a stretch of consecutive queries, and the
// order-statistic interval of thousands of queries then claims a precision that a
// second run does not reproduce. The batch-medians remedy (the batch-means method of
// simulation output analysis, with medians): cut the queries, in issue order, into
// `blocks` contiguous blocks of equal size (the last n mod blocks queries are left
// out), take each block's median, and give the interval of the median of those block
// medians (QuantileConfidenceInterval of them at q = 0.5: for 10 blocks at 95%, the
// 2nd and 9th smallest, coverage 97.9%). Slow drift inside the run widens it; blocks
// are treated as independent, which holds better the longer they are.
// `in_order` has at least `blocks` >= 2 values (TT_CHECK); level in (0, 1).
ConfidenceInterval BlockMedianInterval(const std::vector<double>& in_order, int64_t blocks,
                                       double level);

// Everything a results file records about a set of latencies, in nanoseconds.
struct LatencyStats {
  int64_t count = 0;
  double min_ns = 0.0;
  double max_ns = 0.0;
  double mean_ns = 0.0;
  double stddev_ns = 0.0;  // sample standard deviation (n - 1); 0 for one sample
  // Nearest-rank percentiles (NearestRankPercentile), so min <= p50 <= p90 <= p95 <= p99
  // <= p999 <= max always holds.
  double p50_ns = 0.0;
  double p90_ns = 0.0;
  double p95_ns = 0.0;
  double p99_ns = 0.0;
  double p999_ns = 0.0;
  ConfidenceInterval p50_ci;  // QuantileConfidenceInterval(q = 0.5)
  ConfidenceInterval p90_ci;  // QuantileConfidenceInterval(q = 0.9)
  // BlockMedianInterval over 10 blocks, widened to contain p50_ci (so it is never the
  // narrower claim); equal to p50_ci below 100 latencies.
  ConfidenceInterval p50_block_ci;
};

// Statistics of `latencies_ns` (in issue order, for p50_block_ci; taken by value). InvalidArgument
// for an empty sample, a negative or non-finite latency (its index is named), or
// ci_level outside (0, 1).
absl::StatusOr<LatencyStats> ComputeLatencyStats(std::vector<double> latencies_ns,
                                                 double ci_level = 0.95);

// --- Early stopping ---------------------------------------------------------------
//
// The claim "the true p-th percentile of the latency is <= L" at confidence c.
//
// For the order statistic L = x_(n - t) (the (t+1)-th largest latency; at most t queries
// are above it), the claim "Q <= L" fails exactly when at least n - t latencies fall
// below the true quantile Q, i.e. when T, the count of latencies at or above Q, is <= t.
// T ~ Binomial(n, 1 - p/100), so
//
//   P(claim false) = BinomialCdf(t, n, 1 - p/100),  and the claim holds at confidence c
//   iff BinomialCdf(t, n, 1 - p/100) <= 1 - c.
//
// The largest t that passes gives the smallest (best) L. Intuition for p90 at 99%: if
// the true p90 were above L, each query would exceed L with probability >= 10%, and
// seeing only t of n queries above L would be a 1-in-100 accident. With t = 0 the test
// needs (p/100)^n <= 1 - c, so a claim needs at least
//
//   n_min = ceil(log(1 - c) / log(p / 100))   queries   (p90 at 99%: 44; p99 at 99%: 459)
//
// and with more queries L approaches the measured percentile from above. This is what
// MLPerf LoadGen calls the early-stopping estimate; it is valid whatever the latency
// distribution, and because L is an order statistic the data-dependent choice of L does
// not weaken it.
struct EarlyStopping {
  double percentile = 90.0;  // p, in (0, 100)
  double confidence = 0.99;  // c, in (0, 1)
  int64_t queries = 0;       // n
  // Whether any claim is possible (n >= min_queries). When false the fields below are 0.
  bool claim_possible = false;
  // The t above: latencies strictly above latency_bound_ns number at most this many.
  int64_t overlatency_allowed = 0;
  // L = x_(n - t): with `confidence`, the true percentile is <= this.
  double latency_bound_ns = 0.0;
  // n_min above: the fewest queries for which any claim is possible.
  int64_t min_queries = 0;
};

// The early-stopping estimate for `sorted` latencies (ascending; may be empty, giving
// claim_possible = false). percentile in (0, 100), confidence in (0, 1) (TT_CHECK).
// O(n) binomial terms.
EarlyStopping EarlyStoppingEstimate(const std::vector<double>& sorted, double percentile,
                                    double confidence);

// Whether, with `overlatency` of `queries` queries above a fixed latency bound L, one can
// claim at `confidence` that the true `percentile` is <= L: BinomialCdf(overlatency,
// queries, 1 - percentile/100) <= 1 - confidence. This is the Server scenario's validity
// test (is the p99 within its latency bound?). 0 <= overlatency <= queries (TT_CHECK).
bool CanClaimPercentile(int64_t queries, int64_t overlatency, double percentile, double confidence);

// The largest percentile p (in [0, 100]) such that "the true p-th percentile is <= L" holds
// at `confidence`, given `overlatency` of `queries` queries above L: the p solving
// BinomialCdf(overlatency, queries, 1 - p/100) = 1 - confidence (the one-sided
// Clopper-Pearson bound on the fraction above L), found by bisection to 1e-9. 0 when
// nothing can be claimed (queries == 0 or overlatency == queries). E.g. 44 queries,
// none above L, 99%: 90.06 (just above p90, matching n_min = 44 above).
double MaxClaimablePercentile(int64_t queries, int64_t overlatency, double confidence);

// The fewest queries for which a claim about `percentile` at `confidence` is possible at
// all (n_min above).
int64_t MinQueriesForEarlyStopping(double percentile, double confidence);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_STATS_H_
