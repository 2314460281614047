// The GEMM ladder's measured report (the module README (GEMM ladder section)): every rung at 64..1024 in one
// run, against the measured FMA peak and XNNPACK, the 1- vs 2-thread crossover, and a
// contention experiment.
//
//   bazel run //acceleration:gemm_report                    # ~35 s; writes gemm_ladder.svg
//   bazel run //acceleration:gemm_report -- --svg=/tmp/ladder.svg   # --svg= for none
//   bazel run //acceleration:gemm_report -- --quick         # 64..256, no contention
//
// Method: for each size, the rungs are timed interleaved (tt::prof::MeasureInterleaved:
// one call of each per round, rotating), and the median is reported, so that drift on
// this shared machine hits all of them alike. XNNPACK's 2-thread runs are measured in a
// separate phase, after ours: its pthreadpool workers spin-wait between calls and would
// take a core from whatever runs next.
//
// Contention: a child process spinning in a busy loop (fork + for(;;)) takes one of the
// two cores while the same calls are timed again; it is killed right after.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/thread_pool.h"
#include "profiling/roofline.h"
#include "profiling/timer.h"
#include "pthreadpool.h"
#include "tensor/check.h"
#include "xnnpack.h"

namespace tt::accel {
namespace {

struct Options {
  bool quick = false;
  bool contention = true;
  std::string svg = "gemm_ladder.svg";  // relative to where `bazel run` was started
};

// A square problem C = A * B with random operands.
struct Square {
  explicit Square(int64_t n) : a(n * n), b(n * n), c(n * n) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : a) v = u(rng);
    for (float& v : b) v = u(rng);
    args.m = args.n = args.k = n;
    args.a = a.data();
    args.b = b.data();
    args.c = c.data();
    args.lda = args.ldb = args.ldc = n;
  }
  std::vector<float> a, b, c;
  GemmArgs args;
};

// XNNPACK's f32 fully-connected operator on the same problem (B as (K,N) weights, packed
// once at creation, as inference libraries do; the call itself is what is timed).
class XnnpackFc {
 public:
  XnnpackFc(Square& s, int threads) {
    const int64_t n = s.args.n;
    TT_CHECK(xnn_initialize(nullptr) == xnn_status_success, "xnn_initialize failed");
    pool_ = threads > 1 ? pthreadpool_create(threads) : nullptr;
    TT_CHECK(xnn_create_fully_connected_nc_f32(n, n, n, n, s.b.data(), nullptr, -INFINITY,
                                               INFINITY, XNN_FLAG_TRANSPOSE_WEIGHTS,
                                               &op_) == xnn_status_success,
             "xnn_create_fully_connected_nc_f32 failed");
    TT_CHECK(xnn_setup_fully_connected_nc_f32(op_, n, s.a.data(), s.c.data(), pool_) ==
                 xnn_status_success,
             "xnn_setup_fully_connected_nc_f32 failed");
  }
  ~XnnpackFc() {
    xnn_delete_operator(op_);
    if (pool_ != nullptr) pthreadpool_destroy(pool_);
  }
  void Run() { xnn_run_operator(op_, pool_); }

 private:
  pthreadpool_t pool_ = nullptr;
  xnn_operator_t op_ = nullptr;
};

double Gflops(int64_t n, double ns) { return 2.0 * n * n * n / ns; }

