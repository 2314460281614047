// The profiling module's report: this machine's roofs, the timer's own cost and
// precision, and where the reference MLP, CNN and GPT spend their forward passes.
//
//   bazel run -c opt //profiling:report -- --json=/tmp/profiling.json
//
// Prints readable tables; writes a roofline SVG per model and a Chrome trace of the CNN
// forward to --out_dir; --json writes the headline figures as one flat object (keys in
// profiling/README.md). --quick shrinks every budget (used by the report's own test).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "profiling/compare.h"
#include "profiling/flop_counter.h"
#include "profiling/profiler.h"
#include "profiling/roofline.h"
#include "profiling/timer.h"
#include "tensor/check.h"
#include "tensor/flat_json.h"
#include "tensor/models.h"

ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(std::string, out_dir, "",
          "where the SVG charts and the trace go (default: profiling_report/ in the "
          "directory bazel run was started from, else /tmp/profiling_report)");
ABSL_FLAG(bool, quick, false, "tiny budgets: checks the report runs, measures nothing well");

namespace tt::prof {
namespace {

using tensor::Tensor;

struct Budget {
  MeasureOptions forward;      // per model forward
  MeasureOptions one_ms;       // the 1 ms workload, default rule
  PeakOptions peak;
  TriadOptions triad;
  int64_t triad_elements;
  int64_t gpt_time;
};

Budget MakeBudget(bool quick) {
  Budget b;
  b.forward.min_runs = quick ? 2 : 10;
  b.forward.min_time_s = quick ? 0.0 : 1.0;
  b.forward.max_time_s = quick ? 2.0 : 20.0;
  b.forward.max_runs = quick ? 3 : 1000;
  b.one_ms.min_time_s = quick ? 0.0 : 0.2;
  b.one_ms.max_runs = quick ? 5 : 1000;
  b.peak.seconds = quick ? 0.01 : 0.2;
  b.peak.repetitions = quick ? 1 : 3;
  b.triad.repetitions = quick ? 1 : 8;
  b.triad_elements = quick ? (1 << 16) : DefaultTriadElements();
  b.gpt_time = quick ? 16 : 256;
  return b;
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

// A dependent chain of multiply-adds the compiler cannot remove or shorten.
void Work(int64_t steps) {
  double x = 1.0;
  for (int64_t i = 0; i < steps; ++i) x = x * 1.0000001 + 1e-9;
  KeepAlive(x);
}

// How many Work steps take about 1 ms on this machine (the best of a few tries).
int64_t StepsPerMillisecond() {
  constexpr int64_t kProbe = 200'000;
  double best_ns = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    Work(kProbe);
    best_ns = std::min(best_ns, std::chrono::duration<double, std::nano>(
                                    std::chrono::steady_clock::now() - start).count());
  }
  return std::max<int64_t>(1, static_cast<int64_t>(kProbe * 1e6 / best_ns));
}

struct ModelFigures {
  double forward_ms = 0;
  double gflops = 0;           // achieved over the whole forward
  double percent_of_peak = 0;  // of the 1-thread FMA peak
  std::string top_op;
  double top_op_percent = 0;
  int64_t ops = 0;
};

// Times `forward`, profiles one run of it, prints the op table, the layer table and the
// roofline, and writes the roofline SVG (and the trace, when trace_path is set).
absl::StatusOr<ModelFigures> ProfileModel(const std::string& name,
                                          const std::function<void()>& forward,
                                          const MachinePeaks& peaks, const Budget& budget,
                                          const std::string& out_dir,
                                          const std::string& trace_path) {
  std::printf("\n== %s forward\n", name.c_str());
  TT_ASSIGN_OR_RETURN(Measurement m, Measure(name + " forward", forward, budget.forward));
  std::printf("%s\n", m.ToString().c_str());
  Profiler profiler;
  forward();
  profiler.Stop();
  std::printf("%s\n%s", profiler.TableString(10).c_str(), profiler.LayerTableString().c_str());
  std::vector<OpStats> table = profiler.Table();
  std::vector<RooflinePoint> points = PlaceOnRoofline(table, peaks);
  std::printf("%s", RooflineTable(points, peaks).c_str());
  const std::string svg_path = absl::StrCat(out_dir, "/roofline_", name, ".svg");
  TT_RETURN_IF_ERROR(WriteText(
      svg_path, RooflineSvg(points, peaks, absl::StrCat(name, " forward, reference backend"))));
  std::printf("roofline chart: %s\n", svg_path.c_str());
  if (!trace_path.empty()) {
    TT_RETURN_IF_ERROR(profiler.WriteChromeTrace(trace_path));
    std::printf("trace (open in https://ui.perfetto.dev or chrome://tracing): %s\n",
                trace_path.c_str());
  }
  ModelFigures f;
  f.forward_ms = m.summary.median / 1e6;
  int64_t flops = 0;
  for (const OpStats& s : table) flops += s.flops;
  f.gflops = flops / m.summary.median;  // FLOP per ns = GFLOP/s
  f.percent_of_peak = 100.0 * f.gflops / peaks.peak_gflops;
  if (!table.empty()) {
    f.top_op = table[0].op;
    f.top_op_percent = table[0].percent;
  }
  f.ops = profiler.num_ops();
  return f;
}

absl::Status Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  const Budget budget = MakeBudget(quick);
  std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) {
    const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
    out_dir = cwd != nullptr ? absl::StrCat(cwd, "/profiling_report") : "/tmp/profiling_report";
  }
  std::error_code mkdir_error;
  std::filesystem::create_directories(out_dir, mkdir_error);
  if (mkdir_error) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create --out_dir '", out_dir,
                                                   "': ", mkdir_error.message()));
  }
  tensor::FlatJson json;
  LoadMonitor load;
  load.Start();

  // --- The machine's roofs -------------------------------------------------------
  std::printf("== machine\n");
  MachineOptions machine;
  machine.peak = budget.peak;
  machine.triad = budget.triad;
  machine.triad_elements = budget.triad_elements;
  const MachinePeaks one = MeasureMachine(1, machine);
  const MachinePeaks two = MeasureMachine(2, machine);
  std::printf("1 thread:  %s\n2 threads: %s\n", DescribeMachine(one).c_str(),
              DescribeMachine(two).c_str());
  json.Add("peak_isa", one.isa);
  json.Add("peak_gflops", one.peak_gflops);
  json.Add("peak_gflops_2t", two.peak_gflops);
  json.Add("bandwidth_gbs", one.bandwidth_gbs);
  json.Add("bandwidth_gbs_2t", two.bandwidth_gbs);

  // --- The timer -------------------------------------------------------------------
  std::printf("\n== timer\n");
  const double overhead = MeasureTimerOverheadNs(quick ? 1000 : 100000);
  std::printf("timer overhead per sample: %.1f ns (target < 100 ns)\n", overhead);
  json.Add("timer_overhead_ns", overhead);
  const int64_t steps = StepsPerMillisecond();
  auto one_ms = [steps] { Work(steps); };
  TT_ASSIGN_OR_RETURN(Measurement plain, Measure("1 ms workload", one_ms, budget.one_ms));
  MeasureOptions tight = budget.one_ms;
  tight.target_rel_ci = 0.01;
  tight.max_time_s = quick ? 1.0 : 10.0;
  TT_ASSIGN_OR_RETURN(Measurement precise,
                      Measure("1 ms workload, target 1%", one_ms, tight));
  auto rel_width = [](const Measurement& m) {
    return (m.summary.median_ci.hi - m.summary.median_ci.lo) / m.summary.median;
  };
  std::printf("%s\n%s\n", plain.ToString().c_str(), precise.ToString().c_str());
  std::printf("relative width of the median's 95%% CI: %.3f%% (default rule, %lld runs), "
              "%.3f%% (target 1%%, %lld runs)\n",
              100 * rel_width(plain), static_cast<long long>(plain.summary.count),
              100 * rel_width(precise), static_cast<long long>(precise.summary.count));
  json.Add("ci_rel_width_1ms", rel_width(plain));
  json.Add("ci_rel_width_1ms_target", rel_width(precise));
  json.Add("runs_1ms_target", precise.summary.count);

  // --- The reference models -------------------------------------------------------
  tensor::NoGradGuard no_grad;
  tensor::Rng rng(7);
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{}, 1);
  auto cnn = tensor::MakeCnn(tensor::CnnConfig{}, 1);
  tensor::GptConfig gpt_config;
  gpt_config.context_length = std::max<int64_t>(budget.gpt_time, 16);
  tensor::Gpt gpt(gpt_config, 1);
  const Tensor mlp_x = Tensor::Randn({64, 784}, rng);
  const Tensor cnn_x = Tensor::Randn({64, 1, 28, 28}, rng);
  std::vector<int32_t> ids(static_cast<size_t>(budget.gpt_time));
  for (auto& id : ids) id = static_cast<int32_t>(rng.UniformInt(gpt_config.vocab_size));
  auto mlp_forward = [&] { KeepAlive(mlp->Forward(mlp_x).data()[0]); };
  auto cnn_forward = [&] { KeepAlive(cnn->Forward(cnn_x).data()[0]); };
  auto gpt_forward = [&] {
    KeepAlive(gpt.Forward(ids, 1, budget.gpt_time).logits.data()[0]);
  };
  struct Entry {
    const char* name;
    std::function<void()> forward;
    std::string trace;
  };
  const Entry entries[] = {{"mlp", mlp_forward, ""},
                           {"cnn", cnn_forward, out_dir + "/trace_cnn.json"},
                           {"gpt", gpt_forward, ""}};
  ModelFigures cnn_figures;
  for (const Entry& e : entries) {
    TT_ASSIGN_OR_RETURN(ModelFigures f,
                        ProfileModel(e.name, e.forward, one, budget, out_dir, e.trace));
    json.Add(absl::StrCat(e.name, "_forward_ms"), f.forward_ms);
    json.Add(absl::StrCat(e.name, "_forward_gflops"), f.gflops);
    json.Add(absl::StrCat(e.name, "_percent_of_peak"), f.percent_of_peak);
    json.Add(absl::StrCat(e.name, "_top_op"), f.top_op);
    json.Add(absl::StrCat(e.name, "_top_op_percent"), f.top_op_percent);
    if (std::string(e.name) == "cnn") cnn_figures = f;
  }

  // --- What profiling costs ---------------------------------------------------------
  std::printf("\n== profiler overhead on the CNN forward (batch 64)\n");
  // Inactive: every op pays one OpScope whose flag test fails. Too small to see against
  // run-to-run noise, so it is measured directly and scaled by the ops in a forward.
  MeasureOptions scope_budget;
  scope_budget.min_time_s = quick ? 0.0 : 0.2;
  scope_budget.max_runs = quick ? 5 : 200;
  constexpr int kScopes = 100000;
  TT_ASSIGN_OR_RETURN(Measurement scopes, Measure("100k inactive OpScopes", [] {
                        for (int i = 0; i < kScopes; ++i) {
                          tensor::OpScope scope("x", {}, i, i);
                          KeepAlive(i);
                        }
                      }, scope_budget));
  const double scope_ns = scopes.summary.median / kScopes;
  const double inactive_ratio =
      1.0 + cnn_figures.ops * scope_ns / (cnn_figures.forward_ms * 1e6);
  // Active: the same forward with and without a Profiler, interleaved in one run.
  auto profiled = [&] {
    Profiler p;
    cnn_forward();
  };
  TT_ASSIGN_OR_RETURN(Comparison active,
                      CompareFunctions("cnn forward", cnn_forward, "cnn forward, profiled",
                                       profiled, budget.forward));
  const double active_ratio = 1.0 / active.speedup;  // time with / time without
  std::printf("inactive: %lld ops x %.2f ns per OpScope = %.4f%% of a %.1f ms forward "
              "(ratio %.6f)\n",
              static_cast<long long>(cnn_figures.ops), scope_ns,
              100 * (inactive_ratio - 1), cnn_figures.forward_ms, inactive_ratio);
  std::printf("active:   %s (ratio %.4f)\n", active.ToString().c_str(), active_ratio);
  json.Add("ops_per_cnn_forward", cnn_figures.ops);
  json.Add("op_scope_inactive_ns", scope_ns);
  json.Add("profiler_inactive_overhead_ratio", inactive_ratio);
  json.Add("profiler_active_overhead_ratio", active_ratio);

  const MachineLoad l = load.Stop();
  std::printf("\nmachine load during the report: %s\n", l.ToString().c_str());
  json.Add("load_avg_1m", l.load_avg_1m_after);
  json.Add("other_cpu_cores", l.other_cpu_cores);
  json.Add("machine_busy", l.busy);
  json.Add("quick", quick);
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    TT_RETURN_IF_ERROR(json.WriteFile(path));
    std::printf("figures: %s\n", path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::prof

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::prof::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
