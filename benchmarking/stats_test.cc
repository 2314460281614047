#include "benchmarking/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "profiling/statistics.h"

namespace tt::bench {
namespace {

using ::testing::HasSubstr;

// 1, 2, ..., n: the value at 1-based rank k is k, so results read as ranks.
std::vector<double> Ranks(int n) {
  std::vector<double> x(n);
  std::iota(x.begin(), x.end(), 1.0);
  return x;
}

// P(X <= k), X ~ Binomial(n, q), the schoolbook way: exact integer binomial coefficients
// from Pascal's triangle (no lgamma), for n small enough that they fit in a double.
double HandBinomialCdf(int k, int n, double q) {
  std::vector<double> row = {1.0};  // row n of Pascal's triangle
  for (int i = 1; i <= n; ++i) {
    std::vector<double> next(i + 1, 1.0);
    for (int j = 1; j < i; ++j) next[j] = row[j - 1] + row[j];
    row = next;
  }
  double sum = 0.0;
  for (int i = 0; i <= std::min(k, n); ++i) sum += row[i] * std::pow(q, i) * std::pow(1 - q, n - i);
  return sum;
}

// --- NearestRankPercentile: rank = ceil(p/100 * n), value x_(rank) ---

TEST(NearestRankPercentileTest, TenValues) {
  const std::vector<double> x = Ranks(10);
  EXPECT_EQ(NearestRankPercentile(x, 0), 1);   // clamped to rank 1
  EXPECT_EQ(NearestRankPercentile(x, 10), 1);  // ceil(1.0) = 1
  EXPECT_EQ(NearestRankPercentile(x, 11), 2);  // ceil(1.1) = 2
  EXPECT_EQ(NearestRankPercentile(x, 50), 5);
  EXPECT_EQ(NearestRankPercentile(x, 90), 9);  // exactly 9, not pushed to 10 by rounding
  EXPECT_EQ(NearestRankPercentile(x, 90.5), 10);
  EXPECT_EQ(NearestRankPercentile(x, 99), 10);
  EXPECT_EQ(NearestRankPercentile(x, 100), 10);
}

TEST(NearestRankPercentileTest, ExactRanksAreNotRoundedUp) {
  // p * n / 100 is a whole number in each case; a naive p / 100 * n can land a hair above.
  for (int n : {100, 200, 1000, 12345}) {
    const std::vector<double> x = Ranks(n);
    for (int p = 1; p <= 100; ++p) {
      if ((p * n) % 100 != 0) continue;
      EXPECT_EQ(NearestRankPercentile(x, p), p * n / 100) << "n=" << n << " p=" << p;
    }
  }
}

TEST(NearestRankPercentileTest, AlwaysAMeasuredValueAndAtLeastPPercentBelow) {
  const std::vector<double> x = {1, 1, 2, 3, 5, 8, 13};
  for (double p = 0; p <= 100; p += 0.5) {
    const double v = NearestRankPercentile(x, p);
    EXPECT_TRUE(std::find(x.begin(), x.end(), v) != x.end());
    const double at_or_below = std::count_if(x.begin(), x.end(), [&](double y) { return y <= v; });
    EXPECT_GE(at_or_below / x.size() * 100, p - 1e-9) << p;
  }
}

TEST(NearestRankPercentileDeathTest, BadInput) {
  EXPECT_DEATH(NearestRankPercentile({}, 50), "empty sample");
  EXPECT_DEATH(NearestRankPercentile({1.0}, 101), "p must be in \\[0, 100\\], got 101");
}

// --- BinomialCdf ---

TEST(BinomialCdfTest, MatchesPascalsTriangle) {
  for (int n : {0, 1, 5, 20, 60}) {
    for (double q : {0.01, 0.1, 0.3, 0.5, 0.9}) {
      for (int k = -1; k <= n + 1; ++k) {
        const double expected = k < 0 ? 0.0 : HandBinomialCdf(k, n, q);
        EXPECT_NEAR(BinomialCdf(k, n, q), expected, 1e-12) << "n=" << n << " q=" << q << " k=" << k;
      }
    }
  }
}

TEST(BinomialCdfTest, SmallCaseByHand) {
  // n = 5, q = 0.3: P(0) = 0.7^5 = 0.16807, P(1) = 5 * 0.3 * 0.7^4 = 0.36015.
  EXPECT_NEAR(BinomialCdf(0, 5, 0.3), 0.16807, 1e-12);
  EXPECT_NEAR(BinomialCdf(1, 5, 0.3), 0.52822, 1e-12);
}

TEST(BinomialCdfTest, DegenerateProbabilities) {
  EXPECT_EQ(BinomialCdf(0, 10, 0.0), 1.0);
  EXPECT_EQ(BinomialCdf(9, 10, 1.0), 0.0);
  EXPECT_EQ(BinomialCdf(10, 10, 1.0), 1.0);
}

TEST(BinomialCdfTest, LargeNDoesNotUnderflowTermByTerm) {
  // 0.9^10000 underflows a double, but the CDF near the mean is about 1/2.
  EXPECT_NEAR(BinomialCdf(1000, 10000, 0.1), 0.5, 0.01);
}

// --- QuantileConfidenceInterval ---

TEST(QuantileConfidenceIntervalTest, MedianAgreesWithProfiling) {
  for (int n = 1; n <= 120; ++n) {
    const std::vector<double> x = Ranks(n);
    for (double level : {0.9, 0.95, 0.99}) {
      const ConfidenceInterval mine = QuantileConfidenceInterval(x, 0.5, level);
      const tt::prof::ConfidenceInterval theirs = tt::prof::MedianConfidenceInterval(x, level);
      EXPECT_EQ(mine.lo, theirs.lo) << n << " " << level;
      EXPECT_EQ(mine.hi, theirs.hi) << n << " " << level;
      EXPECT_NEAR(mine.level, theirs.level, 1e-9) << n << " " << level;
    }
  }
}

// The interval's definition, checked with the hand binomial: its coverage, that each tail
// is within (1 - level) / 2, and that neither end can move inwards.
TEST(QuantileConfidenceIntervalTest, P90IsTheNarrowestIntervalWithinEachTail) {
  for (int n : {40, 60, 100, 150}) {
    const std::vector<double> x = Ranks(n);
    const double q = 0.9, level = 0.95, tail = (1 - level) / 2;
    const ConfidenceInterval ci = QuantileConfidenceInterval(x, q, level);
    const int j = static_cast<int>(ci.lo), k = static_cast<int>(ci.hi);  // 1-based ranks
    const double lower = HandBinomialCdf(j - 1, n, q);                   // P(B <= j - 1)
    const double upper = 1.0 - HandBinomialCdf(k - 1, n, q);             // P(B >= k)
    EXPECT_LE(lower, tail + 1e-12) << n;
    EXPECT_LE(upper, tail + 1e-12) << n;
    EXPECT_GT(HandBinomialCdf(j, n, q), tail) << n << ": lo could be x_(j+1)";
    EXPECT_GT(1.0 - HandBinomialCdf(k - 2, n, q), tail) << n << ": hi could be x_(k-1)";
    EXPECT_NEAR(ci.level, 1 - lower - upper, 1e-9) << n;
    EXPECT_GE(ci.level, level) << n;
    EXPECT_LE(ci.lo, NearestRankPercentile(x, 90));
    EXPECT_GE(ci.hi, NearestRankPercentile(x, 90));
  }
}

TEST(QuantileConfidenceIntervalTest, TooFewSamplesReportTheirLowerCoverage) {
  // n = 20 for p90: the upper tail P(B >= 20) = 0.9^20 = 0.12 > 0.025, so the interval
  // reaches the maximum and its level is below what was asked.
  const std::vector<double> x = Ranks(20);
  const ConfidenceInterval ci = QuantileConfidenceInterval(x, 0.9, 0.95);
  EXPECT_EQ(ci.hi, 20);
  EXPECT_LT(ci.level, 0.95);
  EXPECT_NEAR(ci.level,
              1 - HandBinomialCdf(static_cast<int>(ci.lo) - 1, 20, 0.9) - std::pow(0.9, 20), 1e-12);
}

TEST(QuantileConfidenceIntervalTest, CoversTheTrueP90AtLeastAsOftenAsPromised) {
  // Uniform(0, 1) latencies: the true p90 is 0.9. Seeded, so the count is fixed.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const int trials = 2000, n = 80;
  int covered = 0;
  double promised = 0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> x(n);
    for (double& v : x) v = uniform(rng);
    std::sort(x.begin(), x.end());
    const ConfidenceInterval ci = QuantileConfidenceInterval(x, 0.9, 0.95);
    covered += ci.lo <= 0.9 && 0.9 <= ci.hi;
    promised = ci.level;  // the same for every trial (it depends on n only)
  }
  // Binomial noise of 2000 trials is about 0.5%; allow 3 standard deviations.
  EXPECT_GE(static_cast<double>(covered) / trials, promised - 0.015);
}

// --- ComputeLatencyStats ---

TEST(ComputeLatencyStatsTest, KnownSample) {
  std::vector<double> x = Ranks(100);
  std::reverse(x.begin(), x.end());  // any order
  absl::StatusOr<LatencyStats> s = ComputeLatencyStats(x);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->count, 100);
  EXPECT_EQ(s->min_ns, 1);
  EXPECT_EQ(s->max_ns, 100);
  EXPECT_DOUBLE_EQ(s->mean_ns, 50.5);
  EXPECT_NEAR(s->stddev_ns, std::sqrt(100.0 * 101 / 12), 1e-9);  // n(n+1)/12 for 1..n
  EXPECT_EQ(s->p50_ns, 50);
  EXPECT_EQ(s->p90_ns, 90);
  EXPECT_EQ(s->p95_ns, 95);
  EXPECT_EQ(s->p99_ns, 99);
  EXPECT_EQ(s->p999_ns, 100);
  EXPECT_LE(s->p50_ci.lo, 50);
  EXPECT_GE(s->p50_ci.hi, 50);
  EXPECT_LE(s->p90_ci.lo, 90);
  EXPECT_GE(s->p90_ci.hi, 90);
}

