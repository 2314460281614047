// Tests of Compare on synthetic measurements (samples made up, so every expected figure
// is known) and of CompareFunctions on two functions with a 1000x work gap.
#include "profiling/compare.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "profiling/statistics.h"
#include "profiling/timer.h"
#include "tensor/tensor.h"

namespace tt::prof {
namespace {

using ::testing::HasSubstr;

Measurement Make(const std::string& name, const std::vector<double>& samples_ns) {
  Measurement m;
  m.name = name;
  m.samples_ns = samples_ns;
  absl::StatusOr<Summary> s = Summarize(samples_ns);
  if (s.ok()) m.summary = *s;
  return m;
}

// 41 samples in [base, base + 40 * step]; the median is base + 20 * step.
std::vector<double> Ramp(double base, double step) {
  std::vector<double> x;
  for (int k = 0; k <= 40; ++k) x.push_back(base + step * k);
  return x;
}

std::vector<double> UniformSamples(uint64_t seed, int n) {
  tt::tensor::Rng rng(seed);
  std::vector<double> x(n);
  for (double& v : x) v = 1000.0 + 100.0 * rng.Uniform();
  return x;
}

TEST(CompareTest, ClearlyFasterCandidate) {
  // Medians 1020 and 102: exactly 10x. Every baseline sample is slower than every
  // candidate sample, so the rank test is as certain as it gets.
  const Measurement slow = Make("slow", Ramp(1000, 1));
  const Measurement fast = Make("fast", Ramp(100, 0.1));
  absl::StatusOr<Comparison> c = Compare(slow, fast);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->baseline, "slow");
  EXPECT_EQ(c->candidate, "fast");
  EXPECT_DOUBLE_EQ(c->speedup, 10.0);
  EXPECT_LE(c->speedup_ci.lo, 10.0);
  EXPECT_GE(c->speedup_ci.hi, 10.0);
  // The resampled medians stay within the middle of each ramp: well inside [9, 11].
  EXPECT_GT(c->speedup_ci.lo, 9.0);
  EXPECT_LT(c->speedup_ci.hi, 11.0);
  EXPECT_DOUBLE_EQ(c->speedup_ci.level, 0.95);
  EXPECT_LT(c->p_value, 1e-6);
  EXPECT_EQ(c->verdict, Verdict::kFaster);
  EXPECT_FALSE(c->memory_reduction.has_value());
  EXPECT_FALSE(c->accuracy_delta.has_value());
  EXPECT_THAT(c->ToString(), HasSubstr("fast vs slow: 10.0x faster ["));
  EXPECT_THAT(c->ToString(), HasSubstr("(p < 0.001, Mann-Whitney U)"));
}

TEST(CompareTest, ReversedIsSlower) {
  absl::StatusOr<Comparison> c = Compare(Make("fast", Ramp(100, 0.1)), Make("slow", Ramp(1000, 1)));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->speedup, 0.1);
  EXPECT_LE(c->speedup_ci.lo, 0.1);
  EXPECT_GE(c->speedup_ci.hi, 0.1);
  EXPECT_EQ(c->verdict, Verdict::kSlower);
  EXPECT_THAT(c->ToString(), HasSubstr("slow vs fast: 10.0x slower ["));
}

TEST(CompareTest, IdenticalSamplesAreNoDifference) {
  const std::vector<double> x = UniformSamples(3, 100);
  absl::StatusOr<Comparison> c = Compare(Make("a", x), Make("b", x));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->speedup, 1.0);
  EXPECT_DOUBLE_EQ(c->p_value, 1.0);  // U equals its mean exactly
  EXPECT_EQ(c->verdict, Verdict::kNoSignificantDifference);
  EXPECT_THAT(c->ToString(), HasSubstr("no significant difference"));
}

