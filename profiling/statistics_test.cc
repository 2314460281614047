#include "profiling/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::prof {
namespace {

using ::testing::HasSubstr;

// --- Percentile (type 7: h = (n - 1) p / 100, interpolate x[floor(h)] .. x[floor(h) + 1]) ---

TEST(PercentileTest, EvenCountInterpolates) {
  const std::vector<double> x = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(x, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(x, 25), 1.75);  // h = 0.75
  EXPECT_DOUBLE_EQ(Percentile(x, 50), 2.5);   // mean of the two middle values
  EXPECT_DOUBLE_EQ(Percentile(x, 100), 4.0);
}

TEST(PercentileTest, OddCountMedianIsTheMiddleValue) {
  const std::vector<double> x = {1, 3, 5};
  EXPECT_DOUBLE_EQ(Percentile(x, 50), 3.0);
  EXPECT_DOUBLE_EQ(Percentile(x, 90), 4.6);  // h = 1.8: 3 + 0.8 * (5 - 3)
}

TEST(PercentileTest, Ties) {
  const std::vector<double> x = {2, 2, 2, 5};
  EXPECT_DOUBLE_EQ(Percentile(x, 50), 2.0);   // h = 1.5, both neighbours are 2
  EXPECT_DOUBLE_EQ(Percentile(x, 75), 2.75);  // h = 2.25: 2 + 0.25 * 3
}

TEST(PercentileTest, SingleSampleIsEveryPercentile) {
  const std::vector<double> x = {7};
  for (double p : {0.0, 1.0, 50.0, 99.0, 100.0}) EXPECT_DOUBLE_EQ(Percentile(x, p), 7.0) << p;
}

TEST(PercentileTest, TwoSamples) {
  const std::vector<double> x = {10, 20};
  EXPECT_DOUBLE_EQ(Percentile(x, 50), 15.0);
  EXPECT_DOUBLE_EQ(Percentile(x, 90), 19.0);
  EXPECT_DOUBLE_EQ(Percentile(x, 99), 19.9);
}

TEST(PercentileDeathTest, EmptyOrOutOfRange) {
  EXPECT_DEATH(Percentile({}, 50), "empty sample");
  EXPECT_DEATH(Percentile({1.0}, 100.5), "p must be in \\[0, 100\\], got 100.5");
  EXPECT_DEATH(Percentile({1.0}, -1), "p must be in \\[0, 100\\], got -1");
}

// --- Summarize ---

TEST(SummarizeTest, PercentilesOfOneToHundredMatchTypeSeven) {
  std::vector<double> x(100);
  std::iota(x.begin(), x.end(), 1.0);
  std::reverse(x.begin(), x.end());  // Summarize sorts for itself
  absl::StatusOr<Summary> s = Summarize(x);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->count, 100);
  EXPECT_DOUBLE_EQ(s->min, 1.0);
  EXPECT_DOUBLE_EQ(s->max, 100.0);
  EXPECT_DOUBLE_EQ(s->median, 50.5);  // h = 49.5
  EXPECT_DOUBLE_EQ(s->p90, 90.1);     // h = 89.1: x[89] = 90, x[90] = 91
  EXPECT_DOUBLE_EQ(s->p95, 95.05);    // h = 94.05
  EXPECT_DOUBLE_EQ(s->p99, 99.01);    // h = 98.01
  EXPECT_EQ(s->outliers_low, 0);
  EXPECT_EQ(s->outliers_high, 0);
}

TEST(SummarizeTest, MeanSampleStddevAndCv) {
  // Deviations from the mean 5: -3 -1 -1 -1 0 0 2 4, squares sum to 32.
  absl::StatusOr<Summary> s = Summarize({2, 4, 4, 4, 5, 5, 7, 9});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->mean, 5.0);
  EXPECT_DOUBLE_EQ(s->stddev, std::sqrt(32.0 / 7.0));  // n - 1 in the denominator
  EXPECT_DOUBLE_EQ(s->cv, std::sqrt(32.0 / 7.0) / 5.0);
  EXPECT_DOUBLE_EQ(s->median, 4.5);
}

