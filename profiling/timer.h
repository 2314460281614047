// Timing a function: many single-call samples, their statistics, and how busy the machine
// was meanwhile. The first tool of the optimization modules: every later "N x faster"
// claim is made with it (or with compare.h, which builds on it).
//
//   std::vector<float> x(4096, 1.0f);
//   TT_ASSIGN_OR_RETURN(tt::prof::Measurement m, tt::prof::Measure("sum 4096", [&] {
//     float s = 0;
//     for (float v : x) s += v;
//     tt::prof::KeepAlive(s);  // otherwise the compiler may delete the loop
//   }));
//   std::puts(m.ToString().c_str());
//   // sum 4096: median 1.05 us, 96% CI [1.04 us, 1.06 us] (width 1.90%), p90 ..., 1000 runs, ...
//
// Clock: std::chrono::steady_clock (monotonic: never jumps with NTP or the wall clock; on
// Linux it is CLOCK_MONOTONIC, read through the vDSO in a few tens of nanoseconds).
//
// Each sample times exactly one call, not a batch: a batch mean hides the distribution
// (the tail, the modes) and cannot give a median or a confidence interval. The price is
// that calls shorter than about a microsecond are dominated by the clock itself; the
// overhead is reported with every Measurement so that such numbers can be read for what
// they are. For very short functions, time a loop of calls inside `fn` instead.
#ifndef TT_PROFILING_TIMER_H_
#define TT_PROFILING_TIMER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "profiling/statistics.h"

