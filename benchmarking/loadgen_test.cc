#include "benchmarking/loadgen.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;

// A QSL of n samples of which `perf` are used in performance mode; records load calls.
class FakeQsl : public QuerySampleLibrary {
 public:
  FakeQsl(int64_t total, int64_t perf) : total_(total), perf_(perf) {}
  std::string Name() const override { return "fake-qsl"; }
  int64_t TotalSampleCount() const override { return total_; }
  int64_t PerformanceSampleCount() const override { return perf_; }
  void LoadSamplesToRam(const std::vector<int64_t>& indices) override { loaded = indices; }
  void UnloadSamplesFromRam(const std::vector<int64_t>& indices) override { unloaded = indices; }
  std::vector<int64_t> loaded, unloaded;

 private:
  int64_t total_, perf_;
};

// A SUT on a ManualClock: each Issue "takes" cost(sample) per sample, by advancing the
// clock. Records every query and the time it started.
class FakeSut : public SystemUnderTest {
 public:
  FakeSut(ManualClock* clock, std::function<int64_t(int64_t)> cost)
      : clock_(clock), cost_(std::move(cost)) {}
  std::string Name() const override { return "fake-sut"; }
  void Issue(const std::vector<int64_t>& samples) override {
    queries.push_back(samples);
    starts.push_back(clock_->NowNs());
    for (int64_t s : samples) clock_->Advance(cost_(s));
    finishes.push_back(clock_->NowNs());
  }
  std::vector<std::vector<int64_t>> queries;
  std::vector<int64_t> starts, finishes;

 private:
  ManualClock* clock_;
  std::function<int64_t(int64_t)> cost_;
};

int64_t Fixed1ms(int64_t) { return kMs; }

TestSettings SingleStream(int64_t min_queries, double min_s) {
  TestSettings s;
  s.scenario = Scenario::kSingleStream;
  s.min_query_count = min_queries;
  s.min_duration_s = min_s;
  s.warmup_queries = 3;
  return s;
}

// --- SampleSequence ---

TEST(SampleSequenceTest, EveryPassIsAPermutation) {
  SampleSequence seq(123, 17);
  for (int pass = 0; pass < 5; ++pass) {
    std::vector<int64_t> got;
    for (int i = 0; i < 17; ++i) got.push_back(seq.Next());
    std::sort(got.begin(), got.end());
    std::vector<int64_t> all(17);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(got, all) << "pass " << pass;
  }
}

