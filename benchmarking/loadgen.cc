#include "benchmarking/loadgen.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tensor/check.h"

namespace tt::bench {
namespace {

class SteadyClockImpl : public Clock {
 public:
  int64_t NowNs() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void SleepUntilNs(int64_t t) override {
    // Sleeping is only accurate to a scheduler tick or so: sleep until shortly before
    // `t`, then spin the last stretch.
    constexpr int64_t kSpinNs = 100'000;
    const int64_t remaining = t - NowNs();
    if (remaining > 2 * kSpinNs) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(remaining - kSpinNs));
    }
    while (NowNs() < t) {
    }
  }
};

absl::Status Invalid(absl::string_view field, double value, absl::string_view requirement) {
  return absl::InvalidArgumentError(
      absl::StrCat("TestSettings.", field, " is ", value, ": ", requirement));
}

bool Finite(double v) { return std::isfinite(v); }

double Seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }

}  // namespace

Clock& SteadyClock() {
  static SteadyClockImpl* clock = new SteadyClockImpl();  // never destroyed
  return *clock;
}

void ManualClock::SleepUntilNs(int64_t t) { now_ns_ = std::max(now_ns_, t); }

void ManualClock::Advance(int64_t ns) {
  TT_CHECK(ns >= 0, "ManualClock::Advance: ns must be >= 0, got ", ns);
  now_ns_ += ns;
}

// --- SampleSequence ------------------------------------------------------------------

SampleSequence::SampleSequence(uint64_t seed, int64_t n) : rng_(seed), position_(0) {
  TT_CHECK(n >= 1, "SampleSequence: n must be >= 1, got ", n);
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  position_ = order_.size();  // shuffle on the first Next()
}

uint64_t SampleSequence::Bounded(uint64_t m) {
  // 2^64 mod m, computed in 64 bits as (2^64 - m) mod m. Outputs below it would make
  // the low residues slightly more likely; they are redrawn (rarely: < m / 2^64).
  const uint64_t threshold = (0 - m) % m;
  uint64_t x = rng_();
  while (x < threshold) x = rng_();
  return x % m;
}

int64_t SampleSequence::Next() {
  if (position_ == order_.size()) {
    // Fisher-Yates: position i swaps with a uniform j in [0, i].
    for (size_t i = order_.size() - 1; i > 0; --i) {
      std::swap(order_[i], order_[static_cast<size_t>(Bounded(i + 1))]);
    }
    position_ = 0;
  }
  return order_[position_++];
}

double SampleSequence::NextExponential(double rate) {
  TT_CHECK(rate > 0.0 && std::isfinite(rate), "NextExponential: rate must be > 0, got ", rate);
  const double u = static_cast<double>((rng_() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  return -std::log(u) / rate;
}

// --- Scenario and settings ------------------------------------------------------------

const char* ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kSingleStream:
      return "SingleStream";
    case Scenario::kOffline:
      return "Offline";
    case Scenario::kServer:
      return "Server";
  }
  return "?";
}