TEST(CompareTest, SameDistributionDifferentDrawsAreNoDifference) {
  absl::StatusOr<Comparison> c =
      Compare(Make("a", UniformSamples(7, 200)), Make("b", UniformSamples(8, 200)));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GT(c->p_value, 0.05);
  EXPECT_EQ(c->verdict, Verdict::kNoSignificantDifference);
  EXPECT_LE(c->speedup_ci.lo, 1.0);
  EXPECT_GE(c->speedup_ci.hi, 1.0);
}

TEST(CompareTest, MannWhitneyPValueByHandWithTies) {
  // baseline a = {1, 2, 2, 3}, candidate b = {2, 3, 4, 5, 6}; N = 9.
  // Pooled and sorted: 1a 2a 2a 2b 3a 3b 4b 5b 6b. Average ranks: 1 -> 1, the three 2s
  // share (2 + 3 + 4) / 3 = 3, the two 3s share (5 + 6) / 2 = 5.5, then 7, 8, 9.
  // R_a = 1 + 3 + 3 + 5.5 = 12.5, U = 12.5 - 4 * 5 / 2 = 2.5, mu = 4 * 5 / 2 = 10.
  // Ties: t = 3 and t = 2, sum(t^3 - t) = 24 + 6 = 30.
  // sigma^2 = 20 / 12 * (10 - 30 / 72) = 15.97222..., sigma = 3.996526...
  // z = (|2.5 - 10| - 0.5) / sigma = 1.751521..., p = erfc(z / sqrt 2) = 0.0798562.
  const double sigma = std::sqrt(20.0 / 12.0 * (10.0 - 30.0 / 72.0));
  const double expected = std::erfc(7.0 / sigma / std::sqrt(2.0));
  ASSERT_NEAR(expected, 0.0798562, 1e-6);  // the arithmetic above, checked
  absl::StatusOr<Comparison> c = Compare(Make("a", {1, 2, 2, 3}), Make("b", {2, 3, 4, 5, 6}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->p_value, expected, 1e-12);
  EXPECT_DOUBLE_EQ(c->speedup, 0.5);                         // medians 2 and 4
  EXPECT_EQ(c->verdict, Verdict::kNoSignificantDifference);  // p > 0.05
  // The test is two-sided: swapping the roles gives the same p.
  absl::StatusOr<Comparison> swapped = Compare(Make("b", {2, 3, 4, 5, 6}), Make("a", {1, 2, 2, 3}));
  ASSERT_TRUE(swapped.ok());
  EXPECT_NEAR(swapped->p_value, expected, 1e-12);
}

TEST(CompareTest, BootstrapIsDeterministicUnderTheSeed) {
  const Measurement a = Make("a", UniformSamples(11, 60));
  const Measurement b = Make("b", UniformSamples(12, 60));
  CompareOptions o;
  o.seed = 42;
  absl::StatusOr<Comparison> first = Compare(a, b, o);
  absl::StatusOr<Comparison> second = Compare(a, b, o);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->speedup_ci.lo, second->speedup_ci.lo);
  EXPECT_EQ(first->speedup_ci.hi, second->speedup_ci.hi);
  o.seed = 43;
  absl::StatusOr<Comparison> other = Compare(a, b, o);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->speedup_ci.lo != first->speedup_ci.lo ||
              other->speedup_ci.hi != first->speedup_ci.hi);
}

TEST(CompareTest, MemoryAndAccuracy) {
  CompareOptions o;
  o.baseline_bytes = 4000;
  o.candidate_bytes = 1000;
  o.baseline_accuracy = 0.91;
  o.candidate_accuracy = 0.905;
  absl::StatusOr<Comparison> c = Compare(Make("f32", Ramp(1000, 1)), Make("int8", Ramp(500, 1)), o);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->memory_reduction.has_value());
  EXPECT_DOUBLE_EQ(*c->memory_reduction, 4.0);
  ASSERT_TRUE(c->accuracy_delta.has_value());
  EXPECT_NEAR(*c->accuracy_delta, -0.005, 1e-12);
  EXPECT_THAT(c->ToString(), HasSubstr("memory 4.00x smaller"));
  EXPECT_THAT(c->ToString(), HasSubstr("accuracy -0.005"));
}