TEST(SampleSequenceTest, SameSeedSameOrderOtherSeedOtherOrder) {
  auto draw = [](uint64_t seed) {
    SampleSequence seq(seed, 1000);
    std::vector<int64_t> out;
    for (int i = 0; i < 3000; ++i) out.push_back(seq.Next());
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

// The order is specified bit for bit (mt19937_64 plus the written-out draws), so these
// numbers are the same on every platform; a change here changes every recorded seed.
TEST(SampleSequenceTest, PinnedOrder) {
  SampleSequence seq(1, 10);
  std::vector<int64_t> got;
  for (int i = 0; i < 10; ++i) got.push_back(seq.Next());
  EXPECT_THAT(got, ElementsAre(1, 7, 3, 9, 4, 0, 5, 2, 6, 8));
}

TEST(SampleSequenceTest, ExponentialHasTheRightMean) {
  SampleSequence seq(9, 1);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double gap = seq.NextExponential(50.0);
    ASSERT_GE(gap, 0.0);
    sum += gap;
  }
  EXPECT_NEAR(sum / n, 1.0 / 50, 0.02 / 50);  // sd of the mean: 0.3%
}

TEST(ManualClockDeathTest, NegativeAdvance) {
  ManualClock clock;
  EXPECT_DEATH(clock.Advance(-1), "ns must be >= 0");
}

TEST(ScenarioTest, NamesRoundTrip) {
  for (Scenario s : {Scenario::kSingleStream, Scenario::kOffline, Scenario::kServer}) {
    EXPECT_EQ(*ParseScenario(ScenarioName(s)), s);
  }
  EXPECT_THAT(ParseScenario("singlestream").status().ToString(),
              HasSubstr("expected SingleStream, Offline or Server"));
}

// --- Settings ---

TEST(TestSettingsTest, DefaultsAreValid) { EXPECT_TRUE(TestSettings().Validate().ok()); }

TEST(TestSettingsTest, EachBadFieldIsNamed) {
  struct Case {
    std::function<void(TestSettings&)> change;
    const char* field;
  };
  const Case cases[] = {
      {[](TestSettings& s) { s.min_query_count = -1; }, "min_query_count"},
      {[](TestSettings& s) { s.min_duration_s = -1; }, "min_duration_s"},
      {[](TestSettings& s) { s.max_duration_s = 0.5; }, "max_duration_s"},   // < min 1.0
      {[](TestSettings& s) { s.max_query_count = 10; }, "max_query_count"},  // < min 1024
      {[](TestSettings& s) { s.warmup_queries = -1; }, "warmup_queries"},
      {[](TestSettings& s) { s.target_latency_percentile = 100; }, "target_latency_percentile"},
      {[](TestSettings& s) { s.early_stopping_confidence = 1; }, "early_stopping_confidence"},
      {[](TestSettings& s) { s.offline_batch_size = 0; }, "offline_batch_size"},
      {[](TestSettings& s) { s.server_target_qps = 0; }, "server_target_qps"},
      {[](TestSettings& s) { s.server_latency_bound_ns = -5; }, "server_latency_bound_ns"},
      {[](TestSettings& s) { s.server_latency_percentile = 0; }, "server_latency_percentile"},
  };
  for (const Case& c : cases) {
    TestSettings s;
    c.change(s);
    const absl::Status status = s.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(status.ToString(), HasSubstr(absl::StrCat("TestSettings.", c.field, " is")));
  }
}

// --- SingleStream ---

TEST(SingleStreamTest, MinimumDurationDecidesWhenItIsLonger) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, Fixed1ms);
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, SingleStream(100, 0.5), clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->query_count, 500);  // 100 queries take 0.1 s; 0.5 s needs 500
  EXPECT_EQ(r->sample_count, 500);
  EXPECT_DOUBLE_EQ(r->duration_s, 0.5);
  EXPECT_EQ(sut.queries.size(), 503u);  // 3 untimed warmup queries first
  EXPECT_THAT(sut.queries[0], ElementsAre(0));
  EXPECT_THAT(sut.queries[2], ElementsAre(2));
  EXPECT_EQ(r->latency.p50_ns, kMs);
  EXPECT_EQ(r->latency.p99_ns, kMs);
  EXPECT_DOUBLE_EQ(r->queries_per_second, 1000);
  EXPECT_TRUE(r->valid) << r->ToString();
  EXPECT_TRUE(r->min_query_count_met && r->min_duration_met && r->early_stopping_met);
  EXPECT_EQ(r->early_stopping.latency_bound_ns, kMs);
  EXPECT_THAT(r->ToString(), HasSubstr("VALID"));
  // Loaded and unloaded exactly the performance samples.
  EXPECT_EQ(qsl.loaded.size(), 100u);
  EXPECT_EQ(qsl.unloaded, qsl.loaded);
}

TEST(SingleStreamTest, MinimumQueryCountDecidesWhenItIsLonger) {
  ManualClock clock;
  FakeQsl qsl(50, 50);
  FakeSut sut(&clock, Fixed1ms);
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, SingleStream(1000, 0.1), clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query_count, 1000);
  EXPECT_DOUBLE_EQ(r->duration_s, 1.0);
  EXPECT_TRUE(r->valid);
}

TEST(SingleStreamTest, PercentilesOfAKnownLatencyDistribution) {
  // Sample i takes (i + 1) us; 1000 queries over 100 samples are 10 full passes, so the
  // latencies are exactly 1..100 us, ten times each.
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, [](int64_t i) { return (i + 1) * kUs; });
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, SingleStream(1000, 0), clock);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->query_count, 1000);
  EXPECT_EQ(r->latency.min_ns, 1 * kUs);
  EXPECT_EQ(r->latency.p50_ns, 50 * kUs);
  EXPECT_EQ(r->latency.p90_ns, 90 * kUs);
  EXPECT_EQ(r->latency.p99_ns, 99 * kUs);
  EXPECT_EQ(r->latency.max_ns, 100 * kUs);
  EXPECT_DOUBLE_EQ(r->latency.mean_ns, 50.5 * kUs);
  // Early stopping: 78 of 1000 may be above the bound (stats_test), i.e. x_(922) = 93 us.
  EXPECT_EQ(r->early_stopping.latency_bound_ns, 93 * kUs);
}

