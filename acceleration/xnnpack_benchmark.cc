// XNNPACK on this machine: fully connected GFLOP/s (and the fraction of the measured FMA
// peak) on 1 and 2 threads, the price of packing weights per call, the batch-1 MLP
// layers, the reference CNN's convolutions with and without the NCHW <-> NHWC
// conversions, and the conversions alone.
//
//   bazel run -c opt //acceleration:xnnpack_benchmark
//   bazel run -c opt //acceleration:xnnpack_benchmark -- --benchmark_filter='Conv|Nchw|Nhwc'
//   TT_XNNPACK_CONTENTION=1 bazel-bin/acceleration/xnnpack_benchmark --benchmark_filter=Cont
//
// The last one adds the contention experiment: a child process spins on one core (it is
// killed after each benchmark, and dies with this process in any case) while XNNPACK runs
// on 1 and 2 threads. Every time is wall time (UseRealTime): with a thread pool, the
// calling thread's CPU time would hide the waiting.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "acceleration/xnnpack_conv.h"
#include "acceleration/xnnpack_gemm.h"
#include "benchmark/benchmark.h"
#include "profiling/roofline.h"
#include "profiling/timer.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Tensor;

std::vector<float> RandomVector(int64_t size, uint64_t seed) {
  tensor::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(size));
  for (float& x : v) x = rng.Uniform(-1.0f, 1.0f);
  return v;
}

// The measured FMA peak of `threads` threads (roofline.h), once per thread count.
double PeakGflops(int threads) {
  static std::map<int, double>* const peaks = new std::map<int, double>();
  auto it = peaks->find(threads);
  if (it == peaks->end()) {
    it = peaks->emplace(threads, prof::MeasurePeakGflops(prof::Isa::kAuto, threads)).first;
  }
  return it->second;
}

bool SkipWithoutXnnpack(benchmark::State& state) {
  if (XnnpackStatus().ok()) return false;
  state.SkipWithError(std::string(XnnpackStatus().message()).c_str());
  return true;
}

std::unique_ptr<XnnpackThreadPool> MakePool(int threads) {
  auto pool = XnnpackThreadPool::Create(threads);
  return pool.ok() ? std::move(*pool) : nullptr;
}

// Watches one benchmark loop: its wall time for the FLOP counters (Google Benchmark's
// rate counters would print "/s" after the fraction of the peak) and how many cores other
// processes kept busy meanwhile (profiling's LoadMonitor), so that a row measured while
// the machine was shared can be told apart: counter other_cores.
class LoopMonitor {
 public:
  LoopMonitor() : start_(std::chrono::steady_clock::now()) { load_.Start(); }
  // Sets other_cores and, when flops_per_call > 0, GFLOP/s over the loop and of_peak,
  // the fraction of the measured FMA peak of `threads` threads.
  void Finish(benchmark::State& state, double flops_per_call, int threads) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    state.counters["other_cores"] = load_.Stop().other_cpu_cores;
    if (flops_per_call <= 0) return;
    const double gflops =
        flops_per_call * static_cast<double>(state.iterations()) / seconds * 1e-9;
    state.counters["GFLOP/s"] = gflops;
    state.counters["of_peak"] = gflops / PeakGflops(threads);
  }

 private:
  std::chrono::steady_clock::time_point start_;
  prof::LoadMonitor load_;
};

// The FMA peaks every of_peak counter divides by (roofline.h; measured once, on first use).
// A busy machine lowers it (other_cores says how busy), and every of_peak with it.
void BM_FmaPeak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  LoopMonitor monitor;
  for (auto _ : state) benchmark::DoNotOptimize(PeakGflops(threads));
  monitor.Finish(state, 0, threads);
  state.counters["GFLOP/s"] = PeakGflops(threads);
}
BENCHMARK(BM_FmaPeak)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(1)->UseRealTime();

// --- Fully connected ------------------------------------------------------------------

