// TinyMLPerf's load generator: how queries reach a system under test, and what counts as
// a valid performance run. Modelled on MLPerf LoadGen (its ideas, not its code).
//
// A benchmark separates three things:
//   - the QuerySampleLibrary (QSL): the data set, N samples addressed by index. Loading
//     samples into memory happens before timing starts (LoadSamplesToRam) and is never
//     timed: the benchmark measures inference, not disk reads or decoding.
//   - the SystemUnderTest (SUT): a model plus everything done to make it fast (backend,
//     quantization, pruning, caching, threads). Issue(indices) runs inference on those
//     samples and returns when it is done.
//   - the load generator (this file): which samples are asked for, when, and how many;
//     it times every query and decides whether the run is long enough to be trusted.
//
//   MyQsl qsl(test_set);                  // : QuerySampleLibrary
//   MySut sut(model);                     // : SystemUnderTest
//   TestSettings settings;                // SingleStream, 1024 queries and 1 s minimum
//   TT_ASSIGN_OR_RETURN(PerformanceResult r, RunPerformance(sut, qsl, settings));
//   printf("p90 %s, early-stopping p90 %s, %s\n", ..., r.valid ? "VALID" : "INVALID");
//
// Scenarios (Scenario):
//   SingleStream: one sample per query, each issued as soon as the previous one returns
//     (a phone classifying one photo at a time). Metric: latency percentiles, headline
//     p90, stated with early stopping (stats.h). Valid when the run met BOTH the minimum
//     query count and the minimum duration, and had enough queries for the
//     early-stopping claim.
//   Offline: every sample available at once (a batch job over a data set); the harness
//     issues them in batches of offline_batch_size, repeating passes over the data until
//     the minimum sample count and duration are met. Metric: throughput in samples/s.
//   Server: queries arrive at random (a Poisson process at server_target_qps) whether or
//     not the SUT is busy; a query's latency includes its wait in the queue. Valid when,
//     with early-stopping confidence, the p99 (server_latency_percentile) is within
//     server_latency_bound_ns. This is a single-threaded SIMULATION: the harness waits
//     for each arrival time, and a query that arrives while the SUT is still busy starts
//     when the previous one finishes (one server, first come first served: an M/G/1
//     queue). It models a SUT that serves one query at a time; it cannot show the
//     benefit of overlapping queries on several cores. Arrival times come from the
//     seeded generator, never from when the SUT finishes, so a slow SUT falls behind
//     and its queueing latency grows, as in the real thing.
//
// Reproducibility: the sample order comes from SampleSequence, a seeded generator whose
// output is specified here bit for bit (std::mt19937_64 is standardized; the bounded and
// exponential draws are written out rather than taken from <random>'s distributions,
// whose results differ between standard libraries). The same seed gives the same query
// order on every machine.
//
// Timing: the Clock interface, by default SteadyClock() (std::chrono::steady_clock, the
// clock of tt::prof's Timer). Tests pass a ManualClock that only moves when told to, so
// scenario logic is tested without a single timing assertion.
#ifndef TT_BENCHMARKING_LOADGEN_H_
#define TT_BENCHMARKING_LOADGEN_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarking/stats.h"
#include "profiling/timer.h"