TEST(ComputeLatencyStatsTest, OneSample) {
  absl::StatusOr<LatencyStats> s = ComputeLatencyStats({42});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->p99_ns, 42);
  EXPECT_EQ(s->stddev_ns, 0);
  EXPECT_EQ(s->p90_ci.lo, 42);
  EXPECT_EQ(s->p90_ci.hi, 42);
}

TEST(ComputeLatencyStatsTest, BadInput) {
  EXPECT_THAT(ComputeLatencyStats({}).status().ToString(), HasSubstr("no latencies"));
  EXPECT_THAT(ComputeLatencyStats({1, -2}).status().ToString(), HasSubstr("latency 1 is -2"));
  EXPECT_THAT(
      ComputeLatencyStats({1, std::numeric_limits<double>::quiet_NaN()}).status().ToString(),
      HasSubstr("latency 1 is nan"));
  EXPECT_THAT(ComputeLatencyStats({1}, 1.0).status().ToString(), HasSubstr("ci_level"));
}

// --- Early stopping ---

TEST(EarlyStoppingTest, MinimumQueryCounts) {
  // (p/100)^n <= 1 - c: 0.9^43 = 0.0108 > 0.01 >= 0.9^44 = 0.0097.
  EXPECT_EQ(MinQueriesForEarlyStopping(90, 0.99), 44);
  // 0.9^28 = 0.0523 > 0.05 >= 0.9^29 = 0.0471.
  EXPECT_EQ(MinQueriesForEarlyStopping(90, 0.95), 29);
  // log(0.01) / log(0.99) = 458.2.
  EXPECT_EQ(MinQueriesForEarlyStopping(99, 0.99), 459);
}

