// Google Benchmark for the int8 GEMM: each kernel, the f32 GEMM and XNNPACK's qs8 fully
// connected at square sizes (one thread, weights packed beforehand), batch-1 GEMV, the
// threaded form, and the interleaved same-run comparison (gemm_compare.h).
//
//   bazel run //quantization:int8_gemm_benchmark                      # everything
//   bazel run //quantization:int8_gemm_benchmark -- --benchmark_filter=Compare
//
// Counter "ops" is multiply-adds x 2 per second (GOP/s when shown as G/s).
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/thread_pool.h"
#include "benchmark/benchmark.h"
#include "quantization/gemm_compare.h"
#include "quantization/int8_gemm.h"
#include "quantization/int8_isa.h"
#include "quantization/requantize.h"
#include "quantization/xnnpack_qs8.h"

namespace tt::quant {
namespace {

void SetOps(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["ops"] = benchmark::Counter(2.0 * m * n * k,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

// One (M, N, K) problem with data for every engine.
struct Int8Problem {
  Int8Problem(int64_t m_, int64_t n_, int64_t k_, Int8Kernel kernel)
      : m(m_), n(n_), k(k_), a(m * k), b(k * n), c(m * n), bias(n) {
    std::mt19937_64 rng(1);
    for (uint8_t& v : a) v = static_cast<uint8_t>(rng());
    for (int8_t& v : b) v = static_cast<int8_t>(rng());
    packed = PackedInt8Matrix::Pack(b.data(), k, n, n, kernel);
    mult.assign(n, QuantizeMultiplier(1.0 / 4096).value());
    ep.bias = bias.data();
    ep.multipliers = mult.data();
    ep.output_zero_point = 128;
  }
  int64_t m, n, k;
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  std::vector<uint8_t> c;
  std::vector<int32_t> bias;
  std::vector<FixedPointMultiplier> mult;
  PackedInt8Matrix packed;
  Int8Epilogue ep;
};

void RunInt8(benchmark::State& state, int64_t m, int64_t n, int64_t k, Int8Kernel kernel,
             accel::ThreadPool* pool) {
  if (!Int8KernelSupported(kernel)) {
    state.SkipWithError("kernel not supported on this CPU");
    return;
  }
  Int8Problem p(m, n, k, kernel);
  for (auto _ : state) {
    Int8GemmThreaded(p.packed, m, p.a.data(), k, 100, p.ep, p.c.data(), n, pool);
    benchmark::DoNotOptimize(p.c.data());
  }
  SetOps(state, m, n, k);
  state.SetLabel(Int8KernelName(kernel));
}

// args: size, kernel (0 scalar, 1 avx2, 2 avx512vnni)
void BM_Int8Gemm(benchmark::State& state) {
  const int64_t s = state.range(0);
  RunInt8(state, s, s, s, static_cast<Int8Kernel>(state.range(1)), nullptr);
}
BENCHMARK(BM_Int8Gemm)
    ->ArgsProduct({{256, 512, 1024}, {2, 1}})
    ->Args({256, 0})
    ->Unit(benchmark::kMicrosecond);

// Batch-1 and small-batch inference: M rows against a 1024 x 1024 layer.
void BM_Int8GemmSmallM(benchmark::State& state) {
  RunInt8(state, state.range(0), 1024, 1024, ActiveInt8Kernel(), nullptr);
}
BENCHMARK(BM_Int8GemmSmallM)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_Int8GemmThreaded(benchmark::State& state) {
  const int64_t s = state.range(0);
  RunInt8(state, s, s, s, ActiveInt8Kernel(), &accel::DefaultThreadPool());
}
BENCHMARK(BM_Int8GemmThreaded)
    ->Arg(128)
    ->Arg(192)
    ->Arg(256)
    ->Arg(384)
    ->Arg(1024)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The same sizes on one thread, for the crossover (real time, like the threaded one).
void BM_Int8GemmOneThread(benchmark::State& state) {
  const int64_t s = state.range(0);
  RunInt8(state, s, s, s, ActiveInt8Kernel(), nullptr);
}
BENCHMARK(BM_Int8GemmOneThread)
    ->Arg(128)
    ->Arg(192)
    ->Arg(256)
    ->Arg(384)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_F32GemmPacked(benchmark::State& state) {
  const int64_t s = state.range(0);
  std::vector<float> a(s * s, 0.5f), b(s * s, 0.25f), c(s * s);
  accel::GemmArgs g;
  g.m = g.n = g.k = s;
  g.a = a.data();
  g.lda = s;
  g.b = b.data();
  g.ldb = s;
  g.c = c.data();
  g.ldc = s;
  for (auto _ : state) {
    accel::GemmPacked(g, accel::ActiveIsa());
    benchmark::DoNotOptimize(c.data());
  }
  SetOps(state, s, s, s);
  state.SetLabel(accel::IsaName(accel::ActiveIsa()));
}
BENCHMARK(BM_F32GemmPacked)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMicrosecond);

void BM_XnnpackQs8(benchmark::State& state) {
  const int64_t s = state.range(0);
  std::vector<int8_t> x(s * s + 16, 3), w(s * s, -2), y(s * s);
  XnnpackQs8Params p;
  p.k = p.n = s;
  p.input_scale = 0.02f;
  p.kernel_scale = 0.004f;
  p.output_scale = 0.5f;
  auto fc = XnnpackQs8FullyConnected::Create(w.data(), nullptr, p);
  if (!fc.ok()) {
    state.SkipWithError(fc.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    if (!(*fc)->Run(s, x.data(), y.data()).ok()) state.SkipWithError("run failed");
    benchmark::DoNotOptimize(y.data());
  }
  SetOps(state, s, s, s);
}
BENCHMARK(BM_XnnpackQs8)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMicrosecond);

// The interleaved comparison of the report (one iteration = one CompareInt8Gemm).
void BM_CompareInt8Gemm(benchmark::State& state) {
  Int8GemmFigures f;
  for (auto _ : state) f = CompareInt8Gemm(state.range(0), 0.3);
  state.counters["int8_gops"] = f.int8_gops;
  state.counters["f32_gflops"] = f.f32_gflops;
  state.counters["xnn_qs8_gops"] = f.xnnpack_qs8_gops;
  state.counters["int8_vs_f32"] = f.int8_gops / f.f32_gflops;
  state.counters["int8_vs_xnn"] = f.int8_gops / f.xnnpack_qs8_gops;
  state.SetLabel(std::string(f.kernel) + (f.busy ? ", BUSY MACHINE" : ""));
}
BENCHMARK(BM_CompareInt8Gemm)->Arg(256)->Arg(512)->Arg(1024)->Iterations(1)->Unit(
    benchmark::kMillisecond);

}  // namespace
}  // namespace tt::quant