TEST(SummarizeTest, SingleSample) {
  absl::StatusOr<Summary> s = Summarize({42});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->count, 1);
  EXPECT_DOUBLE_EQ(s->median, 42.0);
  EXPECT_DOUBLE_EQ(s->p99, 42.0);
  EXPECT_DOUBLE_EQ(s->stddev, 0.0);
  EXPECT_DOUBLE_EQ(s->median_ci.lo, 42.0);
  EXPECT_DOUBLE_EQ(s->median_ci.hi, 42.0);
  EXPECT_DOUBLE_EQ(s->median_ci.level, 0.0);  // one sample says nothing about spread
}

TEST(SummarizeTest, TukeyFences) {
  // Sorted: 1 10 11 12 13 14 15 100. Q1 (h = 1.75) = 10.75, Q3 (h = 5.25) = 14.25,
  // IQR = 3.5, fences 10.75 - 5.25 = 5.5 and 14.25 + 5.25 = 19.5.
  absl::StatusOr<Summary> s = Summarize({13, 100, 10, 12, 1, 15, 11, 14});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->outliers_low, 1);   // 1
  EXPECT_EQ(s->outliers_high, 1);  // 100
}

TEST(SummarizeTest, ValuesOnTheFenceAreNotOutliers) {
  // Q1 = Q3 = 4 (IQR 0): both fences are 4; the 4s sit on them, 0 and 8 are outside.
  absl::StatusOr<Summary> s = Summarize({4, 4, 0, 4, 4, 4, 4, 8, 8});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->outliers_low, 1);
  EXPECT_EQ(s->outliers_high, 2);
}

