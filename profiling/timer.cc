#include "profiling/timer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "profiling/statistics.h"
#include "tensor/check.h"

namespace tt::prof {
namespace {

using Clock = std::chrono::steady_clock;

// Other processes must take more than this many cores (beyond the measurement's own
// uncertainty) for the machine to count as busy.
constexpr double kBusyOtherCores = 0.25;
// Reps for the overhead estimate inside Measure: well under a millisecond.
constexpr int64_t kOverheadRepsPerMeasure = 10000;
// Sample vectors are reserved up to this many entries, so that growing them (outside the
// timed region, but still a cache-polluting copy) is rare.
constexpr int64_t kMaxReserve = int64_t{1} << 16;

double NanosecondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

// The first line of `path`, or nullopt if it cannot be read.
std::optional<std::string> ReadFirstLine(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return std::nullopt;
  char buffer[512];
  const bool ok = std::fgets(buffer, sizeof(buffer), file) != nullptr;
  std::fclose(file);
  if (!ok) return std::nullopt;
  return std::string(buffer);
}

// The 1-minute load average from /proc/loadavg ("0.52 0.58 0.59 2/117 31065").
std::optional<double> ReadLoadAverage(const std::string& proc_root) {
  std::optional<std::string> line = ReadFirstLine(proc_root + "/loadavg");
  double load = 0.0;
  if (!line || std::sscanf(line->c_str(), "%lf", &load) != 1 || !std::isfinite(load)) {
    return std::nullopt;
  }
  return load;
}

// Busy CPU time of all processes since boot, in seconds, from /proc/stat's aggregate line
// "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (ticks). guest
// and guest_nice are already included in user and nice, so they are not added again.
std::optional<double> ReadBusyCpuSeconds(const std::string& proc_root) {
  std::optional<std::string> line = ReadFirstLine(proc_root + "/stat");
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  // Older kernels stop before steal; 4 fields is the minimum that makes sense.
  if (!line || std::sscanf(line->c_str(), "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user,
                           &nice, &system, &idle, &iowait, &irq, &softirq, &steal) < 4) {
    return std::nullopt;
  }
  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  if (ticks_per_s <= 0) return std::nullopt;
  const unsigned long long busy = user + nice + system + irq + softirq + steal;
  return static_cast<double>(busy) / static_cast<double>(ticks_per_s);
}

double ProcessCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return std::nan("");
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double NanIfMissing(const std::optional<double>& v) { return v ? *v : std::nan(""); }

void AppendNote(std::string* note, const std::string& text) {
  if (!note->empty()) note->append("; ");
  note->append(text);
}

std::string FormatFigure(double v) { return absl::StrFormat("%.2f", v); }

// (hi - lo) / median of the median's CI, or +inf when it is undefined (median <= 0).
double RelativeCiWidth(const std::vector<double>& samples, double level) {
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const double median = Percentile(sorted, 50.0);
  if (!(median > 0.0)) return INFINITY;
  const ConfidenceInterval ci = MedianConfidenceInterval(sorted, level);
  return (ci.hi - ci.lo) / median;
}

}  // namespace

MeasureOptions MeasureOptions::ForReport(bool quick, double seconds) {
  MeasureOptions o;
  o.warmup = quick ? 0 : 3;
  o.min_runs = quick ? 1 : 10;
  o.max_runs = quick ? 3 : 100000;
  o.min_time_s = quick ? 0.0 : seconds;
  o.max_time_s = quick ? 1.0 : 20.0 * seconds;
  return o;
}

absl::Status MeasureOptions::Validate() const {
  auto bad = [](const char* field, auto value, const char* requirement) {
    return absl::InvalidArgumentError(
        absl::StrCat("MeasureOptions.", field, " = ", value, ": ", requirement));
  };
  if (warmup < 0) return bad("warmup", warmup, "must be >= 0");
  if (min_runs < 1) return bad("min_runs", min_runs, "must be >= 1");
  if (max_runs < 1) return bad("max_runs", max_runs, "must be >= 1");
  if (min_runs > max_runs) {
    return absl::InvalidArgumentError(absl::StrCat("MeasureOptions.min_runs = ", min_runs,
                                                   " is greater than max_runs = ", max_runs));
  }
  if (!std::isfinite(min_time_s) || min_time_s < 0) {
    return bad("min_time_s", min_time_s, "must be finite and >= 0");
  }
  if (!std::isfinite(max_time_s) || max_time_s < 0) {
    return bad("max_time_s", max_time_s, "must be finite and >= 0");
  }
  if (!std::isfinite(target_rel_ci) || target_rel_ci < 0) {
    return bad("target_rel_ci", target_rel_ci, "must be finite and >= 0 (0 = no target)");
  }
  if (!(ci_level > 0 && ci_level < 1)) return bad("ci_level", ci_level, "must be in (0, 1)");
  return absl::OkStatus();
}

std::string MachineLoad::ToString() const {
  std::string s =
      absl::StrCat("load avg ", FormatFigure(load_avg_1m_before), " -> ",
                   FormatFigure(load_avg_1m_after), " on ", cores, " cores, other processes ",
                   FormatFigure(other_cpu_cores), " +- ", FormatFigure(other_cpu_cores_error),
                   " cores over ", FormatFigure(wall_s), " s: ", busy ? "BUSY" : "quiet");
  if (!note.empty()) absl::StrAppend(&s, " (", note, ")");
  return s;
}

LoadMonitor::LoadMonitor(std::string proc_root) : proc_root_(std::move(proc_root)) {}

void LoadMonitor::Start() {
  started_ = true;
  load_before_ = NanIfMissing(ReadLoadAverage(proc_root_));
  // Read the process's CPU time last and the wall clock right after, so that the reading
  // itself is (almost) not counted as someone else's work.
  busy_s_before_ = NanIfMissing(ReadBusyCpuSeconds(proc_root_));
  self_s_before_ = ProcessCpuSeconds();
  wall_before_ = Clock::now();
}

MachineLoad LoadMonitor::Stop() {
  TT_CHECK(started_, "LoadMonitor::Stop() called without Start()");
  const Clock::time_point wall_after = Clock::now();
  const double self_s_after = ProcessCpuSeconds();
  const std::optional<double> busy_s_after = ReadBusyCpuSeconds(proc_root_);
  const std::optional<double> load_after = ReadLoadAverage(proc_root_);
  started_ = false;

  MachineLoad load;
  load.cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  load.wall_s = NanosecondsBetween(wall_before_, wall_after) * 1e-9;
  load.load_avg_1m_before = load_before_;
  load.load_avg_1m_after = NanIfMissing(load_after);
  if (std::isnan(load_before_) || !load_after) {
    AppendNote(&load.note, absl::StrCat("could not read ", proc_root_, "/loadavg"));
  }

  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  const double other_s =
      NanIfMissing(busy_s_after) - busy_s_before_ - (self_s_after - self_s_before_);
  if (std::isnan(other_s) || !(load.wall_s > 0.0) || ticks_per_s <= 0) {
    load.other_cpu_cores = std::nan("");
    load.other_cpu_cores_error = std::nan("");
    AppendNote(&load.note, absl::StrCat("could not read ", proc_root_,
                                        "/stat: CPU use of other processes unknown"));
  } else {
    load.other_cpu_cores = std::clamp(other_s / load.wall_s, 0.0, static_cast<double>(load.cores));
    load.other_cpu_cores_error = 2.0 / (static_cast<double>(ticks_per_s) * load.wall_s);
  }

  // The CPU figure is direct evidence about this very interval; the load average is a
  // lagging 1-minute proxy, used only when the CPU figure is missing or too coarse.
  if (load.other_cpu_cores_error <= kBusyOtherCores) {
    load.busy = load.other_cpu_cores > kBusyOtherCores + load.other_cpu_cores_error;
  } else {
    // NaN fails the comparison: with nothing readable, the machine is not called busy.
    load.busy = load.load_avg_1m_before > std::max(static_cast<double>(load.cores) - 0.5, 1.5);
  }
  return load;
}

std::string Measurement::ToString() const {
  const Summary& s = summary;
  std::string line = absl::StrCat(
      name, ": median ", FormatDuration(s.median), ", ",
      absl::StrFormat("%.0f", 100 * s.median_ci.level), "% CI [", FormatDuration(s.median_ci.lo),
      ", ", FormatDuration(s.median_ci.hi), "] (width ",
      absl::StrFormat("%.2f%%", 100 * (s.median_ci.hi - s.median_ci.lo) / s.median), "), p90 ",
      FormatDuration(s.p90), ", p99 ", FormatDuration(s.p99), ", cv ",
      absl::StrFormat("%.1f%%", 100 * s.cv), ", ", s.count, " runs, outliers ", s.outliers_low,
      " low ", s.outliers_high, " high, timer overhead ", FormatDuration(timer_overhead_ns));
  if (load.busy) {
    absl::StrAppend(&line, ", BUSY MACHINE (other processes ", FormatFigure(load.other_cpu_cores),
                    " cores, load avg ", FormatFigure(load.load_avg_1m_before), " on ", load.cores,
                    " cores)");
  }
  return line;
}

absl::StatusOr<Measurement> Measure(const std::string& name, const std::function<void()>& fn,
                                    const MeasureOptions& options) {
  absl::StatusOr<std::vector<Measurement>> result = MeasureInterleaved({{name, fn}}, options);
  if (!result.ok()) return result.status();
  return std::move(result->front());
}

absl::StatusOr<std::vector<Measurement>> MeasureInterleaved(
    const std::vector<NamedFunction>& functions, const MeasureOptions& options) {
  TT_RETURN_IF_ERROR(options.Validate());
  if (functions.empty()) {
    return absl::InvalidArgumentError("MeasureInterleaved: no functions to measure");
  }
  for (const NamedFunction& f : functions) {
    if (!f.fn) {
      return absl::InvalidArgumentError(absl::StrCat("Measure: '", f.name, "' has no function"));
    }
  }
  const size_t k = functions.size();

  for (int64_t w = 0; w < options.warmup; ++w) {
    for (size_t i = 0; i < k; ++i) functions[(static_cast<size_t>(w) + i) % k].fn();
  }
  // Right before sampling, so that it reflects the machine's state during the run.
  const double overhead_ns = MeasureTimerOverheadNs(kOverheadRepsPerMeasure);

  std::vector<std::vector<double>> samples(k);
  for (auto& s : samples) s.reserve(std::min(options.max_runs, kMaxReserve));
  LoadMonitor monitor;
  monitor.Start();
  const Clock::time_point start = Clock::now();
  int64_t rounds = 0;
  int64_t next_ci_check = options.min_runs;
  for (;;) {
    Clock::time_point last = start;
    for (size_t i = 0; i < k; ++i) {
      const size_t f = (static_cast<size_t>(rounds) + i) % k;
      const Clock::time_point t0 = Clock::now();
      functions[f].fn();
      const Clock::time_point t1 = Clock::now();
      samples[f].push_back(NanosecondsBetween(t0, t1));
      last = t1;
    }
    ++rounds;
    // The last sample's end stands in for "now": one clock read fewer per round.
    const double elapsed_s = NanosecondsBetween(start, last) * 1e-9;
    if (rounds >= options.max_runs || elapsed_s >= options.max_time_s) break;
    if (rounds < options.min_runs || elapsed_s < options.min_time_s) continue;
    if (options.target_rel_ci == 0.0) break;
    if (rounds >= next_ci_check) {
      bool all_within = true;
      for (const auto& s : samples) {
        if (RelativeCiWidth(s, options.ci_level) > options.target_rel_ci) {
          all_within = false;
          break;
        }
      }
      if (all_within) break;
      next_ci_check = rounds + std::max<int64_t>(1, rounds / 10);
    }
  }
  const MachineLoad load = monitor.Stop();

  std::vector<Measurement> result(k);
  for (size_t i = 0; i < k; ++i) {
    Measurement& m = result[i];
    m.name = functions[i].name;
    m.samples_ns = std::move(samples[i]);
    TT_ASSIGN_OR_RETURN(m.summary, Summarize(m.samples_ns, options.ci_level));
    m.timer_overhead_ns = overhead_ns;
    m.load = load;
  }
  return result;
}

double MeasureTimerOverheadNs(int64_t reps) {
  TT_CHECK(reps > 0, "MeasureTimerOverheadNs: reps must be positive, got ", reps);
  constexpr int kBatches = 5;
  const int64_t per_batch = std::max<int64_t>(1, reps / kBatches);
  std::vector<double> sink;
  sink.reserve(static_cast<size_t>(per_batch));
  std::vector<double> per_sample_ns;
  for (int b = 0; b < kBatches; ++b) {
    sink.clear();
    const Clock::time_point begin = Clock::now();
    for (int64_t i = 0; i < per_batch; ++i) {
      const Clock::time_point t0 = Clock::now();
      const Clock::time_point t1 = Clock::now();
      sink.push_back(NanosecondsBetween(t0, t1));
    }
    const Clock::time_point end = Clock::now();
    KeepAlive(sink.data());
    per_sample_ns.push_back(NanosecondsBetween(begin, end) / static_cast<double>(per_batch));
  }
  std::sort(per_sample_ns.begin(), per_sample_ns.end());
  return Percentile(per_sample_ns, 50.0);
}

}  // namespace tt::prof