// y(B, N) = x(B, K) W(K, N), weights packed once, before the loop.
// Args: batch, K, N, threads, activation (0 none, 1 ReLU with bias).
void BM_Fc(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const int64_t batch = state.range(0), k = state.range(1), n = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const bool relu = state.range(4) != 0;
  const std::vector<float> x = RandomVector(batch * k, 1), w = RandomVector(k * n, 2);
  const std::vector<float> bias = RandomVector(n, 3);
  std::vector<float> y(static_cast<size_t>(batch * n));
  auto pool = MakePool(threads);
  FullyConnectedOptions options;
  if (relu) options.act = Activation::kRelu;
  auto fc = XnnpackFullyConnected::Create(w.data(), relu ? bias.data() : nullptr, k, n, options);
  if (!fc.ok() || pool == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  LoopMonitor monitor;
  for (auto _ : state) {
    if (!(*fc)->Run(x.data(), batch, y.data(), pool->get()).ok()) {
      state.SkipWithError("run failed");
      break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 2.0 * batch * k * n, threads);
}

void SquareArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "K", "N", "threads", "relu"});
  for (int threads : {1, 2}) {
    for (int64_t s : {64, 128, 256, 512, 1024}) b->Args({s, s, s, threads, 0});
  }
}
BENCHMARK(BM_Fc)->Apply(SquareArgs)->UseRealTime()->Name("BM_FcSquare");

// The batch-1 layers of the reference MLP (784 -> 256 -> 128 -> 10), bias and ReLU fused
// where the model has them.
void MlpArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "K", "N", "threads", "relu"});
  for (int threads : {1, 2}) {
    b->Args({1, 784, 256, threads, 1});
    b->Args({1, 256, 128, threads, 1});
    b->Args({1, 128, 10, threads, 0});
  }
}
BENCHMARK(BM_Fc)->Apply(MlpArgs)->UseRealTime()->Name("BM_FcMlpBatch1");