TEST(SummarizeTest, Errors) {
  absl::StatusOr<Summary> empty = Summarize({});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("no samples"));

  absl::StatusOr<Summary> nan = Summarize({1, std::nan(""), 3});
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nan.status().message(), HasSubstr("sample 1 of 3 is nan"));

  absl::StatusOr<Summary> inf = Summarize({1, 2, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(inf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inf.status().message(), HasSubstr("sample 2 of 3 is inf"));

  for (double level : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    absl::StatusOr<Summary> bad = Summarize({1, 2, 3}, level);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << level;
    EXPECT_THAT(bad.status().message(), HasSubstr("ci_level must be in (0, 1)"));
  }
}

// --- MedianConfidenceInterval ---

// coverage(j) = 1 - 2 P(B <= j - 1), B ~ Binomial(n, 1/2), computed here independently
// of the code under test: binomial coefficients by the multiplicative recurrence in
// long double (exact enough for n <= 1000: C(1000, 500) ~ 1e299, 2^1000 ~ 1e301).
long double Coverage(int n, int j) {
  long double coefficient = 1.0L;  // C(n, 0)
  long double lower_tail = 0.0L;
  for (int i = 0; i < j; ++i) {
    lower_tail += coefficient;
    coefficient = coefficient * (n - i) / (i + 1);
  }
  return 1.0L - 2.0L * lower_tail / std::pow(2.0L, n);
}

// x_(i) = 10 i (1-based), so the interval's ends name their order statistics.
std::vector<double> Tens(int n) {
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = 10.0 * (i + 1);
  return x;
}

struct CiCase {
  int n;
  int j;  // expected: [x_(j), x_(n-j+1)]
};

class MedianCiTest : public ::testing::TestWithParam<CiCase> {};

TEST_P(MedianCiTest, NarrowestOrderStatisticsReachingNinetyFivePercent) {
  const auto [n, j] = GetParam();
  // The expected j is the largest with coverage >= 0.95: check that claim first.
  ASSERT_GE(Coverage(n, j), 0.95L);
  ASSERT_LT(Coverage(n, j + 1), 0.95L);
  const ConfidenceInterval ci = MedianConfidenceInterval(Tens(n), 0.95);
  EXPECT_DOUBLE_EQ(ci.lo, 10.0 * j);
  EXPECT_DOUBLE_EQ(ci.hi, 10.0 * (n - j + 1));
  EXPECT_NEAR(ci.level, static_cast<double>(Coverage(n, j)), 1e-12);
  EXPECT_GE(ci.level, 0.95);
}

// n = 10: (x_2, x_9), 97.85%; n = 20: (x_6, x_15), 95.86%; n = 100: (x_40, x_61), 96.48%;
// n = 1000: (x_469, x_532), 95.37% (past 2^-1074: the code walks from near the bulk).
INSTANTIATE_TEST_SUITE_P(KnownIndices, MedianCiTest,
                         ::testing::Values(CiCase{10, 2}, CiCase{20, 6}, CiCase{100, 40},
                                           CiCase{1000, 469}));

TEST(MedianConfidenceIntervalTest, TooFewSamplesGiveMinMaxWithLowerCoverage) {
  // n = 5: [min, max] covers 1 - 2 / 2^5 = 93.75% < 95%.
  const ConfidenceInterval five = MedianConfidenceInterval(Tens(5), 0.95);
  EXPECT_DOUBLE_EQ(five.lo, 10.0);
  EXPECT_DOUBLE_EQ(five.hi, 50.0);
  EXPECT_NEAR(five.level, 0.9375, 1e-12);
  // n = 6 is the first to reach 95%: 1 - 2 / 2^6 = 96.875%.
  const ConfidenceInterval six = MedianConfidenceInterval(Tens(6), 0.95);
  EXPECT_DOUBLE_EQ(six.lo, 10.0);
  EXPECT_DOUBLE_EQ(six.hi, 60.0);
  EXPECT_NEAR(six.level, 0.96875, 1e-12);
  const ConfidenceInterval two = MedianConfidenceInterval(Tens(2), 0.95);
  EXPECT_NEAR(two.level, 0.5, 1e-12);
}

TEST(MedianConfidenceIntervalTest, LargeSampleStaysJustAboveTheLevel) {
  // 2^-n underflows a double here; the log-space computation must not care.
  const int n = 100001;
  const ConfidenceInterval ci = MedianConfidenceInterval(Tens(n), 0.99);
  EXPECT_GE(ci.level, 0.99);
  EXPECT_LT(ci.level, 0.991);  // coverage steps are about 2e-4 at this n
  EXPECT_LT(ci.lo, 10.0 * (n + 1) / 2);
  EXPECT_GT(ci.hi, 10.0 * (n + 1) / 2);
  // Symmetric order statistics: lo = x_(j), hi = x_(n-j+1).
  EXPECT_DOUBLE_EQ(ci.lo + ci.hi, 10.0 * (n + 1));
}

TEST(MedianConfidenceIntervalDeathTest, ContractViolations) {
  EXPECT_DEATH(MedianConfidenceInterval({}, 0.95), "empty sample");
  EXPECT_DEATH(MedianConfidenceInterval({1, 2}, 1.0), "level must be in \\(0, 1\\)");
  EXPECT_DEATH(MedianConfidenceInterval({2, 1}, 0.95), "sorted ascending");
}

// --- FormatDuration ---

TEST(FormatDurationTest, ThreeSignificantDigitsInTheLargestUnit) {
  EXPECT_EQ(FormatDuration(850), "850 ns");
  EXPECT_EQ(FormatDuration(12345), "12.3 us");
  EXPECT_EQ(FormatDuration(4.56e6), "4.56 ms");
  EXPECT_EQ(FormatDuration(1.234e9), "1.23 s");
  EXPECT_EQ(FormatDuration(0.5), "0.50 ns");
  EXPECT_EQ(FormatDuration(1234e9), "1234 s");
}

TEST(FormatDurationTest, RoundingMovesToTheNextUnit) {
  EXPECT_EQ(FormatDuration(999.7), "1.00 us");
  EXPECT_EQ(FormatDuration(9996), "10.0 us");
  EXPECT_EQ(FormatDuration(99960), "100 us");
  EXPECT_EQ(FormatDuration(std::nan("")), "nan ns");
}

}  // namespace
}  // namespace tt::prof
