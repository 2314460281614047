// Throughput of quantize / dequantize on every ISA: GB/s counts the bytes read plus the
// bytes written once each (5 per value: a float and a byte).
//
//   bazel run //quantization:quantize_benchmark
//   bazel run //quantization:quantize_benchmark -- --benchmark_filter='QuantizeInt8/16384'
//
// Names are <function>/<n>/<path>, path 0 = scalar, 1 = avx2+fma, 2 = avx512 (the Isa
// enum). n = 16384 fits L1+L2 (80 KiB touched); n = 4M (20 MiB) streams from L3/memory.
// Paths the CPU lacks report an error instead of a time.
#include <cstdint>
#include <random>
#include <vector>

#include "acceleration/cpu_features.h"
#include "benchmark/benchmark.h"
#include "quantization/qparams.h"
#include "quantization/quantize.h"

namespace tt::quant {
namespace {

using accel::Isa;

std::vector<float> Random(int64_t n) {
  std::mt19937 gen(1);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(n);
  for (float& v : x) v = d(gen);
  return x;
}

template <typename Fn>
void Run(benchmark::State& state, Fn fn) {
  const int64_t n = state.range(0);
  const Isa isa = static_cast<Isa>(state.range(1));
  if (!accel::IsaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  state.SetLabel(accel::IsaName(isa));
  accel::ScopedIsa force(isa);
  fn(state, n);
  state.SetBytesProcessed(state.iterations() * n * (sizeof(float) + 1));
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_QuantizeInt8(benchmark::State& state) {
  Run(state, [](benchmark::State& st, int64_t n) {
    const std::vector<float> x = Random(n);
    std::vector<int8_t> q(n);
    const QParams p = ChooseSymmetricQParams(8.0f, QType::kInt8).value();
    for (auto _ : st) {
      QuantizeInt8(x.data(), n, p, q.data());
      benchmark::DoNotOptimize(q.data());
      benchmark::ClobberMemory();
    }
  });
}

void BM_QuantizeUint8(benchmark::State& state) {
  Run(state, [](benchmark::State& st, int64_t n) {
    const std::vector<float> x = Random(n);
    std::vector<uint8_t> q(n);
    const QParams p = ChooseAffineQParams(-3.0f, 8.0f, QType::kUint8).value();
    for (auto _ : st) {
      QuantizeUint8(x.data(), n, p, q.data());
      benchmark::DoNotOptimize(q.data());
      benchmark::ClobberMemory();
    }
  });
}

void BM_DequantizeUint8(benchmark::State& state) {
  Run(state, [](benchmark::State& st, int64_t n) {
    const std::vector<float> x = Random(n);
    const QParams p = ChooseAffineQParams(-3.0f, 8.0f, QType::kUint8).value();
    std::vector<uint8_t> q(n);
    QuantizeUint8Ref(x.data(), n, p, q.data());
    std::vector<float> y(n);
    for (auto _ : st) {
      DequantizeUint8(q.data(), n, p, y.data());
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  });
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {int64_t{16384}, int64_t{1} << 22}) {
    for (int isa = 0; isa < 3; ++isa) b->Args({n, isa});
  }
}

BENCHMARK(BM_QuantizeInt8)->Apply(Args);
BENCHMARK(BM_QuantizeUint8)->Apply(Args);
BENCHMARK(BM_DequantizeUint8)->Apply(Args);

}  // namespace
}  // namespace tt::quant
