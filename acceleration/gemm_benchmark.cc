// Every rung of the GEMM ladder on square C = A * B (no transposes) at 64..1024, with a
// GFLOP/s counter, plus XNNPACK's f32 fully-connected operator as the library yardstick.
//
//   bazel run //acceleration:gemm_benchmark                          # everything
//   bazel run //acceleration:gemm_benchmark -- --benchmark_filter='Packed|Xnnpack'
//   bazel run //acceleration:gemm_benchmark -- --benchmark_filter=Blocking  # kc x mc sweep
//   bazel run //acceleration:gemm_benchmark -- --benchmark_filter=SmallM    # batch-1 layers
//
// GemmNaive stops at 512 (1024 takes over a second per call; gemm_report measures it
// once), so the one-iteration run under `bazel test` stays short. Wall-clock time
// throughout (the threaded cases use two threads). Packed, threaded and XNNPACK cases
// run for every ISA level this CPU has.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/thread_pool.h"
#include "benchmark/benchmark.h"
#include "pthreadpool.h"
#include "xnnpack.h"

namespace tt::accel {
namespace {

// A square problem with random operands (C starts as garbage; beta = 0).
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

void SetFlops(benchmark::State& state, int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * n * n * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

template <void (*Fn)(const GemmArgs&)>
void BM_Rung(benchmark::State& state) {
  Square s(state.range(0));
  for (auto _ : state) {
    Fn(s.args);
    benchmark::DoNotOptimize(s.c.data());
    benchmark::ClobberMemory();
  }
  SetFlops(state, state.range(0));
}

void BM_GemmPacked(benchmark::State& state) {
  const Isa isa = static_cast<Isa>(state.range(1));
  if (!IsaSupported(isa)) return state.SkipWithError("ISA not supported");
  state.SetLabel(IsaName(isa));
  Square s(state.range(0));
  for (auto _ : state) {
    GemmPacked(s.args, isa);
    benchmark::DoNotOptimize(s.c.data());
    benchmark::ClobberMemory();
  }
  SetFlops(state, state.range(0));
}

void BM_GemmThreaded(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(1));
  static ThreadPool* pools[3] = {nullptr, new ThreadPool(1), new ThreadPool(2)};
  state.SetLabel(IsaName(BestIsa()));
  Square s(state.range(0));
  for (auto _ : state) {
    GemmThreaded(s.args, BestIsa(), pools[threads]);
    benchmark::DoNotOptimize(s.c.data());
    benchmark::ClobberMemory();
  }
  SetFlops(state, state.range(0));
}

// GemmSmallM on the batch-1 layers of the reference models, back to back (the weights
// stay in L2, as in a model's forward loop), per ISA: C(M,N) = A(M,K) B(K,N).
void BM_GemmSmallM(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const Isa isa = static_cast<Isa>(state.range(3));
  if (!IsaSupported(isa)) return state.SkipWithError("ISA not supported");
  state.SetLabel(IsaName(isa));
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n), c(m * n);
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a.data();
  g.lda = k;
  g.b = b.data();
  g.ldb = n;
  g.c = c.data();
  g.ldc = n;
  for (auto _ : state) {
    GemmSmallM(g, isa);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["B_GB/s"] =
      benchmark::Counter(4.0 * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// The cache-blocking sweep behind ComputeBlocking's rules: GemmPacked at 1024^3 with
// explicit (kc, mc); nc stays the machine's.
void BM_PackedBlocking(benchmark::State& state) {
  const internal::Ukernel& uk = internal::UkernelFor(BestIsa());
  internal::Blocking b = internal::DefaultBlocking(uk);
  b.kc = state.range(0);
  b.mc = state.range(1) / uk.mr * uk.mr;
  state.SetLabel(uk.name);
  Square s(1024);
  for (auto _ : state) {
    internal::GemmPackedWithBlocking(s.args, BestIsa(), b);
    benchmark::DoNotOptimize(s.c.data());
    benchmark::ClobberMemory();
  }
  SetFlops(state, 1024);
}

// XNNPACK's fully-connected operator computes C(M,N) = A(M,K) * W^T with W stored
// (N,K); XNN_FLAG_TRANSPOSE_WEIGHTS takes W as (K,N), i.e. our B. Like every inference
// library it packs W once, when the operator is created (not timed here), whereas
// GemmPacked packs B on every call.
void BM_XnnpackFc(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  if (xnn_initialize(nullptr) != xnn_status_success) return state.SkipWithError("xnn init");
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  Square s(n);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(n, n, n, n, s.b.data(), nullptr, -INFINITY,
                                        INFINITY, XNN_FLAG_TRANSPOSE_WEIGHTS,
                                        &op) != xnn_status_success ||
      xnn_setup_fully_connected_nc_f32(op, n, s.a.data(), s.c.data(), pool) !=
          xnn_status_success) {
    return state.SkipWithError("xnnpack fully connected setup failed");
  }
  for (auto _ : state) {
    xnn_run_operator(op, pool);
    benchmark::DoNotOptimize(s.c.data());
    benchmark::ClobberMemory();
  }
  xnn_delete_operator(op);
  if (pool != nullptr) pthreadpool_destroy(pool);
  SetFlops(state, n);
}

void Sizes(benchmark::internal::Benchmark* b, int64_t max) {
  for (int64_t n = 64; n <= max; n *= 2) b->Arg(n);
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(BM_Rung, GemmNaive)->Apply([](auto* b) { Sizes(b, 512); })->Name("Naive");
BENCHMARK_TEMPLATE(BM_Rung, GemmIkj)->Apply([](auto* b) { Sizes(b, 1024); })->Name("Ikj");
BENCHMARK_TEMPLATE(BM_Rung, GemmBlocked)
    ->Apply([](auto* b) { Sizes(b, 1024); })
    ->Name("Blocked");
BENCHMARK(BM_GemmPacked)
    ->ArgNames({"n", "isa"})
    ->ArgsProduct({{64, 128, 256, 512, 1024},
                   {static_cast<int64_t>(Isa::kScalar), static_cast<int64_t>(Isa::kAvx2Fma),
                    static_cast<int64_t>(Isa::kAvx512)}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GemmThreaded)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{64, 128, 256, 512, 1024}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GemmSmallM)
    ->ArgNames({"m", "n", "k", "isa"})
    ->ArgsProduct({{1, 4, 7}, {256}, {784}, {1, 2}})
    ->Args({1, 128, 256, 2})
    ->Args({1, 10, 128, 2})
    ->Args({1, 128, 1568, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedBlocking)
    ->ArgNames({"kc", "mc"})
    ->ArgsProduct({{192, 256, 384, 512, 1024}, {98, 168, 336, 1022}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_XnnpackFc)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{64, 128, 256, 512, 1024}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tt::accel