absl::StatusOr<Scenario> ParseScenario(absl::string_view name) {
  for (Scenario s : {Scenario::kSingleStream, Scenario::kOffline, Scenario::kServer}) {
    if (name == ScenarioName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scenario '", name, "' (expected SingleStream, Offline or Server)"));
}

absl::Status TestSettings::Validate() const {
  if (min_query_count < 0) return Invalid("min_query_count", min_query_count, "must be >= 0");
  if (!Finite(min_duration_s) || min_duration_s < 0) {
    return Invalid("min_duration_s", min_duration_s, "must be finite and >= 0");
  }
  if (max_query_count < 0) {
    return Invalid("max_query_count", max_query_count, "must be >= 0 (0: no cap)");
  }
  if (!Finite(max_duration_s) || max_duration_s <= 0) {
    return Invalid("max_duration_s", max_duration_s, "must be finite and > 0");
  }
  if (max_duration_s < min_duration_s) {
    return Invalid("max_duration_s", max_duration_s,
                   absl::StrCat("must be >= min_duration_s (", min_duration_s, ")"));
  }
  if (max_query_count > 0 && max_query_count < min_query_count) {
    return Invalid("max_query_count", max_query_count,
                   absl::StrCat("must be 0 or >= min_query_count (", min_query_count, ")"));
  }
  if (warmup_queries < 0) return Invalid("warmup_queries", warmup_queries, "must be >= 0");
  if (!(target_latency_percentile > 0 && target_latency_percentile < 100)) {
    return Invalid("target_latency_percentile", target_latency_percentile, "must be in (0, 100)");
  }
  if (!(early_stopping_confidence > 0 && early_stopping_confidence < 1)) {
    return Invalid("early_stopping_confidence", early_stopping_confidence, "must be in (0, 1)");
  }
  if (offline_batch_size < 1) {
    return Invalid("offline_batch_size", offline_batch_size, "must be >= 1");
  }
  if (offline_min_sample_count < 0) {
    return Invalid("offline_min_sample_count", offline_min_sample_count, "must be >= 0");
  }
  if (!Finite(server_target_qps) || server_target_qps <= 0) {
    return Invalid("server_target_qps", server_target_qps, "must be finite and > 0");
  }
  if (!Finite(server_latency_bound_ns) || server_latency_bound_ns <= 0) {
    return Invalid("server_latency_bound_ns", server_latency_bound_ns, "must be finite and > 0");
  }
  if (!(server_latency_percentile > 0 && server_latency_percentile < 100)) {
    return Invalid("server_latency_percentile", server_latency_percentile, "must be in (0, 100)");
  }
  return absl::OkStatus();
}

// --- The run ---------------------------------------------------------------------------

namespace {

// The stopping rule shared by the scenarios: `done` counts queries (samples in Offline).
struct StopRule {
  int64_t min_count;
  int64_t min_ns;
  int64_t max_queries;  // 0: none
  int64_t max_ns;

  bool MinimumsMet(int64_t count, int64_t elapsed_ns) const {
    return count >= min_count && elapsed_ns >= min_ns;
  }
  bool CapHit(int64_t queries, int64_t elapsed_ns) const {
    return (max_queries > 0 && queries >= max_queries) || elapsed_ns >= max_ns;
  }
};

int64_t ToNs(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1e9)); }

// Finishes `r` from its latencies, counts and settings: statistics and validity.
absl::Status Finish(PerformanceResult& r) {
  const TestSettings& s = r.settings;
  if (!r.latencies_ns.empty()) {
    TT_ASSIGN_OR_RETURN(r.latency, ComputeLatencyStats(r.latencies_ns));
  }
  r.samples_per_second = r.duration_s > 0 ? static_cast<double>(r.sample_count) / r.duration_s : 0;
  r.queries_per_second = r.duration_s > 0 ? static_cast<double>(r.query_count) / r.duration_s : 0;

  std::vector<double> sorted = r.latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  r.min_duration_met = r.duration_s >= s.min_duration_s;
  r.early_stopping_met = true;
  r.latency_bound_met = true;
  switch (r.scenario) {
    case Scenario::kSingleStream:
      r.min_query_count_met = r.query_count >= s.min_query_count;
      r.early_stopping =
          EarlyStoppingEstimate(sorted, s.target_latency_percentile, s.early_stopping_confidence);
      r.early_stopping_met = r.early_stopping.claim_possible;
      break;
    case Scenario::kOffline:
      r.min_query_count_met = r.sample_count >= s.offline_min_sample_count;
      break;
    case Scenario::kServer:
      r.min_query_count_met = r.query_count >= s.min_query_count;
      r.early_stopping =
          EarlyStoppingEstimate(sorted, s.server_latency_percentile, s.early_stopping_confidence);
      r.early_stopping_met = r.early_stopping.claim_possible;
      r.overlatency_count = static_cast<int64_t>(
          sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), s.server_latency_bound_ns));
      r.latency_bound_met =
          CanClaimPercentile(r.query_count, r.overlatency_count, s.server_latency_percentile,
                             s.early_stopping_confidence);
      break;
  }

  auto& why = r.invalid_reasons;
  if (!r.min_query_count_met) {
    why.push_back(
        r.scenario == Scenario::kOffline
            ? absl::StrCat("too few samples: ", r.sample_count, " < minimum ",
                           s.offline_min_sample_count)
            : absl::StrCat("too few queries: ", r.query_count, " < minimum ", s.min_query_count));
  }
  if (!r.min_duration_met) {
    why.push_back(
        absl::StrFormat("too short: %.3f s < minimum %.3f s", r.duration_s, s.min_duration_s));
  }
  if (!r.early_stopping_met) {
    why.push_back(absl::StrFormat(
        "early stopping: %d queries cannot support a p%g claim at %g%% confidence (need >= %d)",
        r.query_count, r.early_stopping.percentile, 100 * r.early_stopping.confidence,
        r.early_stopping.min_queries));
  }
  if (!r.latency_bound_met) {
    why.push_back(absl::StrFormat(
        "latency bound: %d of %d queries above %s; cannot claim p%g <= bound at %g%% confidence",
        r.overlatency_count, r.query_count, tt::prof::FormatDuration(s.server_latency_bound_ns),
        s.server_latency_percentile, 100 * s.early_stopping_confidence));
  }
  r.valid = why.empty();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PerformanceResult> RunPerformance(SystemUnderTest& sut, QuerySampleLibrary& qsl,
                                                 const TestSettings& settings, Clock& clock) {
  TT_RETURN_IF_ERROR(settings.Validate());
  const int64_t total = qsl.TotalSampleCount();
  const int64_t perf_count = qsl.PerformanceSampleCount();
  if (total < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("query sample library '", qsl.Name(), "' has no samples"));
  }
  if (perf_count < 1 || perf_count > total) {
    return absl::InvalidArgumentError(absl::StrCat("query sample library '", qsl.Name(),
                                                   "': performance sample count ", perf_count,
                                                   " is outside [1, ", total, "]"));
  }

  PerformanceResult r;
  r.scenario = settings.scenario;
  r.sut_name = sut.Name();
  r.qsl_name = qsl.Name();
  r.settings = settings;
  r.performance_sample_count = perf_count;

  std::vector<int64_t> loaded(static_cast<size_t>(perf_count));
  std::iota(loaded.begin(), loaded.end(), int64_t{0});
  qsl.LoadSamplesToRam(loaded);

  const bool offline = settings.scenario == Scenario::kOffline;
  const int64_t per_query = offline ? std::min(settings.offline_batch_size, perf_count) : 1;
  // Warmup: samples 0, 1, 2, ... in order, untimed.
  for (int64_t q = 0, next = 0; q < settings.warmup_queries; ++q) {
    std::vector<int64_t> batch(static_cast<size_t>(per_query));
    for (int64_t& index : batch) index = (next++) % perf_count;
    sut.Issue(batch);
  }

  StopRule rule;
  rule.min_count = offline ? settings.offline_min_sample_count : settings.min_query_count;
  rule.min_ns = ToNs(settings.min_duration_s);
  rule.max_queries = settings.max_query_count;
  rule.max_ns = ToNs(settings.max_duration_s);

  SampleSequence sequence(settings.seed, perf_count);
  tt::prof::LoadMonitor monitor;
  monitor.Start();
  r.start_unix_ms = absl::ToUnixMillis(absl::Now());
  std::vector<int64_t> batch;
  const int64_t t0 = clock.NowNs();
  int64_t first_start = -1;
  int64_t last_end = t0;
  int64_t arrival = t0;  // Server: the scheduled arrival of the current query
  while (true) {
    batch.clear();
    for (int64_t i = 0; i < per_query; ++i) batch.push_back(sequence.Next());
    int64_t from;  // latency is measured from here
    if (settings.scenario == Scenario::kServer) {
      arrival += ToNs(sequence.NextExponential(settings.server_target_qps));
      clock.SleepUntilNs(arrival);  // returns at once if the SUT is behind
      from = arrival;
    } else {
      from = clock.NowNs();
    }
    if (first_start < 0) first_start = from;
    sut.Issue(batch);
    last_end = clock.NowNs();
    r.latencies_ns.push_back(static_cast<double>(last_end - from));
    ++r.query_count;
    r.sample_count += per_query;
    const int64_t elapsed = last_end - first_start;
    const int64_t count = offline ? r.sample_count : r.query_count;
    if (rule.MinimumsMet(count, elapsed) || rule.CapHit(r.query_count, elapsed)) break;
  }
  r.duration_s = Seconds(last_end - first_start);
  r.end_unix_ms = absl::ToUnixMillis(absl::Now());
  r.load = monitor.Stop();
  qsl.UnloadSamplesFromRam(loaded);

  TT_RETURN_IF_ERROR(Finish(r));
  return r;
}

