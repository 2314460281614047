// The profiler's cost and the roofline's kernels.
//
//   bazel run //profiling:profiler_benchmark -- --benchmark_min_time=0.5
//   bazel run //profiling:profiler_benchmark -- --benchmark_filter='Peak|Triad'
//
// Overhead: BM_OpScope_* time one empty op (OpScope) with nothing listening, with an
// observer that does nothing, and with an active Profiler (without and with shapes); the
// Profiler's minus the null observer's time is the cost of recording one op, of which
// BM_SteadyClockNow is one of the two clock reads. BM_MlpForward/* runs a small MLP forward
// (5 ops) and the course's (784-256-128-10, 7 ops) without and with a Profiler.
// Roofline kernels: BM_PeakGflops/<isa>/<threads> reports GFLOP/s of the FMA loop
// (isa 0 = avx512f, 1 = avx2+fma, 2 = scalar); BM_Triad/<threads> reports triad GB/s
// over DefaultTriadElements() floats per array.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

#include "benchmark/benchmark.h"
#include "profiling/profiler.h"
#include "profiling/roofline.h"
#include "tensor/instrument.h"
#include "tensor/models.h"
#include "tensor/ops.h"

namespace tt::prof {
namespace {

// A fresh Profiler every this many ops, so memory stays small however long it runs.
constexpr int64_t kOpsPerProfiler = 1 << 16;

// Every OpScope benchmark passes the two input shapes a matmul passes, so that the seam's
// own cost (it copies the shapes into the event when anyone listens) is in the baseline.
const tensor::Shape kA = {64, 784}, kB = {784, 256};

void BM_OpScope_NoObserver(benchmark::State& state) {
  for (auto _ : state) {
    tensor::OpScope scope("op", {&kA, &kB}, 1, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpScope_NoObserver);

void BM_OpScope_NullObserver(benchmark::State& state) {
  tensor::OpObserver null_observer;
  tensor::ScopedOpObserver listen(&null_observer);
  for (auto _ : state) {
    tensor::OpScope scope("op", {&kA, &kB}, 1, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpScope_NullObserver);

// The clock the profiler reads twice per op.
void BM_SteadyClockNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(BM_SteadyClockNow);

// arg 0: shapes off, 1: shapes on (two 2-d input shapes, as a matmul has).
void BM_OpScope_Profiler(benchmark::State& state) {
  ProfilerOptions options;
  options.record_shapes = state.range(0) != 0;
  options.reserve_ops = kOpsPerProfiler;
  auto profiler = std::make_unique<Profiler>(options);
  int64_t ops = 0;
  for (auto _ : state) {
    {
      tensor::OpScope scope("op", {&kA, &kB}, 1, 1);
      benchmark::ClobberMemory();
    }
    if (++ops % kOpsPerProfiler == 0) {
      state.PauseTiming();
      profiler.reset();
      profiler = std::make_unique<Profiler>(options);
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_OpScope_Profiler)->Arg(0)->Arg(1);

// args: batch, mode (0 = no observer, 1 = Profiler without shapes, 2 = with shapes,
// 3 = an observer that does nothing: the seam's own share), and whether the MLP is the
// small one (1) or the course's 784-256-128-10 (0).
void BM_MlpForward(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const bool small = state.range(2) != 0;
  tensor::MlpConfig config;
  if (small) config.layer_sizes = {16, 16, 10};
  auto mlp = tensor::MakeMlp(config, /*seed=*/1);
  tensor::Rng rng(2);
  const tensor::Tensor x = tensor::Tensor::Randn({batch, config.layer_sizes[0]}, rng);
  ProfilerOptions options;
  options.record_shapes = state.range(1) == 2;
  std::unique_ptr<Profiler> profiler;
  if (state.range(1) == 1 || state.range(1) == 2) profiler = std::make_unique<Profiler>(options);
  tensor::OpObserver null_observer;
  std::unique_ptr<tensor::ScopedOpObserver> listen;
  if (state.range(1) == 3) listen = std::make_unique<tensor::ScopedOpObserver>(&null_observer);
  int64_t forwards = 0;
  for (auto _ : state) {
    tensor::Tensor y = mlp->Forward(x);
    benchmark::DoNotOptimize(y.data());
    if (profiler != nullptr && ++forwards % 4096 == 0) {
      state.PauseTiming();
      profiler.reset();
      profiler = std::make_unique<Profiler>(options);
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_MlpForward)
    ->ArgNames({"batch", "profiler", "small"})
    ->Args({4, 0, 1})
    ->Args({4, 1, 1})
    ->Args({4, 2, 1})
    ->Args({4, 3, 1})
    ->Args({64, 0, 0})
    ->Args({64, 2, 0});

void BM_PeakGflops(benchmark::State& state) {
  const Isa isa = state.range(0) == 0   ? Isa::kAvx512
                  : state.range(0) == 1 ? Isa::kAvx2Fma
                                        : Isa::kScalar;
  const int threads = static_cast<int>(state.range(1));
  if (!IsaSupported(isa)) {
    state.SkipWithError("this CPU lacks the ISA");
    for (auto _ : state) {
    }
    return;
  }
  PeakOptions options;
  options.seconds = 0.1;
  options.repetitions = 1;
  double best = 0;
  for (auto _ : state) best = std::max(best, MeasurePeakGflops(isa, threads, options));
  state.counters["GFLOP/s"] = best;
  state.SetLabel(IsaName(isa));
}
BENCHMARK(BM_PeakGflops)
    ->ArgNames({"isa", "threads"})
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Triad(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t elements = DefaultTriadElements();
  TriadOptions options;
  options.repetitions = 5;
  double best = 0;
  for (auto _ : state) best = std::max(best, MeasureTriadBandwidthGBs(elements, threads, options));
  state.counters["GB/s"] = best;
  state.counters["MiB"] = 12.0 * elements / (1 << 20);
}
BENCHMARK(BM_Triad)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace tt::prof
