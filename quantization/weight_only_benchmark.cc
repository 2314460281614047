// Weight-only Linear kernels on the reference GPT's shapes (d_model 128): f32 GEMM
// (acceleration's GemmPacked, one thread) vs int8 vs int4 weights, at M = 1 (decoding
// one token) up to M = 16, plus both int8/int4 implementations forced at every M to
// find where dequantize-and-GEMM overtakes the GEMV (kWeightOnlyGemvMaxRowsInt8/Int4).
//
//   bazel run //quantization:weight_only_benchmark
//   bazel run //quantization:weight_only_benchmark -- --benchmark_filter='/1$'   # M = 1
//
// Arguments are K (in), N (out), M (rows). Counters: GFLOP/s and the weight bytes each
// call reads ("weight_GB/s"). For ratios measured interleaved (what the README quotes),
// run //quantization:weight_only_report.
#include <cstdint>
#include <memory>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "benchmark/benchmark.h"
#include "quantization/weight_only.h"
#include "tensor/tensor.h"

namespace tt::quant {
namespace {

enum class Kind { kF32, kInt8, kInt4 };

struct Problem {
  Problem(int64_t k, int64_t n, int64_t m) : k(k), n(n), m(m) {
    tensor::Rng rng(42);
    weight = tensor::Tensor::Uniform({k, n}, rng, -0.1f, 0.1f);
    x = tensor::Tensor::Uniform({m, k}, rng, -1.0f, 1.0f);
    y.assign(static_cast<size_t>(m * n), 0.0f);
  }
  int64_t k, n, m;
  tensor::Tensor weight, x;
  std::vector<float> y;
};

void Counters(benchmark::State& state, const Problem& p, int64_t weight_bytes) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * p.m * p.k * p.n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(
      static_cast<double>(weight_bytes) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_F32(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  accel::GemmArgs g;
  g.m = p.m;
  g.n = p.n;
  g.k = p.k;
  g.a = p.x.data();
  g.lda = p.k;
  g.b = p.weight.data();
  g.ldb = p.n;
  g.c = p.y.data();
  g.ldc = p.n;
  const accel::Isa isa = accel::ActiveIsa();
  for (auto _ : state) {
    accel::GemmPacked(g, isa);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, p, 4 * p.k * p.n);
}

template <WeightScheme kScheme, WeightOnlyPath kPath>
void BM_Quantized(benchmark::State& state) {
  Problem p(state.range(0), state.range(1), state.range(2));
  WeightOnlyOptions options;
  options.scheme = kScheme;
  auto made = MakeWeightOnlyLinear(p.weight, tensor::Tensor(), options);
  if (!made.ok()) {
    state.SkipWithError(std::string(made.status().message()).c_str());
    return;
  }
  const WeightOnlyLinear& w = **made;
  for (auto _ : state) {
    w.Run(p.x.data(), p.m, p.y.data(), tensor::Activation::kNone, kPath);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, p, w.quantized_weight_bytes());
}

// The GPT's Linear shapes (K, N): qkv, proj, MLP up, MLP down, lm_head.
void GptShapes(benchmark::internal::Benchmark* b) {
  for (auto [k, n] : {std::pair{128, 384}, {128, 128}, {128, 512}, {512, 128}, {128, 96}}) {
    for (int64_t m : {1, 4, 8, 16}) b->Args({k, n, m});
  }
}

BENCHMARK(BM_F32)->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt8PerChannel, WeightOnlyPath::kAuto>)
    ->Name("BM_Int8")->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt4Block, WeightOnlyPath::kAuto>)
    ->Name("BM_Int4")->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt8PerChannel, WeightOnlyPath::kGemv>)
    ->Name("BM_Int8Gemv")->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt8PerChannel, WeightOnlyPath::kDequantGemm>)
    ->Name("BM_Int8DequantGemm")->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt4Block, WeightOnlyPath::kGemv>)
    ->Name("BM_Int4Gemv")->Apply(GptShapes);
BENCHMARK(BM_Quantized<WeightScheme::kInt4Block, WeightOnlyPath::kDequantGemm>)
    ->Name("BM_Int4DequantGemm")->Apply(GptShapes);

}  // namespace
}  // namespace tt::quant