// The course's reference GEMM (tensor::ReferenceBackend, i-k-j, auto-vectorized), for scale.
void BM_ReferenceGemm(benchmark::State& state) {
  const int64_t batch = state.range(0), k = state.range(1), n = state.range(2);
  const std::vector<float> x = RandomVector(batch * k, 1), w = RandomVector(k * n, 2);
  std::vector<float> y(static_cast<size_t>(batch * n));
  tensor::ReferenceBackend reference;
  LoopMonitor monitor;
  for (auto _ : state) {
    reference.Gemm(tensor::Trans::kNo, tensor::Trans::kNo, batch, n, k, 1.0f, x.data(), k,
                   w.data(), n, 0.0f, y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 2.0 * batch * k * n, 1);
}
BENCHMARK(BM_ReferenceGemm)
    ->ArgNames({"B", "K", "N"})
    ->Args({64, 64, 64})
    ->Args({256, 256, 256})
    ->Args({1024, 1024, 1024})
    ->Args({1, 784, 256})
    ->Args({1, 256, 128})
    ->Args({1, 128, 10})
    ->UseRealTime();

// What the cache saves: create (pack) + run + delete in every call, as the Gemm adapter's
// UnpinnedB::kPackPerCall does, and as training does once per step. Args: B, K, N.
void BM_FcPackPerCall(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const int64_t batch = state.range(0), k = state.range(1), n = state.range(2);
  const std::vector<float> x = RandomVector(batch * k, 1), w = RandomVector(k * n, 2);
  std::vector<float> y(static_cast<size_t>(batch * n));
  LoopMonitor monitor;
  for (auto _ : state) {
    auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, k, n);
    if (!fc.ok() || !(*fc)->Run(x.data(), batch, y.data(), nullptr).ok()) {
      state.SkipWithError("create or run failed");
      break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 2.0 * batch * k * n, 1);
}
BENCHMARK(BM_FcPackPerCall)
    ->ArgNames({"B", "K", "N"})
    ->Args({64, 64, 64})
    ->Args({256, 256, 256})
    ->Args({1024, 1024, 1024})
    ->Args({1, 784, 256})
    ->Args({64, 784, 256})
    ->UseRealTime();

// Packing alone: xnn_create_fully_connected_nc_f32 + delete. Args: K, N.
void BM_FcCreate(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const int64_t k = state.range(0), n = state.range(1);
  const std::vector<float> w = RandomVector(k * n, 2);
  for (auto _ : state) {
    auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, k, n);
    benchmark::DoNotOptimize(fc);
  }
  state.counters["weight_MB/s"] = benchmark::Counter(
      4e-6 * k * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FcCreate)
    ->ArgNames({"K", "N"})
    ->Args({64, 64})
    ->Args({256, 256})
    ->Args({784, 256})
    ->Args({1024, 1024})
    ->UseRealTime();

// A cache hit: the lookup's overhead on top of a run.
void BM_FcCacheLookup(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const std::vector<float> w = RandomVector(784 * 256, 2);
  XnnpackFullyConnectedCache cache;
  if (!cache.Lookup(w.data(), nullptr, 784, 256, Activation::kNone, 1).ok()) {
    state.SkipWithError("create failed");
    return;
  }
  for (auto _ : state) {
    auto op = cache.Lookup(w.data(), nullptr, 784, 256, Activation::kNone, 1);
    benchmark::DoNotOptimize(op);
  }
}
BENCHMARK(BM_FcCacheLookup)->UseRealTime();

// The Backend::Gemm adapter on a pinned weight: the cached XNNPACK path plus the adapter's
// bookkeeping (pin check, ParameterVersion, cache lookup). Compare with BM_FcMlpBatch1.
void FallbackGemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float beta, float* c, int64_t ldc) {
  tensor::ReferenceBackend().Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void BM_GemmAdapterPinned(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const int64_t batch = state.range(0), k = state.range(1), n = state.range(2);
  tensor::Rng rng(2);
  const Tensor w = Tensor::Randn({k, n}, rng);
  const std::vector<float> x = RandomVector(batch * k, 1);
  std::vector<float> y(static_cast<size_t>(batch * n));
  XnnpackFullyConnectedCache cache;
  cache.PinWeight(w);
  XnnpackGemmOptions options;
  options.fallback = &FallbackGemm;
  options.cache = &cache;
  LoopMonitor monitor;
  for (auto _ : state) {
    const GemmRoute route = XnnpackGemm(options, tensor::Trans::kNo, tensor::Trans::kNo, batch,
                                        n, k, 1.0f, x.data(), k, w.data(), n, 0.0f, y.data(), n);
    benchmark::DoNotOptimize(route);
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 2.0 * batch * k * n, 1);
}
BENCHMARK(BM_GemmAdapterPinned)
    ->ArgNames({"B", "K", "N"})
    ->Args({1, 784, 256})
    ->Args({1, 256, 128})
    ->Args({1, 128, 10})
    ->Args({64, 784, 256})
    ->UseRealTime();

// --- Convolution at the reference CNN's shapes ----------------------------------------

struct ConvShape {
  int64_t n, c, h, w, oc;  // 3x3 kernel, stride 1, padding 1
};
const ConvShape kConvShapes[] = {
    {64, 1, 28, 28, 16},  // conv1, batch 64
    {64, 16, 14, 14, 32}, // conv2, batch 64
    {1, 1, 28, 28, 16},   // conv1, batch 1
    {1, 16, 14, 14, 32},  // conv2, batch 1
};

void ConvArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "threads"});
  for (int threads : {1, 2}) {
    for (int shape = 0; shape < 4; ++shape) b->Args({shape, threads});
  }
}

void ConvLabel(benchmark::State& state, const ConvShape& s) {
  state.SetLabel(std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) +
                 "x" + std::to_string(s.w) + " * " + std::to_string(s.oc) + "x" +
                 std::to_string(s.c) + "x3x3");
}