namespace tt::prof {

// Makes the compiler believe that `value` is read by code it cannot see, so the work that
// produced it cannot be deleted or hoisted out of a timed function. The "memory" clobber
// also forces pending stores to memory. Costs no instruction by itself (at most a spill
// of `value` to the stack).
template <class T>
inline void KeepAlive(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// When to stop sampling. The rule, checked after every sample (after every round of
// MeasureInterleaved):
//
//   1. `warmup` calls run first, untimed (caches, branch predictors, lazy allocations,
//      CPU frequency ramp-up).
//   2. Sampling stops as soon as
//        runs >= max_runs, or elapsed >= max_time_s, or
//        runs >= min_runs and elapsed >= min_time_s and
//          (target_rel_ci == 0 or (ci.hi - ci.lo) / median <= target_rel_ci),
//      where `elapsed` is wall time since the first timed call and `ci` is the median's
//      confidence interval at `ci_level` (statistics.h).
//
// max_runs and max_time_s are hard caps: they win over min_runs, min_time_s and the CI
// target (at least one sample is always taken). The CI needs a sort of all samples, so it
// is recomputed only after about 10% more samples than at the previous check (total cost
// O(n log n) times a small constant, not quadratic).
struct MeasureOptions {
  int64_t warmup = 2;
  int64_t min_runs = 5;
  int64_t max_runs = 1000;
  double min_time_s = 0.2;
  double max_time_s = 10.0;
  // Stop early once the median's CI is this narrow relative to the median (0.01 = 1%),
  // after min_runs and min_time_s; 0 turns the target off.
  double target_rel_ci = 0.0;
  double ci_level = 0.95;

  // InvalidArgument naming the field and its value: warmup < 0, min_runs or max_runs
  // < 1, min_runs > max_runs, a time budget negative or not finite, target_rel_ci
  // negative or not finite, ci_level outside (0, 1).
  absl::Status Validate() const;

  // The budget the module reports use for one interleaved comparison: at least
  // `seconds` and 10 rounds after 3 warm-up rounds (at most 20x the time), or, with
  // `quick` (the reports' plumbing tests), 1 to 3 rounds within a second and no warm-up.
  static MeasureOptions ForReport(bool quick, double seconds);
};

// How busy the machine was during a measurement.
//
// Method: /proc/stat's first line counts, since boot, the CPU time of all processes on
// all cores in ticks of 1/sysconf(_SC_CLK_TCK) s (usually 10 ms). Busy time is
// user + nice + system + irq + softirq + steal (steal: time the hypervisor gave our
// virtual CPUs to someone else, which is competition too); idle and iowait are not busy.
// Over the measurement,
//
//   other_cpu_cores = (busy time of all processes - CPU time of this process) / wall time
//
// with this process's CPU time from CLOCK_PROCESS_CPUTIME_ID (all its threads, exact).
// It is the mean number of cores that other processes kept busy, clamped to [0, cores].
// Being built from ticks, it is uncertain by about 2 ticks / wall time (0.1 core for a
// 0.2 s run), given as other_cpu_cores_error.
//
// busy, when other_cpu_cores is known to within a quarter core (runs of about 0.08 s and
// longer), is
//   other_cpu_cores > 0.25 + other_cpu_cores_error: other processes took more than a
//   quarter of a core for sure. They share caches, memory bandwidth and, when cores run
//   out, the cores themselves: a competing process was seen to slow 2-thread library
//   calls 100-1000x on 2 cores.
// For shorter runs (or without /proc/stat) it falls back on the load average:
//   load_avg_1m_before > max(cores - 0.5, 1.5): the run queue was already nearly full.
//   The load average counts this process too when it has been running, hence the floor
//   of 1.5, so that a benchmark program alone on one core is not flagged. It lags (a
//   1-minute average), which is why it only stands in for the direct figure.
//
// If /proc is unreadable the affected fields are NaN, `note` says what is missing, and
// busy is decided on what is left.
struct MachineLoad {
  double load_avg_1m_before = 0.0;
  double load_avg_1m_after = 0.0;
  double other_cpu_cores = 0.0;
  double other_cpu_cores_error = 0.0;  // the tick quantization bound, in cores
  double wall_s = 0.0;                 // the monitored interval
  int cores = 0;                       // online CPUs (sysconf(_SC_NPROCESSORS_ONLN))
  bool busy = false;
  std::string note;  // empty, or what could not be read

  // e.g. "load avg 1.02 -> 1.10 on 2 cores, other processes 0.03 +- 0.10 cores over 0.21 s: quiet"
  std::string ToString() const;
};

// Watches the machine's load between Start() and Stop(). Reads <proc_root>/stat and
// <proc_root>/loadavg; never fails (see MachineLoad for what happens if they are missing).
class LoadMonitor {
 public:
  // `proc_root` is "/proc" except in tests.
  explicit LoadMonitor(std::string proc_root = "/proc");

  void Start();
  // The load since the last Start(). Calling Stop() without Start() is a contract
  // violation (TT_CHECK).
  MachineLoad Stop();

 private:
  std::string proc_root_;
  bool started_ = false;
  double load_before_ = 0.0;
  double busy_s_before_ = 0.0;  // all processes' busy CPU time, from /proc/stat
  double self_s_before_ = 0.0;  // this process's CPU time
  std::chrono::steady_clock::time_point wall_before_;
};

// One function's measurement: the raw samples and what they say.
struct Measurement {
  std::string name;
  std::vector<double> samples_ns;  // one call each, in the order they were taken
  Summary summary;                 // of samples_ns
  // The cost of one sample's bookkeeping (MeasureTimerOverheadNs), measured just before
  // sampling. It is reported, not subtracted: the estimate is itself noisy and skewed,
  // and subtracting it from a function that costs about as much as the clock would
  // trade a known, stated bias for an unknown one (and can produce negative times).
  double timer_overhead_ns = 0.0;
  MachineLoad load;

  // One line: name, median, CI (and its width relative to the median), p90/p99, cv, runs,
  // outliers, overhead and, when the machine was busy, "BUSY MACHINE" with the load.
  std::string ToString() const;
};

// Times `fn` under `options` (see MeasureOptions for the sampling rule).
// InvalidArgument for bad options or an empty `fn`.
absl::StatusOr<Measurement> Measure(const std::string& name, const std::function<void()>& fn,
                                    const MeasureOptions& options = {});

struct NamedFunction {
  std::string name;
  std::function<void()> fn;
};

// Times several functions interleaved: warmup and sampling run in rounds, one call of
// each function per round, with the starting function rotating from round to round
// (A B, B A, A B, ... for two), so that drift (frequency, temperature, other processes
// starting and stopping) hits all of them alike and no function always runs right after
// the same other one. This is what makes ratios between them trustworthy on a shared
// machine. The stopping rule is MeasureOptions' with runs = rounds and the CI target
// applied to every function. All Measurements share one MachineLoad. Result i belongs to
// functions[i]. InvalidArgument for bad options, no functions, or an empty fn.
absl::StatusOr<std::vector<Measurement>> MeasureInterleaved(
    const std::vector<NamedFunction>& functions, const MeasureOptions& options = {});

// The cost of one sample's bookkeeping, in nanoseconds: two steady_clock reads and storing
// the difference, as Measure does around each call. `reps` samples of nothing are taken in
// 5 batches; the result is the median of the batches' per-sample wall time (the median so
// that a preempted batch does not count). reps must be positive (TT_CHECK).
double MeasureTimerOverheadNs(int64_t reps = 100000);

}  // namespace tt::prof

#endif  // TT_PROFILING_TIMER_H_