// Times `fns` interleaved and returns each one's Measurement.
std::vector<prof::Measurement> Interleaved(const std::vector<prof::NamedFunction>& fns,
                                           int64_t n, int64_t min_runs) {
  prof::MeasureOptions o;
  o.warmup = 1;
  o.min_runs = min_runs;
  o.max_runs = 2000;
  o.min_time_s = n >= 512 ? 0.5 : 0.3;
  o.max_time_s = 60.0;
  auto result = prof::MeasureInterleaved(fns, o);
  TT_CHECK(result.ok(), result.status().ToString());
  return *std::move(result);
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

void Pause() { std::this_thread::sleep_for(std::chrono::milliseconds(200)); }

// One row of the main table: a rung's median time per size (NaN where not run).
struct Row {
  std::string name;
  bool two_threads = false;
  std::vector<double> ns;
};

void WriteSvg(const std::string& path, const std::vector<int64_t>& sizes,
              const std::vector<Row>& rows, double peak1, double peak2) {
  // GFLOP/s against size (log2 axis), one polyline per rung, dashed peak lines.
  const double w = 760, h = 440, left = 60, right = 200, top = 30, bottom = 50;
  const double ymax = std::ceil(std::max(peak2, peak1) * 1.1 / 50.0) * 50.0;
  auto x_of = [&](size_t i) {
    return left + (w - left - right) * i / std::max<size_t>(1, sizes.size() - 1);
  };
  auto y_of = [&](double g) { return top + (h - top - bottom) * (1.0 - g / ymax); };
  const char* colors[] = {"#999999", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
                          "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"};
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
      "font-family='sans-serif' font-size='12'>\n<rect width='100%%' height='100%%' "
      "fill='white'/>\n<text x='%.0f' y='18'>GEMM ladder, square C = A*B (median GFLOP/s)"
      "</text>\n",
      w, h, left);
  for (double g = 0; g <= ymax; g += 50) {
    absl::StrAppendFormat(&svg,
                          "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#eee'/>"
                          "<text x='%.1f' y='%.1f' text-anchor='end'>%.0f</text>\n",
                          left, w - right, y_of(g), y_of(g), left - 5, y_of(g) + 4, g);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    absl::StrAppendFormat(&svg, "<text x='%.1f' y='%.1f' text-anchor='middle'>%d</text>\n",
                          x_of(i), h - bottom + 18, sizes[i]);
  }
  absl::StrAppendFormat(&svg, "<text x='%.1f' y='%.1f' text-anchor='middle'>M = N = K</text>\n",
                        (left + w - right) / 2, h - 12);
  for (auto [peak, label] : {std::pair{peak1, "peak, 1 thread"}, {peak2, "peak, 2 threads"}}) {
    absl::StrAppendFormat(&svg,
                          "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='black' "
                          "stroke-dasharray='4,3'/><text x='%.1f' y='%.1f'>%s</text>\n",
                          left, w - right, y_of(peak), y_of(peak), left + 5,
                          y_of(peak) - 4, label);
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string points;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (std::isnan(rows[r].ns[i])) continue;
      absl::StrAppendFormat(&points, "%.1f,%.1f ", x_of(i),
                            y_of(Gflops(sizes[i], rows[r].ns[i])));
    }
    const char* color = colors[r % 10];
    absl::StrAppendFormat(&svg,
                          "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>\n"
                          "<text x='%.1f' y='%.1f' fill='%s'>%s</text>\n",
                          color, points, w - right + 5, top + 40 + 16.0 * r, color,
                          rows[r].name);
  }
  svg += "</svg>\n";
  std::ofstream(path) << svg;
  std::printf("wrote %s\n", path.c_str());
}

