// Tests of the timer's logic: the options, the sampling rule (by counting calls), the
// interleaving order, the summary and the machine-load reading. No assertion depends on
// how long anything takes: timings on a shared machine are noise.
#include "profiling/timer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "profiling/statistics.h"

namespace tt::prof {
namespace {

using ::testing::HasSubstr;

// Options that make the stopping rule depend on run counts only: the time budgets are
// out of reach (min 0: never waited for; max a million seconds: never hit).
MeasureOptions CountOnly(int64_t warmup, int64_t min_runs, int64_t max_runs) {
  MeasureOptions o;
  o.warmup = warmup;
  o.min_runs = min_runs;
  o.max_runs = max_runs;
  o.min_time_s = 0.0;
  o.max_time_s = 1e6;
  return o;
}

// About a microsecond of arithmetic that the compiler must keep.
void SmallWork() {
  uint64_t x = 12345;
  for (int i = 0; i < 500; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  KeepAlive(x);
}

// --- MeasureOptions::Validate ---

TEST(MeasureOptionsTest, DefaultsAreValid) { EXPECT_TRUE(MeasureOptions().Validate().ok()); }

void ExpectInvalid(const MeasureOptions& o, const std::string& substring) {
  const absl::Status status = o.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << substring;
  EXPECT_THAT(status.message(), HasSubstr(substring));
}

TEST(MeasureOptionsTest, EachBadFieldIsNamedWithItsValue) {
  MeasureOptions o;
  o.warmup = -1;
  ExpectInvalid(o, "warmup = -1");

  o = MeasureOptions();
  o.min_runs = 0;
  ExpectInvalid(o, "min_runs = 0");

  o = MeasureOptions();
  o.max_runs = -3;
  ExpectInvalid(o, "max_runs = -3");

  o = MeasureOptions();
  o.min_runs = 10;
  o.max_runs = 5;
  ExpectInvalid(o, "min_runs = 10 is greater than max_runs = 5");

  o = MeasureOptions();
  o.min_time_s = -0.5;
  ExpectInvalid(o, "min_time_s = -0.5");
  o.min_time_s = std::numeric_limits<double>::infinity();
  ExpectInvalid(o, "min_time_s = inf");

  o = MeasureOptions();
  o.max_time_s = std::nan("");
  ExpectInvalid(o, "max_time_s = nan");
  o.max_time_s = -1;
  ExpectInvalid(o, "max_time_s = -1");

  o = MeasureOptions();
  o.target_rel_ci = -0.01;
  ExpectInvalid(o, "target_rel_ci = -0.01");

  o = MeasureOptions();
  o.ci_level = 1.0;
  ExpectInvalid(o, "ci_level = 1");
}

// --- Measure: the sampling rule ---

TEST(MeasureTest, BadOptionsCallNothing) {
  int64_t calls = 0;
  MeasureOptions o;
  o.min_runs = 0;
  auto count = [&] { ++calls; };
  absl::StatusOr<Measurement> m = Measure("f", count, o);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);
}

TEST(MeasureTest, EmptyFunctionIsAnError) {
  absl::StatusOr<Measurement> m = Measure("nothing", std::function<void()>());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("'nothing' has no function"));
}

TEST(MeasureTest, WarmupPlusMinRunsWhenNoTimeIsRequired) {
  int64_t calls = 0;
  auto count = [&] { ++calls; };
  absl::StatusOr<Measurement> m = Measure("count", count, CountOnly(3, 7, 50));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->samples_ns.size(), 7u);
  EXPECT_EQ(calls, 3 + 7);
}

TEST(MeasureTest, StopsAtMaxRunsWhenTheTimeBudgetIsHuge) {
  int64_t calls = 0;
  MeasureOptions o = CountOnly(2, 1, 100);
  o.min_time_s = 1e6;  // would run for ever without the max_runs cap
  auto count = [&] { ++calls; };
  absl::StatusOr<Measurement> m = Measure("capped", count, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->samples_ns.size(), 100u);
  EXPECT_EQ(calls, 2 + 100);
}

TEST(MeasureTest, ZeroMaxTimeStillTakesOneSample) {
  int64_t calls = 0;
  MeasureOptions o = CountOnly(0, 5, 100);
  o.max_time_s = 0.0;  // a hard cap: wins over min_runs
  auto count = [&] { ++calls; };
  absl::StatusOr<Measurement> m = Measure("once", count, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->samples_ns.size(), 1u);
  EXPECT_EQ(calls, 1);
}