TEST(EarlyStoppingTest, TooFewQueriesGiveNoClaim) {
  const EarlyStopping es = EarlyStoppingEstimate(Ranks(43), 90, 0.99);
  EXPECT_FALSE(es.claim_possible);
  EXPECT_EQ(es.min_queries, 44);
  EXPECT_EQ(es.queries, 43);
  EXPECT_FALSE(EarlyStoppingEstimate({}, 90, 0.99).claim_possible);
}

TEST(EarlyStoppingTest, AtTheMinimumOnlyTheMaximumCanBeClaimed) {
  const EarlyStopping es = EarlyStoppingEstimate(Ranks(44), 90, 0.99);
  ASSERT_TRUE(es.claim_possible);
  EXPECT_EQ(es.overlatency_allowed, 0);
  EXPECT_EQ(es.latency_bound_ns, 44);  // the largest latency
}

TEST(EarlyStoppingTest, HundredQueries) {
  // By hand: P(T <= 3) = 0.00784 <= 0.01 < P(T <= 4) = 0.0237 for T ~ Binomial(100, 0.1),
  // so 3 queries may be above the bound: L = x_(97), above the measured p90 = x_(90).
  EXPECT_LE(HandBinomialCdf(3, 100, 0.1), 0.01);
  EXPECT_GT(HandBinomialCdf(4, 100, 0.1), 0.01);
  const EarlyStopping es = EarlyStoppingEstimate(Ranks(100), 90, 0.99);
  ASSERT_TRUE(es.claim_possible);
  EXPECT_EQ(es.overlatency_allowed, 3);
  EXPECT_EQ(es.latency_bound_ns, 97);
}

TEST(EarlyStoppingTest, ThousandQueries) {
  // P(T <= 78) = 0.00987 <= 0.01 < P(T <= 79) = 0.0133 for Binomial(1000, 0.1).
  const EarlyStopping es = EarlyStoppingEstimate(Ranks(1000), 90, 0.99);
  ASSERT_TRUE(es.claim_possible);
  EXPECT_EQ(es.overlatency_allowed, 78);
  EXPECT_EQ(es.latency_bound_ns, 922);
}

