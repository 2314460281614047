#include "acceleration/backends.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "acceleration/gemm.h"
#include "acceleration/im2col.h"
#include "acceleration/max_pool.h"
#include "acceleration/xnnpack_gemm.h"
#include "tensor/check.h"

namespace tt::accel {
namespace {

GemmArgs MakeArgs(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float beta, float* c, int64_t ldc) {
  GemmArgs g;
  g.ta = ta;
  g.tb = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.beta = beta;
  g.c = c;
  g.ldc = ldc;
  return g;
}

// The GEMM on `pool` (nullptr: one thread). A few rows (a batch-1 Linear) are not
// packed: GemmThreaded sends M <= kGemmSmallMMaxRows to GemmSmallM itself.
void RunGemm(const GemmArgs& g, ThreadPool* pool, double min_flops) {
  GemmThreaded(g, ActiveIsa(), pool, min_flops);
}

// tensor's Gemm signature on the packed single-threaded path: XNNPACK's fallback.
void SimdGemmOneThread(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                       float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float beta, float* c, int64_t ldc) {
  GemmPacked(MakeArgs(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), ActiveIsa());
}

}  // namespace

// --- Blocked and SIMD -----------------------------------------------------------------

void BlockedBackend::Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float beta, float* c, int64_t ldc) {
  GemmBlocked(MakeArgs(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

void SimdBackend::Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                       float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float beta, float* c, int64_t ldc) {
  RunGemm(MakeArgs(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), pool_,
          kGemmThreadedMinFlops);
}

void SimdBackend::GemmBiasAct(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n,
                              int64_t k, const float* a, int64_t lda, const float* b,
                              int64_t ldb, const float* bias, tensor::Activation act, float* c,
                              int64_t ldc) {
  GemmArgs g = MakeArgs(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  g.bias = bias;
  g.act = act;
  RunGemm(g, pool_, kGemmThreadedMinFlops);
}

void SimdBackend::Unary(tensor::UnaryOp op, const float* x, float* y, int64_t n) {
  VUnary(op, x, y, n);
}

void SimdBackend::UnaryBackward(tensor::UnaryOp op, const float* x, const float* y,
                                const float* dy, float* dx, int64_t n) {
  VUnaryBackward(op, x, y, dy, dx, n);
}

void SimdBackend::Binary(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b,
                         int64_t b_step, float* y, int64_t n) {
  VBinary(op, a, a_step, b, b_step, y, n);
}

void SimdBackend::SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  VSoftmaxRows(x, y, rows, cols, log);
}

void SimdBackend::MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w,
                            int64_t kernel, int64_t stride, float* y, int32_t* argmax) {
  VMaxPool2d(x, planes, h, w, kernel, stride, y, argmax);
}

void SimdBackend::Im2Col(const tensor::ConvGeometry& g, const float* x, float* cols,
                         int64_t ld) {
  VIm2Col(g, x, cols, ld);
}

void SimdBackend::Col2Im(const tensor::ConvGeometry& g, const float* cols, int64_t ld,
                         float* dx) {
  VCol2Im(g, cols, ld, dx);
}

// --- XNNPACK ----------------------------------------------------------------------------

struct XnnpackBackend::State {
  XnnpackFullyConnectedCache cache;
};

XnnpackBackend::XnnpackBackend() : SimdBackend("xnnpack"), state_(std::make_unique<State>()) {}
XnnpackBackend::~XnnpackBackend() = default;

void XnnpackBackend::Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float beta, float* c, int64_t ldc) {
  XnnpackGemmOptions options;
  options.fallback = SimdGemmOneThread;
  options.cache = &state_->cache;
  options.unpinned = UnpinnedB::kFallback;
  XnnpackGemm(options, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void XnnpackBackend::PinWeights(const std::vector<tensor::Tensor>& weights) {
  for (const tensor::Tensor& w : weights) {
    if (w.dim() == 2) state_->cache.PinWeight(w);
  }
}

void XnnpackBackend::ClearCache() { state_->cache.Clear(); }

// --- Dispatch ---------------------------------------------------------------------------

const char* GemmEngineName(GemmEngine engine) {
  switch (engine) {
    case GemmEngine::kSimd:
      return "simd";
    case GemmEngine::kSimdThreaded:
      return "simd_threaded";
  }
  return "?";
}

DispatchTable::DispatchTable(std::vector<DispatchRule> rules) : rules_(std::move(rules)) {
  TT_CHECK(!rules_.empty(), "DispatchTable: no rules");
}

DispatchTable DispatchTable::Default() {
  return DispatchTable({{kGemmThreadedMinFlops, GemmEngine::kSimd},
                        {std::numeric_limits<double>::infinity(), GemmEngine::kSimdThreaded}});
}

absl::StatusOr<DispatchTable> DispatchTable::Parse(const std::string& text) {
  std::vector<DispatchRule> rules;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(
          absl::StrCat("dispatch table line ", line_number, " ('", line, "'): ", what));
    };
    if (fields.size() != 2) return bad("expected '<max_mflops|inf> <engine>'");
    double mflops;
    if (fields[0] == "inf") {
      mflops = std::numeric_limits<double>::infinity();
    } else if (!absl::SimpleAtod(fields[0], &mflops) || !(mflops >= 0)) {
      return bad("max_mflops must be a number >= 0 or inf");
    }
    GemmEngine engine;
    if (fields[1] == "simd") {
      engine = GemmEngine::kSimd;
    } else if (fields[1] == "simd_threaded") {
      engine = GemmEngine::kSimdThreaded;
    } else {
      return bad("engine must be simd or simd_threaded");
    }
    if (!rules.empty() && mflops * 1e6 <= rules.back().max_flops) {
      return bad("max_mflops must increase from line to line");
    }
    rules.push_back({mflops * 1e6, engine});
  }
  if (rules.empty()) return absl::InvalidArgumentError("dispatch table has no rules");
  if (!std::isinf(rules.back().max_flops)) {
    return absl::InvalidArgumentError("dispatch table: the last rule must be 'inf <engine>'");
  }
  return DispatchTable(std::move(rules));
}

