// Throughput of the vectorized elementwise kernels and max pooling on every ISA, side by
// side with tensor's ReferenceBackend (libm's scalar functions): elements/s and GB/s
// (bytes read + written once each).
//
//   bazel run //acceleration:elementwise_benchmark
//   bazel run //acceleration:elementwise_benchmark -- --benchmark_filter='Gelu'
//
// Names are <kernel>/<shape>/<path>, path one of reference, scalar, avx2+fma, avx512.
// Paths the CPU lacks report an error instead of a time. The speedup table in
// the module README (elementwise section) divides the reference's time by each path's, from one run.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "acceleration/max_pool.h"
#include "benchmark/benchmark.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::BinaryOp;
using tensor::UnaryOp;

// A kernel path: the reference backend, or one ISA of this module's kernels.
struct Path {
  const char* name;
  std::optional<Isa> isa;  // nullopt: ReferenceBackend
};
const Path kPaths[] = {{"reference", std::nullopt},
                       {"scalar", Isa::kScalar},
                       {"avx2+fma", Isa::kAvx2Fma},
                       {"avx512", Isa::kAvx512}};

constexpr int64_t kN = 1 << 20;

std::vector<float> Random(int64_t n, float lo, float hi, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Forces the path's ISA for the benchmark's lifetime; false (and an error in the
// report) when the CPU lacks it.
bool Enter(benchmark::State& state, const Path& path, std::optional<ScopedIsa>* force) {
  if (!path.isa) return true;
  if (!IsaSupported(*path.isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return false;
  }
  force->emplace(*path.isa);
  return true;
}

void Report(benchmark::State& state, int64_t elements, int64_t bytes) {
  state.SetItemsProcessed(state.iterations() * elements);
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_Unary(benchmark::State& state, UnaryOp op, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const bool positive = op == UnaryOp::kLog || op == UnaryOp::kSqrt;
  const std::vector<float> x = Random(kN, positive ? 0.01f : -8.0f, 8.0f);
  std::vector<float> y(x.size());
  tensor::ReferenceBackend reference;
  for (auto _ : state) {
    if (path.isa) {
      VUnary(op, x.data(), y.data(), kN);
    } else {
      reference.Unary(op, x.data(), y.data(), kN);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Report(state, kN, 8 * kN);
}

void BM_UnaryBackward(benchmark::State& state, UnaryOp op, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const std::vector<float> x = Random(kN, -8.0f, 8.0f), dy = Random(kN, -1.0f, 1.0f, 2);
  std::vector<float> y(x.size()), dx(x.size());
  tensor::ReferenceBackend reference;
  reference.Unary(op, x.data(), y.data(), kN);
  for (auto _ : state) {
    if (path.isa) {
      VUnaryBackward(op, x.data(), y.data(), dy.data(), dx.data(), kN);
    } else {
      reference.UnaryBackward(op, x.data(), y.data(), dy.data(), dx.data(), kN);
    }
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  Report(state, kN, 12 * kN);  // reads x or y, and dy; writes dx
}

void BM_Binary(benchmark::State& state, BinaryOp op, int64_t b_step, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const std::vector<float> a = Random(kN, -8.0f, 8.0f), b = Random(kN, 0.5f, 8.0f, 2);
  std::vector<float> y(a.size());
  tensor::ReferenceBackend reference;
  for (auto _ : state) {
    if (path.isa) {
      VBinary(op, a.data(), 1, b.data(), b_step, y.data(), kN);
    } else {
      reference.Binary(op, a.data(), 1, b.data(), b_step, y.data(), kN);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Report(state, kN, (b_step == 1 ? 12 : 8) * kN);
}

void BM_Softmax(benchmark::State& state, int64_t rows, int64_t cols, bool log, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const std::vector<float> x = Random(rows * cols, -10.0f, 10.0f);
  std::vector<float> y(x.size());
  tensor::ReferenceBackend reference;
  for (auto _ : state) {
    if (path.isa) {
      VSoftmaxRows(x.data(), y.data(), rows, cols, log);
    } else {
      reference.SoftmaxRows(x.data(), y.data(), rows, cols, log);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Report(state, rows * cols, 8 * rows * cols);
}

// The GEMM epilogue on a (rows, cols) output: the reference is Backend::GemmBiasAct's
// default, a bias add and an activation pass per row.
void BM_BiasAct(benchmark::State& state, int64_t rows, int64_t cols, Activation act, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const std::vector<float> start = Random(rows * cols, -4.0f, 4.0f);
  const std::vector<float> bias = Random(cols, -1.0f, 1.0f, 2);
  std::vector<float> c = start;
  tensor::ReferenceBackend reference;
  const UnaryOp op = act == Activation::kRelu ? UnaryOp::kRelu : UnaryOp::kGelu;
  for (auto _ : state) {
    // Start from the same values every time: applied to its own output the epilogue
    // would drift to inputs where libm's tanh takes its fast saturated path.
    state.PauseTiming();
    std::copy(start.begin(), start.end(), c.begin());
    state.ResumeTiming();
    if (path.isa) {
      VBiasAct(c.data(), rows, cols, cols, bias.data(), act);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        float* row = c.data() + r * cols;
        reference.Binary(BinaryOp::kAdd, row, 1, bias.data(), 1, row, cols);
        reference.Unary(op, row, row, cols);
      }
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  Report(state, rows * cols, 8 * rows * cols);
}

void BM_MaxPool(benchmark::State& state, int64_t kernel, int64_t stride, Path path) {
  std::optional<ScopedIsa> force;
  if (!Enter(state, path, &force)) return;
  const int64_t planes = 64 * 16, h = 28, w = 28;
  const int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  const std::vector<float> x = Random(planes * h * w, -1.0f, 1.0f);
  std::vector<float> y(planes * oh * ow);
  std::vector<int32_t> argmax(y.size());
  tensor::ReferenceBackend reference;
  for (auto _ : state) {
    if (path.isa) {
      VMaxPool2d(x.data(), planes, h, w, kernel, stride, y.data(), argmax.data());
    } else {
      reference.MaxPool2d(x.data(), planes, h, w, kernel, stride, y.data(), argmax.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  // "elements": input elements; bytes: x read, y and argmax written.
  Report(state, planes * h * w, 4 * planes * h * w + 8 * planes * oh * ow);
}

std::string UnaryName(UnaryOp op) {
  const char* names[] = {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "neg"};
  return names[static_cast<int>(op)];
}

const bool kRegistered = [] {
  using benchmark::RegisterBenchmark;
  for (UnaryOp op : {UnaryOp::kExp, UnaryOp::kLog, UnaryOp::kSqrt, UnaryOp::kTanh,
                     UnaryOp::kSigmoid, UnaryOp::kRelu, UnaryOp::kGelu, UnaryOp::kNeg}) {
    for (const Path& p : kPaths) {
      RegisterBenchmark(("Unary/" + UnaryName(op) + "/1M/" + p.name).c_str(), BM_Unary, op, p);
    }
  }
  for (UnaryOp op : {UnaryOp::kTanh, UnaryOp::kSigmoid, UnaryOp::kRelu, UnaryOp::kGelu}) {
    for (const Path& p : kPaths) {
      RegisterBenchmark(("UnaryBackward/" + UnaryName(op) + "/1M/" + p.name).c_str(),
                        BM_UnaryBackward, op, p);
    }
  }
  for (const Path& p : kPaths) {
    RegisterBenchmark((std::string("Binary/add/1M/") + p.name).c_str(), BM_Binary, BinaryOp::kAdd,
                      int64_t{1}, p);
    RegisterBenchmark((std::string("Binary/mul_broadcast/1M/") + p.name).c_str(), BM_Binary,
                      BinaryOp::kMul, int64_t{0}, p);
    RegisterBenchmark((std::string("Binary/div/1M/") + p.name).c_str(), BM_Binary, BinaryOp::kDiv,
                      int64_t{1}, p);
  }
  for (bool log : {false, true}) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{64, 1000}, {256, 256}}) {
      for (const Path& p : kPaths) {
        const std::string name = std::string(log ? "LogSoftmax/" : "Softmax/") +
                                 std::to_string(rows) + "x" + std::to_string(cols) + "/" + p.name;
        RegisterBenchmark(name.c_str(), BM_Softmax, rows, cols, log, p);
      }
    }
  }
  for (const Path& p : kPaths) {
    RegisterBenchmark((std::string("BiasGelu/256x512/") + p.name).c_str(), BM_BiasAct, int64_t{256},
                      int64_t{512}, Activation::kGelu, p);
    RegisterBenchmark((std::string("BiasRelu/256x512/") + p.name).c_str(), BM_BiasAct, int64_t{256},
                      int64_t{512}, Activation::kRelu, p);
  }
  for (const Path& p : kPaths) {
    RegisterBenchmark((std::string("MaxPool2x2s2/64x16x28x28/") + p.name).c_str(), BM_MaxPool,
                      int64_t{2}, int64_t{2}, p);
    RegisterBenchmark((std::string("MaxPool3x3s2/64x16x28x28/") + p.name).c_str(), BM_MaxPool,
                      int64_t{3}, int64_t{2}, p);
  }
  return true;
}();

}  // namespace
}  // namespace tt::accel