TEST(SingleStreamTest, SameSeedSameQueryOrder) {
  auto order = [](uint64_t seed) {
    ManualClock clock;
    FakeQsl qsl(1000, 200);
    FakeSut sut(&clock, Fixed1ms);
    TestSettings s = SingleStream(500, 0);
    s.seed = seed;
    EXPECT_TRUE(RunPerformance(sut, qsl, s, clock).ok());
    return sut.queries;
  };
  const auto a = order(7), b = order(7), c = order(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Timed queries (after 3 warmups) visit each of the 200 performance samples once per pass.
  std::vector<int64_t> first_pass;
  for (int i = 3; i < 203; ++i) first_pass.push_back(a[i][0]);
  std::sort(first_pass.begin(), first_pass.end());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(first_pass[i], i);
}

TEST(SingleStreamTest, WarmupCountDoesNotChangeTheTimedOrder) {
  auto timed = [](int64_t warmup) {
    ManualClock clock;
    FakeQsl qsl(100, 100);
    FakeSut sut(&clock, Fixed1ms);
    TestSettings s = SingleStream(300, 0);
    s.warmup_queries = warmup;
    EXPECT_TRUE(RunPerformance(sut, qsl, s, clock).ok());
    return std::vector<std::vector<int64_t>>(sut.queries.begin() + warmup, sut.queries.end());
  };
  EXPECT_EQ(timed(0), timed(25));
}

TEST(SingleStreamTest, HittingTheDurationCapBeforeTheQueryMinimumIsInvalid) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, Fixed1ms);
  TestSettings s = SingleStream(1000, 0.1);
  s.max_duration_s = 0.5;
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, s, clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query_count, 500);
  EXPECT_FALSE(r->valid);
  EXPECT_FALSE(r->min_query_count_met);
  EXPECT_TRUE(r->min_duration_met);
  EXPECT_THAT(r->invalid_reasons, ElementsAre("too few queries: 500 < minimum 1000"));
}

TEST(SingleStreamTest, HittingTheQueryCapBeforeTheDurationMinimumIsInvalid) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, Fixed1ms);
  TestSettings s = SingleStream(100, 1.0);
  s.max_query_count = 200;
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, s, clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query_count, 200);
  EXPECT_FALSE(r->valid);
  EXPECT_TRUE(r->min_query_count_met);
  EXPECT_FALSE(r->min_duration_met);
  ASSERT_EQ(r->invalid_reasons.size(), 1u);
  EXPECT_THAT(r->invalid_reasons[0], HasSubstr("too short: 0.200 s < minimum 1.000 s"));
}

TEST(SingleStreamTest, TooFewQueriesForEarlyStoppingIsInvalid) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, Fixed1ms);
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, SingleStream(20, 0), clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query_count, 20);
  EXPECT_FALSE(r->valid);
  EXPECT_FALSE(r->early_stopping_met);
  ASSERT_EQ(r->invalid_reasons.size(), 1u);
  EXPECT_THAT(r->invalid_reasons[0], HasSubstr("20 queries cannot support a p90 claim"));
  EXPECT_THAT(r->invalid_reasons[0], HasSubstr("need >= 44"));
}

TEST(SingleStreamTest, BadQslOrSettings) {
  ManualClock clock;
  FakeSut sut(&clock, Fixed1ms);
  FakeQsl empty(0, 0);
  EXPECT_THAT(RunPerformance(sut, empty, SingleStream(10, 0), clock).status().ToString(),
              HasSubstr("has no samples"));
  FakeQsl too_many(10, 11);
  EXPECT_THAT(RunPerformance(sut, too_many, SingleStream(10, 0), clock).status().ToString(),
              HasSubstr("performance sample count 11 is outside [1, 10]"));
  FakeQsl ok(10, 10);
  TestSettings bad = SingleStream(10, 0);
  bad.warmup_queries = -2;
  EXPECT_THAT(RunPerformance(sut, ok, bad, clock).status().ToString(),
              HasSubstr("TestSettings.warmup_queries is -2"));
}

