// Benchmarks of the core ops at the sizes the course's models use, on the current
// (reference) backend, and the cost of the instrumentation seam when nobody listens.
//
//   bazel run -c opt //tensor:ops_benchmark -- --benchmark_min_time=0.2
//
// Forward benchmarks use inputs that do not require gradients (no graph is recorded);
// BM_MlpTrainStep measures a full forward + backward.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "tensor/instrument.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

// Reports GFLOP/s: `flops` per iteration, divided by the measured time.
void SetGflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MatMul(benchmark::State& state) {
  const int64_t n = state.range(0);
  Rng rng(1);
  Tensor a = Tensor::Randn({n, n}, rng);
  Tensor b = Tensor::Randn({n, n}, rng);
  for (auto _ : state) {
    Tensor c = MatMul(a, b);
    benchmark::DoNotOptimize(c.data());
  }
  SetGflops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_MatMul)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMicrosecond);

void BM_MatMulTransposedB(benchmark::State& state) {
  const int64_t n = state.range(0);
  Rng rng(2);
  Tensor a = Tensor::Randn({n, n}, rng);
  Tensor b = Tensor::Randn({n, n}, rng);
  for (auto _ : state) {
    Tensor c = MatMul(a, b, Trans::kNo, Trans::kYes);
    benchmark::DoNotOptimize(c.data());
  }
  SetGflops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_MatMulTransposedB)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_AddBroadcast(benchmark::State& state) {
  Rng rng(3);
  Tensor x = Tensor::Randn({64, 256}, rng);
  Tensor bias = Tensor::Randn({256}, rng);
  for (auto _ : state) {
    Tensor y = Add(x, bias);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_AddBroadcast);

void BM_AddSameShape(benchmark::State& state) {
  Rng rng(4);
  Tensor x = Tensor::Randn({64, 256}, rng);
  Tensor y = Tensor::Randn({64, 256}, rng);
  for (auto _ : state) {
    Tensor z = Add(x, y);
    benchmark::DoNotOptimize(z.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_AddSameShape);

constexpr int64_t kMillion = 1 << 20;

void BM_Relu(benchmark::State& state) {
  Rng rng(5);
  Tensor x = Tensor::Randn({kMillion}, rng);
  for (auto _ : state) {
    Tensor y = Relu(x);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
  state.SetBytesProcessed(state.iterations() * x.numel() * 2 * sizeof(float));
}
BENCHMARK(BM_Relu)->Unit(benchmark::kMicrosecond);

void BM_Gelu(benchmark::State& state) {
  Rng rng(6);
  Tensor x = Tensor::Randn({kMillion}, rng);
  for (auto _ : state) {
    Tensor y = Gelu(x);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
  state.SetBytesProcessed(state.iterations() * x.numel() * 2 * sizeof(float));
}
BENCHMARK(BM_Gelu)->Unit(benchmark::kMicrosecond);

void BM_Softmax(benchmark::State& state) {
  Rng rng(7);
  Tensor x = Tensor::Randn({64, 1000}, rng);
  for (auto _ : state) {
    Tensor y = Softmax(x);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMicrosecond);

void BM_LayerNorm(benchmark::State& state) {
  Rng rng(8);
  Tensor x = Tensor::Randn({256, 128}, rng);
  Tensor gamma = Tensor::Ones({128});
  Tensor beta = Tensor::Zeros({128});
  for (auto _ : state) {
    Tensor y = LayerNorm(x, gamma, beta);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_LayerNorm)->Unit(benchmark::kMicrosecond);

// args: N, C, H, W, OC (3x3 kernel, stride 1, padding 1).
void BM_Conv2d(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1), h = state.range(2), w = state.range(3),
                oc = state.range(4);
  Rng rng(9);
  Tensor x = Tensor::Randn({n, c, h, w}, rng);
  Tensor weight = Tensor::Randn({oc, c, 3, 3}, rng, 0.0f, 0.1f);
  Tensor bias = Tensor::Zeros({oc});
  for (auto _ : state) {
    Tensor y = Conv2d(x, weight, bias, {/*stride=*/1, /*padding=*/1});
    benchmark::DoNotOptimize(y.data());
  }
  SetGflops(state, 2.0 * n * oc * h * w * c * 9);  // output is H x W at padding 1
}
BENCHMARK(BM_Conv2d)
    ->ArgNames({"N", "C", "H", "W", "OC"})
    ->Args({64, 1, 28, 28, 16})
    ->Args({64, 16, 14, 14, 32})
    ->Unit(benchmark::kMicrosecond);

void BM_MaxPool2d(benchmark::State& state) {
  Rng rng(10);
  Tensor x = Tensor::Randn({64, 16, 28, 28}, rng);
  for (auto _ : state) {
    Tensor y = MaxPool2d(x, 2, 2);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_MaxPool2d)->Unit(benchmark::kMicrosecond);

void BM_CrossEntropy(benchmark::State& state) {
  const int64_t classes = state.range(0);
  Rng rng(11);
  Tensor logits = Tensor::Randn({64, classes}, rng);
  std::vector<int32_t> labels(64);
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.UniformInt(classes));
  for (auto _ : state) {
    Tensor loss = CrossEntropy(logits, labels);
    benchmark::DoNotOptimize(loss.data());
  }
  state.SetItemsProcessed(state.iterations() * logits.numel());
}
BENCHMARK(BM_CrossEntropy)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

// One training step's compute of a 784-256-10 MLP on a batch of 64: forward, loss,
// backward (the optimizer update is not an op).
void BM_MlpTrainStep(benchmark::State& state) {
  Rng rng(12);
  Tensor x = Tensor::Randn({64, 784}, rng);
  std::vector<int32_t> labels(64);
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.UniformInt(10));
  Tensor w1 = Tensor::Randn({784, 256}, rng, 0.0f, 0.05f);
  Tensor b1 = Tensor::Zeros({256});
  Tensor w2 = Tensor::Randn({256, 10}, rng, 0.0f, 0.05f);
  Tensor b2 = Tensor::Zeros({10});
  for (Tensor* p : {&w1, &b1, &w2, &b2}) p->set_requires_grad(true);
  for (auto _ : state) {
    Tensor h = Relu(Add(MatMul(x, w1), b1));
    Tensor loss = CrossEntropy(Add(MatMul(h, w2), b2), labels);
    loss.Backward();
    for (Tensor* p : {&w1, &b1, &w2, &b2}) p->ZeroGrad();
  }
  // Forward GEMMs 2*64*(784*256 + 256*10); backward does twice that (dX and dW), minus
  // the unneeded dX of the first layer.
  const double fwd = 2.0 * 64 * (784.0 * 256 + 256.0 * 10);
  SetGflops(state, fwd + 2.0 * 64 * (784.0 * 256 + 2 * 256.0 * 10));
}
BENCHMARK(BM_MlpTrainStep)->Unit(benchmark::kMicrosecond);

// --- The instrumentation seam ---------------------------------------------------------

class NullObserver : public OpObserver {
 public:
  void OnOpEnd(const OpEvent& event) override { benchmark::DoNotOptimize(event.flops); }
};

// A tiny op, so that per-op overhead is visible next to the work.
void BM_OpOverhead_NoObserver(benchmark::State& state) {
  Tensor x = Tensor::Ones({16});
  for (auto _ : state) {
    Tensor y = AddScalar(x, 1.0f);
    benchmark::DoNotOptimize(y.data());
  }
}
BENCHMARK(BM_OpOverhead_NoObserver);

void BM_OpOverhead_WithObserver(benchmark::State& state) {
  Tensor x = Tensor::Ones({16});
  NullObserver observer;
  ScopedOpObserver listen(&observer);
  for (auto _ : state) {
    Tensor y = AddScalar(x, 1.0f);
    benchmark::DoNotOptimize(y.data());
  }
}
BENCHMARK(BM_OpOverhead_WithObserver);

// Just the seam: one relaxed load and a not-taken branch (~1 ns).
void BM_OpScope_NoObserver(benchmark::State& state) {
  for (auto _ : state) {
    OpScope scope("x", {}, 0, 0);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpScope_NoObserver);

void BM_OpScope_WithObserver(benchmark::State& state) {
  NullObserver observer;
  ScopedOpObserver listen(&observer);
  for (auto _ : state) {
    OpScope scope("x", {}, 0, 0);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_OpScope_WithObserver);

}  // namespace
}  // namespace tt::tensor