double ConvFlops(const ConvShape& s) { return 2.0 * s.n * s.h * s.w * s.oc * s.c * 9; }

// The NHWC convolution alone, on preallocated NHWC buffers: what a model kept NHWC end
// to end pays per layer.
void BM_ConvNhwc(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const ConvShape& s = kConvShapes[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  ConvLabel(state, s);
  const std::vector<float> w = RandomVector(s.oc * s.c * 9, 1), bias = RandomVector(s.oc, 2);
  XnnpackConvParams params;
  params.padding = 1;
  auto op = XnnpackConv2d::Create(w.data(), bias.data(), s.oc, s.c, 3, 3, params);
  auto pool = MakePool(threads);
  std::vector<float> x = RandomVector(s.n * s.c * s.h * s.w + 4, 3);
  std::vector<float> y(static_cast<size_t>(s.n * s.h * s.w * s.oc));
  if (!op.ok() || pool == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  LoopMonitor monitor;
  for (auto _ : state) {
    if (!(*op)->RunNhwc(x.data(), s.n, s.h, s.w, y.data(), pool->get()).ok()) {
      state.SkipWithError("run failed");
      break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, ConvFlops(s), threads);
}
BENCHMARK(BM_ConvNhwc)->Apply(ConvArgs)->UseRealTime();

// XnnpackConv2dNchw: NCHW in and out, i.e. the NHWC convolution plus both conversions
// (and the allocation of the result tensor). Weights from the cache (a hit per call).
void BM_ConvNchw(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const ConvShape& s = kConvShapes[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  ConvLabel(state, s);
  tensor::Rng rng(4);
  const Tensor x = Tensor::Randn({s.n, s.c, s.h, s.w}, rng);
  const Tensor w = Tensor::Randn({s.oc, s.c, 3, 3}, rng), b = Tensor::Randn({s.oc}, rng);
  XnnpackConvParams params;
  params.padding = 1;
  auto pool = MakePool(threads);
  if (pool == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  XnnpackConvCache cache;
  XnnpackConvRunOptions run;
  run.cache = &cache;
  run.pool = pool->get();
  LoopMonitor monitor;
  for (auto _ : state) {
    absl::StatusOr<Tensor> y = XnnpackConv2dNchw(x, w, b, params, run);
    if (!y.ok()) {
      state.SkipWithError("conv failed");
      break;
    }
    benchmark::DoNotOptimize(y->data());
  }
  monitor.Finish(state, ConvFlops(s), threads);
}
BENCHMARK(BM_ConvNchw)->Apply(ConvArgs)->UseRealTime();

// The course's tensor::Conv2d (im2col + GEMM per image) on the current backend, for scale.
void BM_TensorConv2d(benchmark::State& state) {
  const ConvShape& s = kConvShapes[state.range(0)];
  state.SetLabel(tensor::CurrentBackend().name() + " backend");
  tensor::Rng rng(4);
  const Tensor x = Tensor::Randn({s.n, s.c, s.h, s.w}, rng);
  const Tensor w = Tensor::Randn({s.oc, s.c, 3, 3}, rng), b = Tensor::Randn({s.oc}, rng);
  tensor::Conv2dOptions options;
  options.padding = 1;
  LoopMonitor monitor;
  for (auto _ : state) {
    Tensor y = tensor::Conv2d(x, w, b, options);
    benchmark::DoNotOptimize(y.data());
  }
  monitor.Finish(state, ConvFlops(s), 1);
}
BENCHMARK(BM_TensorConv2d)->ArgNames({"shape"})->DenseRange(0, 3)->UseRealTime();

// The conversions alone, on preallocated buffers: the conv input (N, C, H, W) to NHWC and
// the conv output (N, OC, H, W) back. Bytes counted: read + write.
void BM_NchwToNhwcInput(benchmark::State& state) {
  const ConvShape& s = kConvShapes[state.range(0)];
  ConvLabel(state, s);
  const std::vector<float> x = RandomVector(s.n * s.c * s.h * s.w, 1);
  std::vector<float> y(x.size());
  LoopMonitor monitor;
  for (auto _ : state) {
    NchwToNhwc(x.data(), s.n, s.c, s.h, s.w, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 0, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 8 *
                          static_cast<int64_t>(x.size()));
}
BENCHMARK(BM_NchwToNhwcInput)->ArgNames({"shape"})->DenseRange(0, 3)->UseRealTime();

void BM_NhwcToNchwOutput(benchmark::State& state) {
  const ConvShape& s = kConvShapes[state.range(0)];
  ConvLabel(state, s);
  const std::vector<float> x = RandomVector(s.n * s.h * s.w * s.oc, 1);
  std::vector<float> y(x.size());
  LoopMonitor monitor;
  for (auto _ : state) {
    NhwcToNchw(x.data(), s.n, s.oc, s.h, s.w, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 0, 1);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 8 *
                          static_cast<int64_t>(x.size()));
}
BENCHMARK(BM_NhwcToNchwOutput)->ArgNames({"shape"})->DenseRange(0, 3)->UseRealTime();

// --- Contention: XNNPACK threads against a busy process -------------------------------

// Where the busy process lives. Linux's autogroup scheduling (on here:
// /proc/sys/kernel/sched_autogroup_enabled) shares CPU time fairly between sessions first
// and between processes inside a session second: a spinner in our session only competes
// with us for our session's share, one in its own session (like another user's build)
// gets a share equal to our whole process.
enum class Busy { kNone = 0, kSameSession = 1, kOwnSession = 2 };

// A child process that spins on a core until killed (or until this process dies).
class BusyProcess {
 public:
  explicit BusyProcess(Busy where) {
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      if (where == Busy::kOwnSession) setsid();
      volatile uint64_t spins = 0;
      for (;;) spins = spins + 1;
    }
  }
  ~BusyProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  BusyProcess(const BusyProcess&) = delete;
  BusyProcess& operator=(const BusyProcess&) = delete;
  bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_;
};

// Args: size (B = K = N), threads, busy (a Busy: 0 quiet, 1 a spinning child process in
// our session, 2 one in its own session).
void BM_FcContended(benchmark::State& state) {
  if (SkipWithoutXnnpack(state)) return;
  const int64_t s = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const std::vector<float> x = RandomVector(s * s, 1), w = RandomVector(s * s, 2);
  std::vector<float> y(static_cast<size_t>(s * s));
  auto pool = MakePool(threads);
  auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, s, s);
  if (!fc.ok() || pool == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  std::unique_ptr<BusyProcess> busy;
  const Busy where = static_cast<Busy>(state.range(2));
  if (where != Busy::kNone) {
    busy = std::make_unique<BusyProcess>(where);
    if (!busy->ok()) {
      state.SkipWithError("fork failed");
      return;
    }
    usleep(20000);  // let the child get scheduled
  }
  LoopMonitor monitor;
  for (auto _ : state) {
    if (!(*fc)->Run(x.data(), s, y.data(), pool->get()).ok()) {
      state.SkipWithError("run failed");
      break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  monitor.Finish(state, 2.0 * s * s * s, threads);
  busy.reset();
}

// Registered only on request: it starts a process that keeps a core busy.
[[maybe_unused]] const bool kContentionRegistered = [] {
  const char* env = std::getenv("TT_XNNPACK_CONTENTION");
  if (env == nullptr || env[0] != '1') return false;
  benchmark::RegisterBenchmark("BM_FcContended", BM_FcContended)
      ->ArgNames({"size", "threads", "busy"})
      ->ArgsProduct({{64, 256}, {1, 2}, {0, 1, 2}})
      ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace tt::accel