int Main(const Options& opt) {
  const std::vector<int64_t> sizes = opt.quick
                                          ? std::vector<int64_t>{64, 128, 256}
                                          : std::vector<int64_t>{64, 128, 256, 512, 1024};
  const Isa best = BestIsa();
  const internal::Blocking bl = internal::DefaultBlocking(internal::UkernelFor(best));
  std::printf("GEMM ladder report\nCPU: %s, %u logical CPUs; best ISA %s\n",
              CpuModel().c_str(), std::thread::hardware_concurrency(), IsaName(best));
  const internal::CacheSizes caches = internal::DetectCacheSizes();
  std::printf("caches: L1d %lld KiB, L2 %lld KiB, L3 %lld MiB; blocking for %s: kc=%lld "
              "mc=%lld nc=%lld\n",
              static_cast<long long>(caches.l1 >> 10), static_cast<long long>(caches.l2 >> 10),
              static_cast<long long>(caches.l3 >> 20), internal::UkernelFor(best).name,
              static_cast<long long>(bl.kc), static_cast<long long>(bl.mc),
              static_cast<long long>(bl.nc));
  std::printf("load average at start: %s\n\n", LoadAverage().c_str());

  const prof::Isa peak_isa = IsaSupported(Isa::kAvx512)    ? prof::Isa::kAvx512
                             : IsaSupported(Isa::kAvx2Fma) ? prof::Isa::kAvx2Fma
                                                           : prof::Isa::kScalar;
  const double peak1 = prof::MeasurePeakGflops(peak_isa, 1);
  const double peak2 = prof::MeasurePeakGflops(peak_isa, 2);
  std::printf("measured FP32 FMA peak (%s): %.1f GFLOP/s on 1 thread, %.1f on 2\n\n",
              prof::IsaName(peak_isa), peak1, peak2);

  ThreadPool pool1(1), pool2(2);
  std::vector<Row> rows;
  for (const char* name : {"naive", "ikj", "blocked", "packed scalar", "packed avx2",
                           "packed avx512", "xnnpack 1T", "threaded 1T", "threaded 2T",
                           "xnnpack 2T"}) {
    Row r;
    r.name = name;
    r.two_threads = r.name.find("2T") != std::string::npos;
    r.ns.assign(sizes.size(), NAN);
    rows.push_back(r);
  }
  const Isa isas[3] = {Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512};

  for (size_t si = 0; si < sizes.size(); ++si) {
    const int64_t n = sizes[si];
    Square s(n);
    XnnpackFc xnn1(s, 1);
    // Phase 1: the single-threaded rungs and XNNPACK on one thread.
    std::vector<prof::NamedFunction> fns = {
        {"naive", [&] { GemmNaive(s.args); }},
        {"ikj", [&] { GemmIkj(s.args); }},
        {"blocked", [&] { GemmBlocked(s.args); }},
    };
    for (int i = 0; i < 3; ++i) {
      if (!IsaSupported(isas[i])) continue;
      fns.push_back({rows[3 + i].name, [&, i] { GemmPacked(s.args, isas[i]); }});
    }
    fns.push_back({"xnnpack 1T", [&] { xnn1.Run(); }});
    const std::vector<prof::Measurement> one = Interleaved(fns, n, n >= 1024 ? 3 : 7);
    Pause();
    // Phase 2: ours, 1 vs 2 threads (GemmThreaded with its size threshold).
    const std::vector<prof::Measurement> two =
        Interleaved({{"threaded 1T", [&] { GemmThreaded(s.args, best, &pool1); }},
                     {"threaded 2T", [&] { GemmThreaded(s.args, best, &pool2); }}},
                    n, 15);
    for (const auto* group : {&one, &two}) {
      for (const prof::Measurement& m : *group) {
        for (Row& r : rows) {
          if (r.name == m.name) r.ns[si] = m.summary.median;
        }
      }
    }
    std::printf("  %4lld^3: single-thread phase: %s\n         threads phase:       %s\n",
                static_cast<long long>(n), one[0].load.ToString().c_str(),
                two[0].load.ToString().c_str());
    Pause();
  }
  // Phase 3: XNNPACK on 2 threads, after all of ours (its workers spin-wait).
  for (size_t si = 0; si < sizes.size(); ++si) {
    Square s(sizes[si]);
    XnnpackFc xnn2(s, 2);
    const prof::Measurement m = Interleaved({{"xnnpack 2T", [&] { xnn2.Run(); }}}, sizes[si], 9)[0];
    rows[9].ns[si] = m.summary.median;
    std::printf("  %4lld^3 xnnpack 2T: %s\n", static_cast<long long>(sizes[si]),
                m.load.ToString().c_str());
  }
  std::printf("load average after the main table: %s\n\n", LoadAverage().c_str());

  // Table 1: GFLOP/s.
  std::printf("GFLOP/s (median), square M = N = K; %% of peak for the fastest rungs\n");
  std::printf("%-15s", "rung");
  for (int64_t n : sizes) std::printf("%12lld", static_cast<long long>(n));
  std::printf("\n");
  for (const Row& r : rows) {
    std::printf("%-15s", r.name.c_str());
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (std::isnan(r.ns[i])) {
        std::printf("%12s", "-");
      } else {
        const double g = Gflops(sizes[i], r.ns[i]);
        std::printf("%6.1f (%3.0f%%)", g, 100.0 * g / (r.two_threads ? peak2 : peak1));
      }
    }
    std::printf("\n");
  }
  // Table 2: speedups.
  std::printf("\nspeedup over naive (same size)\n%-15s", "rung");
  for (int64_t n : sizes) std::printf("%10lld", static_cast<long long>(n));
  std::printf("\n");
  for (const Row& r : rows) {
    std::printf("%-15s", r.name.c_str());
    for (size_t i = 0; i < sizes.size(); ++i) std::printf("%9.1fx", rows[0].ns[i] / r.ns[i]);
    std::printf("\n");
  }
  // Speed ratios: time(baseline) / time(candidate), > 1 when the candidate is faster.
  std::printf("\nspeed ratios                 ");
  for (int64_t n : sizes) std::printf("%10lld", static_cast<long long>(n));
  auto ratio_row = [&](const char* label, const Row& baseline, const Row& candidate) {
    std::printf("\n%-29s", label);
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::printf("%9.2fx", baseline.ns[i] / candidate.ns[i]);
    }
  };
  ratio_row("packed avx512 / xnnpack 1T", rows[6], rows[5]);
  ratio_row("threaded 2T / threaded 1T", rows[7], rows[8]);
  ratio_row("threaded 2T / xnnpack 2T", rows[9], rows[8]);
  std::printf("\n\n");

  // Efficiency at 1024 against a peak measured in alternation with it: the machine's
  // speed drifts (other tenants of the host), so the ratio of neighbours is steadier
  // than the ratio of two medians taken seconds apart.
  {
    Square s(1024);
    prof::PeakOptions quick_peak;
    quick_peak.seconds = 0.015;
    quick_peak.repetitions = 1;
    std::vector<double> ratios, gemm_gflops;
    for (int round = 0; round < 21; ++round) {
      const double peak = prof::MeasurePeakGflops(peak_isa, 1, quick_peak);
      const auto t0 = std::chrono::steady_clock::now();
      GemmPacked(s.args, best);
      const double ns = std::chrono::duration<double, std::nano>(
                            std::chrono::steady_clock::now() - t0).count();
      gemm_gflops.push_back(Gflops(1024, ns));
      ratios.push_back(Gflops(1024, ns) / peak);
    }
    std::sort(ratios.begin(), ratios.end());
    std::sort(gemm_gflops.begin(), gemm_gflops.end());
    std::printf("GemmPacked(%s) at 1024^3 alternated with the FMA peak loop, 21 rounds: "
                "median %.1f GFLOP/s (best %.1f), %.0f%% of the neighbouring peak "
                "(quartiles %.0f%%..%.0f%%)\n\n",
                IsaName(best), gemm_gflops[10], gemm_gflops[20], 100 * ratios[10],
                100 * ratios[5], 100 * ratios[15]);
  }

  // The crossover: 2 threads forced vs 1 thread, small sizes.
  std::printf("1 vs 2 threads without the threshold (GemmThreaded, min_flops = 0), median us:\n");
  std::printf("%8s %10s %10s %8s\n", "n", "1 thread", "2 threads", "2T gain");
  for (int64_t n : {64, 96, 128, 160, 192, 224, 256, 320, 384}) {
    Square s(n);
    auto ms = Interleaved({{"1T", [&] { GemmPacked(s.args, best); }},
                           {"2T", [&] { GemmThreaded(s.args, best, &pool2, 0.0); }}},
                          n, 15);
    std::printf("%8lld %10.1f %10.1f %7.2fx\n", static_cast<long long>(n),
                ms[0].summary.median / 1e3, ms[1].summary.median / 1e3,
                ms[0].summary.median / ms[1].summary.median);
  }
  std::printf("kGemmThreadedMinFlops = %.3g (2n^3 = that at n = %.0f)\n\n",
              kGemmThreadedMinFlops, std::cbrt(kGemmThreadedMinFlops / 2));

  if (opt.contention) {
    // 256^3 (about 0.2 ms) and 1024^3 (about 15 ms): a spin-waiting pool hurts most
    // where the call is short next to a scheduler time slice.
    Square s256(256), s1024(1024);
    auto ours = [&](Square& s) {
      return Interleaved({{"ours 1T", [&] { GemmPacked(s.args, best); }},
                          {"ours 2T", [&] { GemmThreaded(s.args, best, &pool2); }}},
                         s.args.n, 15);
    };
    auto theirs = [&](Square& s) {
      XnnpackFc xnn2(s, 2);
      return Interleaved({{"xnnpack 2T", [&] { xnn2.Run(); }}}, s.args.n, 15);
    };
    auto print = [](const char* when, int64_t n, const std::vector<prof::Measurement>& ms) {
      for (const prof::Measurement& m : ms) {
        std::printf("  %-5s %4lld^3 %-11s median %9.3f ms  p90 %9.3f ms  max %9.3f ms  "
                    "(%lld runs)\n",
                    when, static_cast<long long>(n), m.name.c_str(), m.summary.median / 1e6,
                    m.summary.p90 / 1e6, m.summary.max / 1e6,
                    static_cast<long long>(m.summary.count));
      }
      std::printf("        %s\n", ms[0].load.ToString().c_str());
    };
    std::printf("contention: quiet, then with a busy child process on one core\n");
    for (Square* s : {&s256, &s1024}) {
      print("quiet", s->args.n, ours(*s));
      Pause();
      print("quiet", s->args.n, theirs(*s));
      Pause();
    }
    const pid_t child = fork();
    TT_CHECK(child >= 0, "fork failed");
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the report, even if it aborts
      volatile uint64_t spin = 0;
      for (;;) spin = spin + 1;  // the competing process: one core, busy, forever
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf("  busy child pid %d started; load average %s\n", static_cast<int>(child),
                LoadAverage().c_str());
    for (Square* s : {&s256, &s1024}) {
      print("busy", s->args.n, ours(*s));
      Pause();
      print("busy", s->args.n, theirs(*s));
      Pause();
    }
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::printf("  busy child killed; load average %s\n\n", LoadAverage().c_str());
  }
  if (!opt.svg.empty()) {
    std::string path = opt.svg;
    const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");  // set by `bazel run`
    if (path[0] != '/' && cwd != nullptr) path = absl::StrCat(cwd, "/", path);
    WriteSvg(path, sizes, rows, peak1, peak2);
  }
  return 0;
}

}  // namespace
}  // namespace tt::accel

int main(int argc, char** argv) {
  tt::accel::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      opt.quick = true;
      opt.contention = false;
    } else if (arg == "--no_contention") {
      opt.contention = false;
    } else if (arg.rfind("--svg=", 0) == 0) {
      opt.svg = arg.substr(6);
    } else {
      std::fprintf(stderr,
                   "usage: gemm_report [--quick] [--no_contention] [--svg=FILE (default "
                   "gemm_ladder.svg; empty: none)]\n");
      return 2;
    }
  }
  return tt::accel::Main(opt);
}