// --- Offline ---

TEST(OfflineTest, BatchesUntilTheSampleMinimum) {
  ManualClock clock;
  FakeQsl qsl(1000, 1000);
  FakeSut sut(&clock, [](int64_t) { return 10 * kUs; });
  TestSettings s;
  s.scenario = Scenario::kOffline;
  s.offline_batch_size = 64;
  s.offline_min_sample_count = 5000;
  s.min_duration_s = 0;
  s.warmup_queries = 1;
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, s, clock);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->query_count, 79);  // ceil(5000 / 64) batches
  EXPECT_EQ(r->sample_count, 79 * 64);
  EXPECT_NEAR(r->samples_per_second, 100000, 1e-6);  // 10 us per sample
  EXPECT_EQ(r->latency.p50_ns, 64 * 10 * kUs);       // per batch
  EXPECT_TRUE(r->valid) << r->ToString();
  EXPECT_FALSE(r->early_stopping.claim_possible);  // not used offline
  EXPECT_THAT(r->ToString(), HasSubstr("throughput 1e+05 samples/s"));
  for (const auto& q : sut.queries) EXPECT_EQ(q.size(), 64u);
  // The first 15 timed batches (960 samples) hold no sample twice (one pass is 1000).
  std::vector<int64_t> seen;
  for (int b = 1; b <= 15; ++b)
    seen.insert(seen.end(), sut.queries[b].begin(), sut.queries[b].end());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
}

TEST(OfflineTest, MinimumDurationRepeatsPasses) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, [](int64_t) { return 1 * kMs; });
  TestSettings s;
  s.scenario = Scenario::kOffline;
  s.offline_batch_size = 1000;  // larger than the data: one batch is one pass of 100
  s.offline_min_sample_count = 100;
  s.min_duration_s = 1.0;
  s.warmup_queries = 0;
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, s, clock);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query_count, 10);  // 10 passes of 0.1 s
  EXPECT_EQ(r->sample_count, 1000);
  EXPECT_TRUE(r->valid);
}

// --- Server ---

TestSettings Server(double qps, double bound_ms, int64_t queries) {
  TestSettings s;
  s.scenario = Scenario::kServer;
  s.server_target_qps = qps;
  s.server_latency_bound_ns = bound_ms * kMs;
  s.min_query_count = queries;
  s.min_duration_s = 0;
  s.max_duration_s = 1e6;  // simulated time
  s.warmup_queries = 0;
  return s;
}

TEST(ServerTest, QueriesQueueBehindEachOther) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, [](int64_t) { return 5 * kMs; });  // 50% load at 100 QPS
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, Server(100, 50, 2000), clock);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->query_count, 2000);
  // Lindley's recursion, from what the SUT saw: a query starts at its arrival or when the
  // previous one finished, whichever is later; its latency runs from its arrival.
  std::vector<int64_t> arrivals;
  for (size_t i = 0; i < sut.starts.size(); ++i) {
    const int64_t arrival = sut.finishes[i] - static_cast<int64_t>(r->latencies_ns[i]);
    arrivals.push_back(arrival);
    const int64_t previous_finish = i == 0 ? arrival : sut.finishes[i - 1];
    EXPECT_EQ(sut.starts[i], std::max(arrival, previous_finish)) << i;
  }
  // Poisson arrivals at 100/s: mean gap 10 ms (sd of the mean over 2000: 0.22 ms).
  const double mean_gap = static_cast<double>(arrivals.back() - arrivals.front()) / 1999;
  EXPECT_NEAR(mean_gap, 10.0 * kMs, 1.0 * kMs);
  EXPECT_EQ(r->latency.min_ns, 5 * kMs);
  EXPECT_GT(r->latency.p99_ns, 5 * kMs);  // some queries waited
  EXPECT_TRUE(r->valid) << r->ToString();
}