absl::Status RunAccuracy(SystemUnderTest& sut, QuerySampleLibrary& qsl, int64_t batch_size) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunAccuracy: batch_size must be >= 1, got ", batch_size));
  }
  const int64_t total = qsl.TotalSampleCount();
  if (total < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("query sample library '", qsl.Name(), "' has no samples"));
  }
  std::vector<int64_t> all(static_cast<size_t>(total));
  std::iota(all.begin(), all.end(), int64_t{0});
  qsl.LoadSamplesToRam(all);
  for (int64_t begin = 0; begin < total; begin += batch_size) {
    const int64_t end = std::min(total, begin + batch_size);
    sut.Issue(std::vector<int64_t>(all.begin() + begin, all.begin() + end));
  }
  qsl.UnloadSamplesFromRam(all);
  return absl::OkStatus();
}

std::string PerformanceResult::ToString() const {
  using tt::prof::FormatDuration;
  std::string out =
      absl::StrFormat("%s on %s (%s): %d queries, %d samples in %.3f s\n", ScenarioName(scenario),
                      sut_name, qsl_name, query_count, sample_count, duration_s);
  if (scenario == Scenario::kOffline) {
    absl::StrAppendFormat(&out, "  throughput %.4g samples/s (batch %d)\n", samples_per_second,
                          std::min<int64_t>(settings.offline_batch_size, performance_sample_count));
  } else if (query_count > 0) {
    absl::StrAppendFormat(&out, "  latency p50 %s, p90 %s, p99 %s, mean %s\n",
                          FormatDuration(latency.p50_ns), FormatDuration(latency.p90_ns),
                          FormatDuration(latency.p99_ns), FormatDuration(latency.mean_ns));
    if (early_stopping.claim_possible) {
      absl::StrAppendFormat(&out, "  early stopping: with %g%% confidence p%g <= %s\n",
                            100 * early_stopping.confidence, early_stopping.percentile,
                            FormatDuration(early_stopping.latency_bound_ns));
    }
    if (scenario == Scenario::kServer) {
      absl::StrAppendFormat(&out, "  %.4g queries/s at target %.4g; %d above the %s bound\n",
                            queries_per_second, settings.server_target_qps, overlatency_count,
                            FormatDuration(settings.server_latency_bound_ns));
    }
  }
  absl::StrAppend(&out, "  ", valid ? "VALID" : "INVALID");
  for (const std::string& why : invalid_reasons) absl::StrAppend(&out, "; ", why);
  absl::StrAppend(&out, "\n  machine: ", load.ToString(), "\n");
  return out;
}

}  // namespace tt::bench
