// Measures where threads start to pay for GEMM on this machine and prints the dispatch
// table the "auto" backend uses, in the text form TT_DISPATCH_TABLE reads.
//
//   bazel run -c opt //acceleration:crossover_table -- --out=/tmp/dispatch.txt
//   TT_DISPATCH_TABLE=/tmp/dispatch.txt bazel run //acceleration:train_mnist -- --backend=auto
//
// For each size it times the packed GEMM on one thread and on the pool, interleaved (the
// profiling module's MeasureInterleaved), and calls the threaded path the winner only
// when the Mann-Whitney test says it is faster. The crossover is the smallest size from
// which threads win at every larger size.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "acceleration/backends.h"
#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/thread_pool.h"
#include "profiling/compare.h"
#include "tensor/check.h"

ABSL_FLAG(std::string, out, "", "also write the dispatch table to this file");
ABSL_FLAG(bool, quick, false, "a few small sizes with tiny budgets (the tool's test)");

namespace tt::accel {
namespace {

absl::Status Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  ThreadPool& pool = DefaultThreadPool();
  std::vector<int64_t> sizes = {16, 32, 48, 64, 80, 96, 128, 160, 192, 256, 384, 512};
  if (quick) sizes = {16, 64};
  prof::MeasureOptions options;
  options.min_time_s = quick ? 0.0 : 0.15;
  options.min_runs = quick ? 2 : 10;
  options.max_runs = quick ? 3 : 5000;
  std::printf("packed GEMM (%s), 1 thread vs %d threads, interleaved\n", IsaName(ActiveIsa()),
              pool.size());
  std::printf("%8s %12s %12s %12s %10s  %s\n", "size", "MFLOP", "1 thread", "threads",
              "speedup", "verdict");
  double crossover = std::numeric_limits<double>::infinity();
  for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {  // largest first
    const int64_t s = *it;
    std::vector<float> a(s * s, 0.5f), b(s * s, 0.25f), c(s * s);
    GemmArgs g;
    g.m = g.n = g.k = s;
    g.a = a.data();
    g.lda = s;
    g.b = b.data();
    g.ldb = s;
    g.c = c.data();
    g.ldc = s;
    // GemmThreaded stays on one thread below its own threshold; min_flops = 0 forces the
    // split so that what threads cost at small sizes is measured, not assumed.
    std::vector<prof::NamedFunction> fns = {
        {"1 thread", [&] { GemmPacked(g, ActiveIsa()); }},
        {"threads", [&] { GemmThreaded(g, ActiveIsa(), &pool, /*min_flops=*/0.0); }},
    };
    TT_ASSIGN_OR_RETURN(std::vector<prof::Measurement> ms,
                        prof::MeasureInterleaved(fns, options));
    TT_ASSIGN_OR_RETURN(prof::Comparison cmp, prof::Compare(ms[0], ms[1]));
    const double mflops = 2.0 * s * s * s / 1e6;
    std::printf("%8lld %12.2f %9.1f us %9.1f us %9.2fx  %s\n", static_cast<long long>(s),
                mflops, ms[0].summary.median / 1e3, ms[1].summary.median / 1e3, cmp.speedup,
                prof::VerdictName(cmp.verdict));
    // Sizes run from the largest down: the crossover is the last size of the unbroken run
    // of wins.
    if (cmp.verdict != prof::Verdict::kFaster) break;
    crossover = mflops;
  }
  std::vector<DispatchRule> rules;
  if (std::isinf(crossover)) {
    rules = {{std::numeric_limits<double>::infinity(), GemmEngine::kSimd}};
  } else {
    rules = {{crossover * 1e6, GemmEngine::kSimd},
             {std::numeric_limits<double>::infinity(), GemmEngine::kSimdThreaded}};
  }
  const DispatchTable table(rules);
  std::printf("\nmeasured dispatch table (the compiled-in default is %g MFLOP):\n%s",
              kGemmThreadedMinFlops / 1e6, table.ToString().c_str());
  if (const std::string path = absl::GetFlag(FLAGS_out); !path.empty()) {
    std::ofstream out(path);
    out << table.ToString();
    if (!out) return absl::InternalError(absl::StrFormat("cannot write '%s'", path));
    std::printf("written to %s (use it with TT_DISPATCH_TABLE=%s)\n", path.c_str(), path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::accel

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::accel::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "crossover_table: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