TEST(EarlyStoppingTest, BoundApproachesTheMeasuredPercentileWithMoreQueries) {
  double previous_gap = 1.0;
  for (int n : {100, 1000, 10000, 100000}) {
    const EarlyStopping es = EarlyStoppingEstimate(Ranks(n), 90, 0.99);
    ASSERT_TRUE(es.claim_possible);
    const double gap = (es.latency_bound_ns - NearestRankPercentile(Ranks(n), 90)) / n;
    EXPECT_GT(gap, 0.0) << n;  // always more conservative than the raw p90
    EXPECT_LT(gap, previous_gap) << n;
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 0.003);
}

TEST(EarlyStoppingTest, CanClaimPercentile) {
  EXPECT_TRUE(CanClaimPercentile(44, 0, 90, 0.99));
  EXPECT_FALSE(CanClaimPercentile(43, 0, 90, 0.99));
  EXPECT_TRUE(CanClaimPercentile(100, 3, 90, 0.99));
  EXPECT_FALSE(CanClaimPercentile(100, 4, 90, 0.99));
  EXPECT_FALSE(CanClaimPercentile(0, 0, 90, 0.99));
  EXPECT_FALSE(CanClaimPercentile(5, 5, 50, 0.5));
  // Server-style: p99 within the bound needs 459 queries even with none above it.
  EXPECT_FALSE(CanClaimPercentile(458, 0, 99, 0.99));
  EXPECT_TRUE(CanClaimPercentile(459, 0, 99, 0.99));
}

TEST(EarlyStoppingTest, MaxClaimablePercentile) {
  // 44 queries, none above L: p^44 = 0.01, p = 0.01^(1/44) = 0.900628.
  EXPECT_NEAR(MaxClaimablePercentile(44, 0, 0.99), 100 * std::pow(0.01, 1.0 / 44), 1e-6);
  // 100 queries, 3 above L: p90 can be claimed, p92 cannot (P(T <= 3) = 0.0367 for 8%).
  const double p = MaxClaimablePercentile(100, 3, 0.99);
  EXPECT_GT(p, 90);
  EXPECT_LT(p, 92);
  EXPECT_NEAR(HandBinomialCdf(3, 100, 1 - p / 100), 0.01, 1e-7);
  EXPECT_EQ(MaxClaimablePercentile(10, 10, 0.99), 0);
  EXPECT_EQ(MaxClaimablePercentile(0, 0, 0.99), 0);
}

TEST(EarlyStoppingDeathTest, BadArguments) {
  EXPECT_DEATH(EarlyStoppingEstimate(Ranks(10), 100, 0.99), "percentile must be in \\(0, 100\\)");
  EXPECT_DEATH(EarlyStoppingEstimate(Ranks(10), 90, 1.0), "confidence must be in \\(0, 1\\)");
  EXPECT_DEATH(CanClaimPercentile(5, 6, 90, 0.99), "overlatency <= queries");
}

}  // namespace
}  // namespace tt::bench

namespace tt::bench {
namespace {

TEST(BlockMedianIntervalTest, SortedRampGivesSecondAndNinthBlockMedian) {
  // 1..1000 in issue order: block b holds 100b+1..100b+100, median (rank 50) 100b+50.
  std::vector<double> x;
  for (int i = 1; i <= 1000; ++i) x.push_back(i);
  const ConfidenceInterval ci = BlockMedianInterval(x, 10, 0.95);
  EXPECT_EQ(ci.lo, 150);
  EXPECT_EQ(ci.hi, 850);
  // 1 - 2 * P(Binomial(10, 1/2) <= 1) = 1 - 2 * 11/1024.
  EXPECT_NEAR(ci.level, 1.0 - 22.0 / 1024.0, 1e-12);
}

TEST(BlockMedianIntervalTest, DriftWidensTheLatencyStatsInterval) {
  // A slow drift: the iid interval of 2,000 queries is narrow, the block one is not.
  std::vector<double> x;
  for (int i = 0; i < 2000; ++i) x.push_back(100.0 + (i % 7) + i / 100);
  absl::StatusOr<LatencyStats> s = ComputeLatencyStats(x);
  ASSERT_TRUE(s.ok());
  EXPECT_LE(s->p50_block_ci.lo, s->p50_ci.lo);
  EXPECT_GE(s->p50_block_ci.hi, s->p50_ci.hi);
  EXPECT_GT(s->p50_block_ci.hi - s->p50_block_ci.lo, 3 * (s->p50_ci.hi - s->p50_ci.lo));
  // Fewer than 100 latencies: the same as p50_ci.
  absl::StatusOr<LatencyStats> few = ComputeLatencyStats({1, 2, 3, 4, 5});
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->p50_block_ci.lo, few->p50_ci.lo);
  EXPECT_EQ(few->p50_block_ci.hi, few->p50_ci.hi);
}

TEST(BlockMedianIntervalDeathTest, NeedsAValuePerBlock) {
  EXPECT_DEATH(BlockMedianInterval({1, 2, 3}, 10, 0.95), "at least one value per block");
}

}  // namespace
}  // namespace tt::bench