namespace tt::bench {

// --- The seams --------------------------------------------------------------------

// The samples of a task's data set, by index 0..TotalSampleCount()-1.
class QuerySampleLibrary {
 public:
  virtual ~QuerySampleLibrary() = default;
  virtual std::string Name() const = 0;
  // Samples in the data set (accuracy mode visits every one).
  virtual int64_t TotalSampleCount() const = 0;
  // Performance mode draws only from indices [0, PerformanceSampleCount()): the samples
  // that fit in memory together (MLPerf's "performance sample count"). 1 <= it <= total.
  virtual int64_t PerformanceSampleCount() const { return TotalSampleCount(); }
  // Untimed: make these samples ready for Issue (decode, copy to tensors). Called once
  // before a run with the indices the run may use; UnloadSamplesFromRam after it.
  virtual void LoadSamplesToRam(const std::vector<int64_t>& /*indices*/) {}
  virtual void UnloadSamplesFromRam(const std::vector<int64_t>& /*indices*/) {}
};

// A model and its optimizations. Issue is the only timed call.
class SystemUnderTest {
 public:
  virtual ~SystemUnderTest() = default;
  virtual std::string Name() const = 0;
  // Runs inference on these samples (one query: one sample in SingleStream and Server,
  // a batch in Offline) synchronously: returns when every result is computed. Where the
  // results go is the SUT's business (accuracy mode reads them back from the SUT).
  // Indices are valid for the QSL the run was given.
  virtual void Issue(const std::vector<int64_t>& sample_indices) = 0;
};

// --- Time --------------------------------------------------------------------------

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since an arbitrary fixed origin; never decreases.
  virtual int64_t NowNs() = 0;
  // Returns once NowNs() >= t (at once if it already is).
  virtual void SleepUntilNs(int64_t t) = 0;
};

// std::chrono::steady_clock (monotonic; the profiling Timer's clock). SleepUntilNs sleeps
// until about 100 us before `t`, then spins, so Server arrivals are issued within
// microseconds of their time rather than a scheduler tick late.
Clock& SteadyClock();

// A clock that moves only when told to: Advance(ns) (e.g. from a fake SUT's Issue) and
// SleepUntilNs, which jumps to `t`. Deterministic, for tests. A run ends by its minimums
// or its caps, all measured on this clock: a SUT that never advances it needs
// min_duration_s = 0 or a max_query_count, or the run never ends.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 0) : now_ns_(start_ns) {}
  int64_t NowNs() override { return now_ns_; }
  void SleepUntilNs(int64_t t) override;
  void Advance(int64_t ns);  // ns >= 0 (TT_CHECK)

 private:
  int64_t now_ns_;
};

// --- Reproducible randomness --------------------------------------------------------

// The sample order of a run: passes over [0, n), each a fresh Fisher-Yates shuffle, so
// every sample is used equally often (within one) and no sample twice before all have
// been used once. Draws are from std::mt19937_64(seed) with
//   bounded(m) = x mod m for the first 64-bit output x >= 2^64 mod m  (rejection, so that
//                every residue is equally likely),
//   uniform01  = ((x >> 11) + 1) * 2^-53, in (0, 1],
// so the sequence is the same on every platform.
class SampleSequence {
 public:
  SampleSequence(uint64_t seed, int64_t n);  // n >= 1 (TT_CHECK)
  int64_t Next();
  // Seconds to the next arrival of a Poisson process at `rate` per second: -ln(u)/rate,
  // u = uniform01 (exponentially distributed; mean 1/rate). rate > 0 (TT_CHECK).
  double NextExponential(double rate);

 private:
  uint64_t Bounded(uint64_t m);
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  size_t position_;
};

// --- Settings and results -------------------------------------------------------------

enum class Scenario { kSingleStream, kOffline, kServer };

// "SingleStream", "Offline", "Server".
const char* ScenarioName(Scenario scenario);
// The inverse of ScenarioName (case-sensitive); InvalidArgument listing the names.
absl::StatusOr<Scenario> ParseScenario(absl::string_view name);

// What a performance run does. The defaults suit a classroom: about a second per run.
// (MLPerf's own minimums are 600 s and many thousands of queries; the statistics below
// make honest claims at any length, they only get tighter with more queries.)
struct TestSettings {
  Scenario scenario = Scenario::kSingleStream;
  // Seeds the sample order (and Server arrival times). Recorded in the result.
  uint64_t seed = 20240101;

  // A run stops once it has issued at least min_query_count queries AND run for at least
  // min_duration_s (measured from the first issue to the last completion), or when it
  // hits a hard cap: max_query_count (0: none) or max_duration_s. Stopping at a cap
  // before both minimums are met makes the run INVALID (with the reason).
  // The rule is checked after every query, so a run ends within one query of it.
  // Offline's minimum counts samples (offline_min_sample_count) instead of queries, and
  // its queries are batches: max_query_count caps batches. A batch may straddle two
  // passes over the data (the last batch of a pass takes the next pass's first samples).
  int64_t min_query_count = 1024;
  double min_duration_s = 1.0;
  int64_t max_query_count = 0;
  double max_duration_s = 60.0;

