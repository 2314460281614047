// Benchmarks of the timer itself: what one sample costs, what the statistics cost, and
// how precise Measure gets on a 1 ms workload on this machine.
//
//   bazel run //profiling:timer_benchmark
//   bazel run //profiling:timer_benchmark -- --benchmark_filter=Measure1ms
//
// BM_Measure1ms runs one whole Measure per benchmark iteration (Iterations(1)); its
// figures are the counters: runs taken, the median, the relative width of the median's
// 95% CI, and the machine load. Arg = target_rel_ci in percent (0 = defaults only).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "profiling/statistics.h"
#include "profiling/timer.h"

namespace tt::prof {
namespace {

using Clock = std::chrono::steady_clock;

// What Measure does around each call: two clock reads and storing the difference.
void BM_SampleBookkeeping(benchmark::State& state) {
  std::vector<double> samples;
  samples.reserve(1 << 16);
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point t1 = Clock::now();
    if (samples.size() == samples.capacity()) samples.clear();
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  KeepAlive(samples.data());
}
BENCHMARK(BM_SampleBookkeeping);

// MeasureTimerOverheadNs's own estimate of the same cost, as a counter.
void BM_TimerOverheadEstimate(benchmark::State& state) {
  double ns = 0.0;
  for (auto _ : state) ns = MeasureTimerOverheadNs();
  state.counters["overhead_ns"] = ns;
}
BENCHMARK(BM_TimerOverheadEstimate)->Unit(benchmark::kMillisecond);

std::vector<double> FakeTimings(int n) {
  std::vector<double> x(n);
  uint64_t state = 1;
  for (double& v : x) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    v = 1000.0 + static_cast<double>(state >> 54);  // 1000 .. 2023 ns
  }
  return x;
}

void BM_Percentile(benchmark::State& state) {
  std::vector<double> x = FakeTimings(1000);
  std::sort(x.begin(), x.end());
  for (auto _ : state) benchmark::DoNotOptimize(Percentile(x, 99.0));
}
BENCHMARK(BM_Percentile);

void BM_MedianConfidenceInterval(benchmark::State& state) {
  std::vector<double> x = FakeTimings(1000);
  std::sort(x.begin(), x.end());
  for (auto _ : state) benchmark::DoNotOptimize(MedianConfidenceInterval(x, 0.95));
}
BENCHMARK(BM_MedianConfidenceInterval);

void BM_Summarize(benchmark::State& state) {
  const std::vector<double> x = FakeTimings(1000);
  for (auto _ : state) {
    absl::StatusOr<Summary> s = Summarize(x);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Summarize)->Unit(benchmark::kMicrosecond);

// About 1 ms of dependent integer arithmetic (a 64-bit LCG chain: one multiply and one
// add per step, about 4 cycles) that no compiler can shorten: fixed work, no clock reads.
void OneMillisecondOfArithmetic() {
  uint64_t x = 1;
  for (int i = 0; i < 900000; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  KeepAlive(x);
}

void BM_Measure1ms(benchmark::State& state) {
  MeasureOptions options;
  options.target_rel_ci = static_cast<double>(state.range(0)) / 100.0;
  Measurement m;
  for (auto _ : state) {
    absl::StatusOr<Measurement> result = Measure("1 ms", OneMillisecondOfArithmetic, options);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      return;
    }
    m = *std::move(result);
  }
  const Summary& s = m.summary;
  state.counters["runs"] = static_cast<double>(s.count);
  state.counters["median_us"] = s.median / 1e3;
  state.counters["rel_ci_pct"] = 100.0 * (s.median_ci.hi - s.median_ci.lo) / s.median;
  state.counters["cv_pct"] = 100.0 * s.cv;
  state.counters["other_cores"] = m.load.other_cpu_cores;
  state.counters["load_avg"] = m.load.load_avg_1m_before;
  state.SetLabel(m.load.busy ? "BUSY MACHINE" : "quiet");
}
BENCHMARK(BM_Measure1ms)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tt::prof