TEST(MeasureTest, TargetRelativeCiStopsEarly) {
  MeasureOptions o = CountOnly(2, 10, 1000000);
  o.target_rel_ci = 0.5;  // loose: reachable with a few dozen samples even when noisy
  absl::StatusOr<Measurement> m = Measure("small work", SmallWork, o);
  ASSERT_TRUE(m.ok()) << m.status();
  const Summary& s = m->summary;
  EXPECT_GE(s.count, 10);
  EXPECT_LT(s.count, 1000000);
  // Neither cap was hit, so the target must be what stopped it.
  EXPECT_LE((s.median_ci.hi - s.median_ci.lo) / s.median, 0.5);
}

TEST(MeasureTest, SummaryIsOfTheSamples) {
  absl::StatusOr<Measurement> m = Measure("small work", SmallWork, CountOnly(1, 31, 31));
  ASSERT_TRUE(m.ok()) << m.status();
  const Summary& s = m->summary;
  EXPECT_EQ(s.count, 31);
  EXPECT_GT(s.min, 0.0);
  EXPECT_LE(s.min, s.median);
  EXPECT_LE(s.median, s.max);
  EXPECT_LE(s.median_ci.lo, s.median);
  EXPECT_GE(s.median_ci.hi, s.median);
  EXPECT_GE(s.median_ci.level, 0.95);
  absl::StatusOr<Summary> again = Summarize(m->samples_ns);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->median, s.median);
  EXPECT_EQ(again->p99, s.p99);
  EXPECT_GT(m->timer_overhead_ns, 0.0);
  EXPECT_TRUE(std::isfinite(m->timer_overhead_ns));
}

TEST(MeasureTest, ToStringNamesTheMeasurementAndFlagsABusyMachine) {
  absl::StatusOr<Measurement> m = Measure("my kernel", SmallWork, CountOnly(0, 5, 5));
  ASSERT_TRUE(m.ok()) << m.status();
  m->load.busy = false;
  const std::string quiet = m->ToString();
  EXPECT_THAT(quiet, HasSubstr("my kernel: median "));
  EXPECT_THAT(quiet, HasSubstr("5 runs"));
  EXPECT_THAT(quiet, ::testing::Not(HasSubstr("BUSY")));
  m->load.busy = true;
  EXPECT_THAT(m->ToString(), HasSubstr("BUSY MACHINE"));
}

// --- MeasureInterleaved ---

TEST(MeasureInterleavedTest, RoundsAlternateTheStartingFunction) {
  std::string order;
  absl::StatusOr<std::vector<Measurement>> m = MeasureInterleaved(
      {{"a", [&] { order += 'A'; }}, {"b", [&] { order += 'B'; }}}, CountOnly(2, 3, 3));
  ASSERT_TRUE(m.ok()) << m.status();
  // Two warmup rounds, then three timed rounds: AB BA | AB BA AB.
  EXPECT_EQ(order, "ABBAABBAAB");
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].name, "a");
  EXPECT_EQ((*m)[1].name, "b");
  EXPECT_EQ((*m)[0].samples_ns.size(), 3u);
  EXPECT_EQ((*m)[1].samples_ns.size(), 3u);
}