  // Untimed queries issued first (caches, lazy allocation, CPU frequency): samples
  // 0, 1, 2, ... (mod the performance sample count), one per query (a batch in Offline).
  // They do not draw from the seeded sequence, so the timed order does not depend on
  // how many there are.
  int64_t warmup_queries = 10;

  // SingleStream (and Server): the percentile and confidence of the early-stopping claim.
  double target_latency_percentile = 90.0;
  double early_stopping_confidence = 0.99;

  // Offline: samples per issued batch, and the minimum samples in the run.
  int64_t offline_batch_size = 256;
  int64_t offline_min_sample_count = 1024;

  // Server: Poisson arrival rate, the latency bound and the percentile it applies to.
  double server_target_qps = 100.0;
  double server_latency_bound_ns = 10e6;  // 10 ms
  double server_latency_percentile = 99.0;

  // InvalidArgument naming the field and its value for anything out of range (negative
  // counts or times, non-finite values, percentiles outside (0, 100), a confidence
  // outside (0, 1), max below min, a non-positive batch size, rate or bound).
  absl::Status Validate() const;
};

// Everything a performance run measured.
struct PerformanceResult {
  Scenario scenario = Scenario::kSingleStream;
  std::string sut_name;
  std::string qsl_name;
  TestSettings settings;
  int64_t performance_sample_count = 0;

  int64_t query_count = 0;   // timed queries (warmup excluded)
  int64_t sample_count = 0;  // timed samples (= query_count except in Offline)
  double duration_s = 0.0;   // first timed issue to last completion
  double samples_per_second = 0.0;
  double queries_per_second = 0.0;

  // Per query, in issue order: the time from issue (Server: from the scheduled
  // arrival) to completion. Offline: one per batch.
  std::vector<double> latencies_ns;
  LatencyStats latency;  // of latencies_ns
  // SingleStream: at target_latency_percentile; Server: at server_latency_percentile.
  // Offline: not computed (queries == 0).
  EarlyStopping early_stopping;

  // Server only: queries whose latency exceeded server_latency_bound_ns.
  int64_t overlatency_count = 0;

  // Validity. Each flag is true when met or not applicable to the scenario.
  bool min_query_count_met = false;  // Offline: offline_min_sample_count samples
  bool min_duration_met = false;
  bool early_stopping_met = false;           // SingleStream: a claim at the stated confidence
  bool latency_bound_met = false;            // Server: CanClaimPercentile(bound)
  bool valid = false;                        // all of the above
  std::vector<std::string> invalid_reasons;  // one sentence per failed flag

  // Wall-clock time (Unix epoch, ms) around the timed part, for the record; and how busy
  // the machine was meanwhile (tt::prof::LoadMonitor).
  int64_t start_unix_ms = 0;
  int64_t end_unix_ms = 0;
  tt::prof::MachineLoad load;

  // A few lines: scenario, counts, duration, the headline metric and validity.
  std::string ToString() const;
};

// A performance run: loads the performance samples (untimed), warms up, issues timed
// queries per `settings.scenario` until the stopping rule is met, then unloads.
// InvalidArgument for bad settings or a QSL with no samples (or a performance sample
// count outside [1, total]). `clock` must outlive the call.
absl::StatusOr<PerformanceResult> RunPerformance(SystemUnderTest& sut, QuerySampleLibrary& qsl,
                                                 const TestSettings& settings,
                                                 Clock& clock = SteadyClock());

// Accuracy mode: every sample of the QSL, 0..total-1 in order, issued once in batches of
// `batch_size` (untimed). The caller then reads the SUT's outputs and scores them.
// InvalidArgument for batch_size < 1 or an empty QSL.
absl::Status RunAccuracy(SystemUnderTest& sut, QuerySampleLibrary& qsl, int64_t batch_size);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_LOADGEN_H_
