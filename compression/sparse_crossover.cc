#include "compression/sparse_crossover.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "compression/sparse_linear.h"
#include "profiling/timer.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::compress {
namespace {

using tensor::Tensor;

// Zeroes exactly round(sparsity * n) entries of `w`: those of smallest magnitude, ties
// broken by position (lower index first), so the count is exact whatever the values.
void MagnitudePrune(Tensor& w, double sparsity) {
  float* data = w.data();
  const int64_t n = w.numel();
  const int64_t zeros = std::llround(sparsity * static_cast<double>(n));
  if (zeros == 0) return;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto smaller = [data](int64_t a, int64_t b) {
    const float ma = std::fabs(data[a]), mb = std::fabs(data[b]);
    return ma < mb || (ma == mb && a < b);
  };
  std::nth_element(order.begin(), order.begin() + (zeros - 1), order.end(), smaller);
  for (int64_t i = 0; i < zeros; ++i) data[order[i]] = 0.0f;
}

// Back-to-back calls per timed sample: enough for the slower function's sample to take
// about kSampleMicros, so both kernels run with their weights in cache (see the header).
template <typename A, typename B>
int64_t CallsPerSample(const A& a, const B& b) {
  constexpr double kSampleMicros = 30.0;
  double slowest = 0.0;
  for (int f = 0; f < 2; ++f) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto start = std::chrono::steady_clock::now();
      f == 0 ? a() : b();
      best = std::min(best, std::chrono::duration<double, std::micro>(
                                std::chrono::steady_clock::now() - start).count());
    }
    slowest = std::max(slowest, best);
  }
  return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(kSampleMicros / slowest)), 1, 1000);
}

}  // namespace

absl::StatusOr<std::vector<SparseCrossoverRow>> MeasureSparseCrossover(
    int64_t in, int64_t out, const std::vector<double>& sparsities,
    const std::vector<int64_t>& batches, double min_seconds) {
  if (in < 1 || out < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("MeasureSparseCrossover: in and out must be >= 1, got ", in, " x ", out));
  }
  if (sparsities.empty() || batches.empty()) {
    return absl::InvalidArgumentError(
        "MeasureSparseCrossover: needs at least one sparsity and one batch size");
  }
  for (double s : sparsities) {
    if (!(s >= 0.0 && s < 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MeasureSparseCrossover: sparsity ", s, " is outside [0, 1)"));
    }
  }
  for (int64_t b : batches) {
    if (b < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("MeasureSparseCrossover: batch ", b, " must be >= 1"));
    }
  }
  if (!(min_seconds > 0.0 && min_seconds <= 60.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MeasureSparseCrossover: min_seconds ", min_seconds, " is outside (0, 60]"));
  }
  TT_ASSIGN_OR_RETURN(tensor::Backend * simd, tensor::FindBackend("simd"));

  prof::MeasureOptions options;
  options.warmup = 5;
  options.min_runs = 10;
  options.max_runs = 1000000;
  options.min_time_s = min_seconds;
  options.max_time_s = 20.0 * min_seconds;

  std::vector<SparseCrossoverRow> rows;
  for (size_t si = 0; si < sparsities.size(); ++si) {
    const double sparsity = sparsities[si];
    tensor::Rng rng(1000 + si);
    Tensor w = Tensor::Randn({in, out}, rng, 0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
    Tensor b = Tensor::Randn({out}, rng, 0.0f, 0.1f);
    MagnitudePrune(w, sparsity);
    TT_ASSIGN_OR_RETURN(std::shared_ptr<SparseLinear> sparse, MakeSparseLinear(w, b));
    for (int64_t batch : batches) {
      const Tensor x = Tensor::Randn({batch, in}, rng);
      auto dense_call = [&] {
        tensor::ScopedBackend use(simd);
        prof::KeepAlive(tensor::LinearAct(x, w, b, tensor::Activation::kRelu).data()[0]);
      };
      auto sparse_call = [&] {
        prof::KeepAlive(sparse->Forward(x, tensor::Activation::kRelu).data()[0]);
      };
      const int64_t calls = CallsPerSample(dense_call, sparse_call);
      const std::vector<prof::NamedFunction> functions = {
          {"dense", [&] { for (int64_t i = 0; i < calls; ++i) dense_call(); }},
          {"sparse", [&] { for (int64_t i = 0; i < calls; ++i) sparse_call(); }},
      };
      TT_ASSIGN_OR_RETURN(std::vector<prof::Measurement> m,
                          prof::MeasureInterleaved(functions, options));
      SparseCrossoverRow row;
      row.sparsity = sparsity;
      row.batch = batch;
      row.calls_per_sample = calls;
      row.dense_us = m[0].summary.median / 1e3 / calls;
      row.sparse_us = m[1].summary.median / 1e3 / calls;
      row.busy = m[0].load.busy;
      rows.push_back(row);
    }
  }
  return rows;
}

double CrossoverSparsity(const std::vector<SparseCrossoverRow>& rows, int64_t batch) {
  std::vector<SparseCrossoverRow> mine;
  for (const SparseCrossoverRow& r : rows) {
    if (r.batch == batch) mine.push_back(r);
  }
  std::sort(mine.begin(), mine.end(),
            [](const SparseCrossoverRow& a, const SparseCrossoverRow& b) {
              return a.sparsity < b.sparsity;
            });
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  if (mine.empty() || mine.back().speedup() < 1.0) return kNone;
  // Walk down from the sparsest row while sparse still wins.
  size_t i = mine.size() - 1;
  while (i > 0 && mine[i - 1].speedup() >= 1.0) --i;
  if (i == 0) return mine[0].sparsity;
  // speedup crosses 1 between mine[i-1] (< 1) and mine[i] (>= 1).
  const double s0 = mine[i - 1].sparsity, s1 = mine[i].sparsity;
  const double r0 = mine[i - 1].speedup(), r1 = mine[i].speedup();
  return s0 + (s1 - s0) * (1.0 - r0) / (r1 - r0);
}

std::string FormatSparseCrossoverTable(const std::vector<SparseCrossoverRow>& rows) {
  std::string s = absl::StrFormat("%9s %6s %12s %12s %9s\n", "sparsity", "batch", "dense us",
                                  "sparse us", "speedup");
  for (const SparseCrossoverRow& r : rows) {
    absl::StrAppendFormat(&s, "%8.1f%% %6d %12.2f %12.2f %8.2fx%s\n", 100.0 * r.sparsity, r.batch,
                          r.dense_us, r.sparse_us, r.speedup(), r.busy ? "  (busy machine)" : "");
  }
  return s;
}

}  // namespace tt::compress