TEST(CompareTest, BusyIfEitherMeasurementWasBusy) {
  Measurement a = Make("a", Ramp(1000, 1));
  Measurement b = Make("b", Ramp(100, 1));
  b.load.busy = true;
  absl::StatusOr<Comparison> c = Compare(a, b);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->busy);
  EXPECT_THAT(c->ToString(), HasSubstr("BUSY MACHINE"));
}

TEST(CompareTest, Errors) {
  const Measurement good = Make("good", Ramp(100, 1));
  auto expect_invalid = [](const absl::StatusOr<Comparison>& c, const std::string& substring) {
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << substring;
    EXPECT_THAT(c.status().message(), HasSubstr(substring));
  };
  expect_invalid(Compare(Make("one", {5}), good),
                 "the baseline 'one' has 1 samples; need at least 2");
  expect_invalid(Compare(good, Make("none", {})), "the candidate 'none' has 0 samples");
  expect_invalid(Compare(good, Make("zero", {1, 0})), "sample 1 of the candidate 'zero' is 0");
  expect_invalid(Compare(Make("nan", {1, std::nan("")}), good), "sample 1 of the baseline 'nan'");

  CompareOptions o;
  o.alpha = 0.0;
  expect_invalid(Compare(good, good, o), "alpha = 0");
  o.alpha = 1.0;
  expect_invalid(Compare(good, good, o), "alpha = 1");
  o = CompareOptions();
  o.bootstrap_resamples = 0;
  expect_invalid(Compare(good, good, o), "bootstrap_resamples = 0");
  o = CompareOptions();
  o.baseline_bytes = 10;
  expect_invalid(Compare(good, good, o), "both baseline_bytes and candidate_bytes");
  o.candidate_bytes = 0;
  expect_invalid(Compare(good, good, o), "byte counts must be positive");
  o = CompareOptions();
  o.candidate_accuracy = 0.5;
  expect_invalid(Compare(good, good, o), "both baseline_accuracy and candidate_accuracy");
}

TEST(VerdictNameTest, Names) {
  EXPECT_STREQ(VerdictName(Verdict::kFaster), "faster");
  EXPECT_STREQ(VerdictName(Verdict::kSlower), "slower");
  EXPECT_STREQ(VerdictName(Verdict::kNoSignificantDifference), "no significant difference");
}

// --- CompareFunctions ---

double Sum(const std::vector<double>& x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

TEST(CompareFunctionsTest, ThousandTimesLessWorkIsFaster) {
  // A logic test, not a timing test: with 1000x less work, the cheap function is faster
  // on any machine, however loaded; interleaving makes load spikes hit both.
  std::vector<double> data(100000);
  std::iota(data.begin(), data.end(), 0.0);
  MeasureOptions m;
  m.warmup = 2;
  m.min_runs = 20;
  m.max_runs = 200;
  m.min_time_s = 0.02;
  m.max_time_s = 1.0;
  auto sum_all = [&] { KeepAlive(Sum(data, 100000)); };
  auto sum_few = [&] { KeepAlive(Sum(data, 100)); };
  absl::StatusOr<Comparison> c =
      CompareFunctions("sum 100000", sum_all, "sum 100", sum_few, m, CompareOptions());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->baseline, "sum 100000");
  EXPECT_EQ(c->candidate, "sum 100");
  EXPECT_EQ(c->verdict, Verdict::kFaster) << c->ToString();
  EXPECT_GT(c->speedup, 1.0);
  EXPECT_LT(c->p_value, 0.05);
}

TEST(CompareFunctionsTest, BadCompareOptionsMeasureNothing) {
  int64_t calls = 0;
  CompareOptions o;
  o.bootstrap_resamples = -1;
  auto count = [&] { ++calls; };
  absl::StatusOr<Comparison> c = CompareFunctions("a", count, "b", count, MeasureOptions(), o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace tt::prof