TEST(ServerTest, OverloadBreaksTheLatencyBound) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, [](int64_t) { return 15 * kMs; });  // 150% load: the queue grows
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, Server(100, 50, 600), clock);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->valid);
  EXPECT_FALSE(r->latency_bound_met);
  EXPECT_GT(r->overlatency_count, 300);
  ASSERT_EQ(r->invalid_reasons.size(), 1u);
  EXPECT_THAT(r->invalid_reasons[0], HasSubstr("latency bound"));
  EXPECT_GT(r->latency.p99_ns, 1000 * kMs);
}

TEST(ServerTest, OverlatencyIsCountedAgainstTheBound) {
  ManualClock clock;
  FakeQsl qsl(100, 100);
  FakeSut sut(&clock, [](int64_t) { return 5 * kMs; });
  absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, Server(100, 6, 1000), clock);
  ASSERT_TRUE(r.ok());
  const int64_t above = std::count_if(r->latencies_ns.begin(), r->latencies_ns.end(),
                                      [](double l) { return l > 6 * kMs; });
  EXPECT_EQ(r->overlatency_count, above);
  EXPECT_GT(above, 0);
  EXPECT_EQ(r->latency_bound_met, CanClaimPercentile(1000, above, 99, 0.99));
}

// --- The real clock: structure only, no timing asserts ---

class SpinSut : public SystemUnderTest {
 public:
  std::string Name() const override { return "spin"; }
  void Issue(const std::vector<int64_t>& samples) override {
    const int64_t until = SteadyClock().NowNs() + 20 * kUs * static_cast<int64_t>(samples.size());
    while (SteadyClock().NowNs() < until) {
    }
    issued += static_cast<int64_t>(samples.size());
  }
  int64_t issued = 0;
};

TEST(SteadyClockTest, AllScenariosRunOnTheRealClock) {
  for (Scenario scenario : {Scenario::kSingleStream, Scenario::kOffline, Scenario::kServer}) {
    FakeQsl qsl(100, 100);
    SpinSut sut;
    TestSettings s;
    s.scenario = scenario;
    s.min_query_count = 50;
    s.offline_min_sample_count = 200;
    s.offline_batch_size = 20;
    s.min_duration_s = 0.01;
    s.warmup_queries = 2;
    s.server_target_qps = 5000;
    s.server_latency_bound_ns = 1e9;
    absl::StatusOr<PerformanceResult> r = RunPerformance(sut, qsl, s);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(r->duration_s, 0.01) << ScenarioName(scenario);
    EXPECT_GE(scenario == Scenario::kOffline ? r->sample_count : r->query_count,
              scenario == Scenario::kOffline ? 200 : 50);
    EXPECT_EQ(static_cast<int64_t>(r->latencies_ns.size()), r->query_count);
    EXPECT_GT(r->latency.min_ns, 0);
    EXPECT_GT(r->end_unix_ms, 0);
    EXPECT_LE(r->start_unix_ms, r->end_unix_ms);
    EXPECT_TRUE(r->min_query_count_met && r->min_duration_met) << r->ToString();
  }
}

TEST(SteadyClockTest, SleepUntilReturnsNoEarlierThanAsked) {
  Clock& clock = SteadyClock();
  for (int64_t wait : {int64_t{0}, 50 * kUs, 500 * kUs}) {
    const int64_t target = clock.NowNs() + wait;
    clock.SleepUntilNs(target);
    EXPECT_GE(clock.NowNs(), target);
  }
}

// --- Accuracy mode ---

TEST(AccuracyTest, EverySampleOnceInOrder) {
  ManualClock clock;
  FakeQsl qsl(10, 4);
  FakeSut sut(&clock, Fixed1ms);
  ASSERT_TRUE(RunAccuracy(sut, qsl, 4).ok());
  ASSERT_EQ(sut.queries.size(), 3u);
  EXPECT_THAT(sut.queries[0], ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(sut.queries[2], ElementsAre(8, 9));
  EXPECT_EQ(qsl.loaded.size(), 10u);  // all of them, not just the performance set
  EXPECT_THAT(RunAccuracy(sut, qsl, 0).ToString(), HasSubstr("batch_size must be >= 1"));
}

}  // namespace
}  // namespace tt::bench