absl::StatusOr<DispatchTable> DispatchTable::FromEnvironment() {
  const char* path = std::getenv("TT_DISPATCH_TABLE");
  if (path == nullptr || *path == '\0') return Default();
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("TT_DISPATCH_TABLE: cannot read '", path, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<DispatchTable> table = Parse(text.str());
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TT_DISPATCH_TABLE '", path, "': ", table.status().message()));
  }
  return table;
}

GemmEngine DispatchTable::Choose(int64_t m, int64_t n, int64_t k) const {
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * k;
  for (const DispatchRule& rule : rules_) {
    if (flops < rule.max_flops) return rule.engine;
  }
  return rules_.back().engine;
}

std::string DispatchTable::ToString() const {
  std::string out = "# below this many MFLOP (2*M*N*K)   use\n";
  for (const DispatchRule& rule : rules_) {
    absl::StrAppendFormat(&out, "%s %s\n",
                          std::isinf(rule.max_flops)
                              ? std::string("inf")
                              : absl::StrFormat("%g", rule.max_flops / 1e6),
                          GemmEngineName(rule.engine));
  }
  return out;
}

AutoBackend::AutoBackend(DispatchTable table)
    : SimdBackend("auto", &DefaultThreadPool()), table_(std::move(table)) {}

void AutoBackend::Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                       float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float beta, float* c, int64_t ldc) {
  // The table decides (min_flops 0): GemmThreaded's own threshold is not applied twice.
  ThreadPool* threads = table_.Choose(m, n, k) == GemmEngine::kSimdThreaded ? pool() : nullptr;
  RunGemm(MakeArgs(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), threads,
          /*min_flops=*/0.0);
}

void AutoBackend::GemmBiasAct(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n,
                              int64_t k, const float* a, int64_t lda, const float* b,
                              int64_t ldb, const float* bias, tensor::Activation act, float* c,
                              int64_t ldc) {
  GemmArgs g = MakeArgs(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  g.bias = bias;
  g.act = act;
  ThreadPool* threads = table_.Choose(m, n, k) == GemmEngine::kSimdThreaded ? pool() : nullptr;
  RunGemm(g, threads, /*min_flops=*/0.0);
}

// --- Registration -----------------------------------------------------------------------

SimdBackend& SimdSingleThreaded() {
  static SimdBackend* backend = new SimdBackend("simd", nullptr);
  return *backend;
}

SimdBackend& SimdThreaded() {
  static SimdBackend* backend = new SimdBackend("simd_threaded", &DefaultThreadPool());
  return *backend;
}

XnnpackBackend& Xnnpack() {
  static XnnpackBackend* backend = new XnnpackBackend;
  return *backend;
}

AutoBackend& Auto() {
  static AutoBackend* backend = [] {
    absl::StatusOr<DispatchTable> table = DispatchTable::FromEnvironment();
    if (!table.ok()) {
      std::fprintf(stderr, "acceleration: %s; using the default dispatch table\n",
                   std::string(table.status().message()).c_str());
      return new AutoBackend(DispatchTable::Default());
    }
    return new AutoBackend(*std::move(table));
  }();
  return *backend;
}

void RegisterAccelerationBackends() {
  static const bool registered = [] {
    static BlockedBackend* blocked = new BlockedBackend;
    tensor::RegisterBackend(blocked);
    tensor::RegisterBackend(&SimdSingleThreaded());
    tensor::RegisterBackend(&SimdThreaded());
    tensor::RegisterBackend(&Xnnpack());
    tensor::RegisterBackend(&Auto());
    return true;
  }();
  (void)registered;
}

}  // namespace tt::accel
