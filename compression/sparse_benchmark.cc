// The sparse kernels against the accelerated dense Linear, per ISA and formulation.
//
//   bazel run -c opt //compression:sparse_benchmark
//   bazel run -c opt //compression:sparse_benchmark -- --benchmark_filter='Path/784'
//
// Arguments: in, out, sparsity in percent, batch, then for BM_SparsePath the path
// (1 GEMV, 2 batch) and for both sparse benchmarks the ISA (0 scalar, 1 AVX2+FMA,
// 2 AVX-512). Counters: nnz/s (nonzeros multiplied per second, times the batch) and, for
// dense, GFLOP/s of the dense product. Weights: random positions zeroed (not by
// magnitude; the kernels' speed depends on where the nonzeros are, not on their size).
//   BM_Dense        tensor::LinearAct with ReLU on the "simd" backend (one thread)
//   BM_SparsePath   SparseLinear::Run with the GEMV or the batch kernel forced: what
//                   SparseGemvMaxRows is chosen from
//   BM_Sparse       SparseLinear::Forward with the automatic choice (ReLU)
#include <benchmark/benchmark.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "acceleration/cpu_features.h"
#include "compression/csr.h"
#include "compression/sparse_linear.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::compress {
namespace {

using tensor::Activation;
using tensor::Tensor;

struct Problem {
  Tensor w, b, x;
};

// A random (in, out) weight with round(sparsity * n) random positions zeroed.
Problem MakeProblem(int64_t in, int64_t out, int64_t percent, int64_t batch) {
  tensor::Rng rng(7);
  Problem p;
  p.w = Tensor::Randn({in, out}, rng, 0.0f, 0.05f);
  p.b = Tensor::Randn({out}, rng, 0.0f, 0.1f);
  p.x = Tensor::Randn({batch, in}, rng);
  const int64_t n = in * out, zeros = n * percent / 100;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = 0; i < zeros; ++i) {  // partial Fisher-Yates: `zeros` random positions
    std::swap(order[i], order[i + rng.UniformInt(n - i)]);
    p.w.data()[order[i]] = 0.0f;
  }
  return p;
}

bool SetIsa(benchmark::State& state, int64_t isa_arg) {
  const auto isa = static_cast<accel::Isa>(isa_arg);
  if (!accel::IsaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return false;
  }
  state.SetLabel(accel::IsaName(isa));
  return true;
}

void BM_Dense(benchmark::State& state) {
  const Problem p = MakeProblem(state.range(0), state.range(1), state.range(2), state.range(3));
  tensor::ScopedBackend use(tensor::FindBackend("simd").value());
  for (auto _ : state) {
    Tensor y = tensor::LinearAct(p.x, p.w, p.b, Activation::kRelu);
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * state.range(0) * state.range(1) * state.range(3);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SparsePath(benchmark::State& state) {
  const Problem p = MakeProblem(state.range(0), state.range(1), state.range(2), state.range(3));
  if (!SetIsa(state, state.range(5))) return;
  accel::ScopedIsa force(static_cast<accel::Isa>(state.range(5)));
  auto sparse = MakeSparseLinear(p.w, p.b).value();
  const auto path = static_cast<SparsePath>(state.range(4));
  const int64_t batch = state.range(3);
  std::vector<float> y(batch * state.range(1));
  for (auto _ : state) {
    sparse->Run(p.x.data(), batch, y.data(), Activation::kRelu, path);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["nnz/s"] = benchmark::Counter(static_cast<double>(sparse->nnz() * batch),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Sparse(benchmark::State& state) {
  const Problem p = MakeProblem(state.range(0), state.range(1), state.range(2), state.range(3));
  if (!SetIsa(state, state.range(4))) return;
  accel::ScopedIsa force(static_cast<accel::Isa>(state.range(4)));
  auto sparse = MakeSparseLinear(p.w, p.b).value();
  for (auto _ : state) {
    Tensor y = sparse->Forward(p.x, Activation::kRelu);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["nnz/s"] =
      benchmark::Counter(static_cast<double>(sparse->nnz() * state.range(3)),
                         benchmark::Counter::kIsIterationInvariantRate);
}

void DenseArgs(benchmark::internal::Benchmark* b) {
  for (int64_t batch : {1, 4, 8, 64}) {
    b->Args({784, 256, 90, batch});
    b->Args({256, 128, 90, batch});
  }
}

void PathArgs(benchmark::internal::Benchmark* b) {
  for (int64_t isa : {2, 1, 0}) {
    for (int64_t batch : {1, 2, 4, 8, 12, 16, 64}) {
      for (int64_t percent : {50, 90}) {
        for (int64_t path : {1, 2}) b->Args({784, 256, percent, batch, path, isa});
      }
      for (int64_t path : {1, 2}) b->Args({256, 128, 90, batch, path, isa});
    }
  }
}

void SparseArgs(benchmark::internal::Benchmark* b) {
  for (int64_t isa : {0, 1, 2}) {
    for (int64_t batch : {1, 64}) {
      for (int64_t percent : {50, 70, 80, 90, 95}) b->Args({784, 256, percent, batch, isa});
      b->Args({256, 128, 90, batch, isa});
    }
  }
}

BENCHMARK(BM_Dense)->Apply(DenseArgs);
BENCHMARK(BM_SparsePath)->Apply(PathArgs);
BENCHMARK(BM_Sparse)->Apply(SparseArgs);

}  // namespace
}  // namespace tt::compress