TEST(MeasureInterleavedTest, NoFunctionsIsAnError) {
  EXPECT_EQ(MeasureInterleaved({}).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Timer overhead ---

TEST(MeasureTimerOverheadTest, PositiveAndFinite) {
  const double ns = MeasureTimerOverheadNs(10000);
  EXPECT_GT(ns, 0.0);
  EXPECT_TRUE(std::isfinite(ns));
}

// --- LoadMonitor ---

TEST(LoadMonitorTest, ReadsThisMachine) {
  LoadMonitor monitor;
  monitor.Start();
  for (int i = 0; i < 2000; ++i) SmallWork();
  const MachineLoad load = monitor.Stop();
  EXPECT_EQ(load.cores, sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_TRUE(load.note.empty()) << load.note;
  EXPECT_TRUE(std::isfinite(load.load_avg_1m_before));
  EXPECT_TRUE(std::isfinite(load.load_avg_1m_after));
  EXPECT_GE(load.load_avg_1m_before, 0.0);
  EXPECT_TRUE(std::isfinite(load.other_cpu_cores));
  EXPECT_GE(load.other_cpu_cores, 0.0);
  EXPECT_LE(load.other_cpu_cores, load.cores);
  EXPECT_GT(load.other_cpu_cores_error, 0.0);
  EXPECT_GT(load.wall_s, 0.0);
  EXPECT_THAT(load.ToString(), HasSubstr("cores"));
}

TEST(LoadMonitorTest, UnreadableProcGivesNanAndANoteNotACrash) {
  LoadMonitor monitor("/nonexistent/proc");
  monitor.Start();
  const MachineLoad load = monitor.Stop();
  EXPECT_TRUE(std::isnan(load.load_avg_1m_before));
  EXPECT_TRUE(std::isnan(load.other_cpu_cores));
  EXPECT_THAT(load.note, HasSubstr("/nonexistent/proc/loadavg"));
  EXPECT_THAT(load.note, HasSubstr("/nonexistent/proc/stat"));
  EXPECT_FALSE(load.busy);
  EXPECT_GE(load.cores, 1);
}

// A fake /proc under the test's temporary directory.
std::string FakeProc(const std::string& name, const std::string& loadavg, int64_t busy_ticks) {
  const std::string root = ::testing::TempDir() + "/" + name;
  EXPECT_TRUE(mkdir(root.c_str(), 0755) == 0 || errno == EEXIST) << root;
  std::ofstream(root + "/loadavg") << loadavg;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  std::ofstream(root + "/stat") << "cpu  " << busy_ticks << " 0 50 100000 0 0 0 0 0 0\n";
  return root;
}

TEST(LoadMonitorTest, ShortRunFallsBackOnAFullRunQueue) {
  // A load average no machine with fewer than 1000 cores can take calmly; /proc/stat does
  // not move. The run is far too short for the tick-based CPU figure (its error bound is
  // huge), so the load average decides.
  const std::string root = FakeProc("proc_full_queue", "1000.00 900.00 800.00 3/100 12345\n", 100);
  LoadMonitor monitor(root);
  monitor.Start();
  const MachineLoad load = monitor.Stop();
  EXPECT_TRUE(load.note.empty()) << load.note;
  EXPECT_DOUBLE_EQ(load.load_avg_1m_before, 1000.0);
  EXPECT_DOUBLE_EQ(load.other_cpu_cores, 0.0);  // negative (our own CPU time) clamped
  EXPECT_GT(load.other_cpu_cores_error, 0.25);
  EXPECT_TRUE(load.busy);
  EXPECT_THAT(load.ToString(), HasSubstr("BUSY"));
}

TEST(LoadMonitorTest, PreciseCpuFigureWinsOverTheLoadAverage) {
  // Same full run queue, but the window is long enough (0.15 s: error <= 2 ticks / 0.15 s
  // <= 0.25 core at 100 ticks/s or more) for the CPU figure, which says nobody else worked.
  const std::string root = FakeProc("proc_quiet_cpu", "1000.00 900.00 800.00 3/100 12345\n", 100);
  LoadMonitor monitor(root);
  monitor.Start();
  usleep(150000);
  const MachineLoad load = monitor.Stop();
  ASSERT_LE(load.other_cpu_cores_error, 0.25);
  EXPECT_DOUBLE_EQ(load.other_cpu_cores, 0.0);
  EXPECT_FALSE(load.busy);
}

TEST(LoadMonitorTest, OtherProcessesCpuTimeMarksBusy) {
  // /proc/stat gains 10 s of busy time per core while we sleep: far more than the window,
  // so other_cpu_cores is clamped to every core; the load average is low.
  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  const int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const std::string root = FakeProc("proc_busy_cpu", "0.00 0.00 0.00 1/100 12345\n", 100);
  LoadMonitor monitor(root);
  monitor.Start();
  FakeProc("proc_busy_cpu", "0.00 0.00 0.00 1/100 12345\n", 100 + 10 * cores * ticks_per_s);
  usleep(150000);
  const MachineLoad load = monitor.Stop();
  EXPECT_DOUBLE_EQ(load.other_cpu_cores, cores);
  EXPECT_TRUE(load.busy);
}

TEST(LoadMonitorDeathTest, StopWithoutStart) {
  LoadMonitor monitor;
  EXPECT_DEATH(monitor.Stop(), "without Start");
}

}  // namespace
}  // namespace tt::prof
