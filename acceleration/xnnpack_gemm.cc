#include "acceleration/xnnpack_gemm.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Trans;

// The clamp XNNPACK fuses into its output: [min, max].
struct Clamp {
  float min, max;
};

absl::StatusOr<Clamp> ClampFor(Activation act) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (act) {
    case Activation::kNone:
      return Clamp{-kInf, kInf};
    case Activation::kRelu:
      return Clamp{0.0f, kInf};
    case Activation::kGelu:
      break;
  }
  return absl::InvalidArgumentError(
      "XNNPACK fuses only clamp activations (none, ReLU); GELU is not one");
}

}  // namespace

const char* XnnStatusName(xnn_status status) {
  switch (status) {
    case xnn_status_success:
      return "xnn_status_success";
    case xnn_status_uninitialized:
      return "xnn_status_uninitialized";
    case xnn_status_invalid_parameter:
      return "xnn_status_invalid_parameter";
    case xnn_status_invalid_state:
      return "xnn_status_invalid_state";
    case xnn_status_unsupported_parameter:
      return "xnn_status_unsupported_parameter";
    case xnn_status_unsupported_hardware:
      return "xnn_status_unsupported_hardware";
    case xnn_status_out_of_memory:
      return "xnn_status_out_of_memory";
  }
  return "xnn_status_<unknown>";
}

absl::Status XnnStatusToStatus(xnn_status status, const char* what) {
  const std::string message = absl::StrCat(what, ": ", XnnStatusName(status));
  switch (status) {
    case xnn_status_success:
      return absl::OkStatus();
    case xnn_status_invalid_parameter:
      return absl::InvalidArgumentError(message);
    case xnn_status_unsupported_parameter:
      return absl::UnimplementedError(message);
    case xnn_status_out_of_memory:
      return absl::ResourceExhaustedError(message);
    case xnn_status_uninitialized:
    case xnn_status_invalid_state:
    case xnn_status_unsupported_hardware:
      return absl::FailedPreconditionError(message);
  }
  return absl::UnknownError(message);
}

absl::Status XnnpackStatus() {
  // A function-local static is initialized exactly once, thread-safely. XNNPACK stays
  // initialized for the life of the process (no xnn_deinitialize: operators may be
  // destroyed during static destruction).
  static const absl::Status* const status = [] {
    const xnn_status s = xnn_initialize(/*allocator=*/nullptr);
    if (s == xnn_status_success) return new absl::Status();
    std::string hint;
    if (s == xnn_status_unsupported_hardware) {
      hint = " (this CPU lacks the instructions XNNPACK requires; use another backend)";
    }
    return new absl::Status(absl::FailedPreconditionError(
        absl::StrCat("xnn_initialize failed: ", XnnStatusName(s), hint)));
  }();
  return *status;
}

// --- XnnpackThreadPool --------------------------------------------------------------

absl::StatusOr<std::unique_ptr<XnnpackThreadPool>> XnnpackThreadPool::Create(int threads) {
  if (threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("XnnpackThreadPool: threads must be >= 1, got ", threads));
  }
  pthreadpool_t pool = nullptr;
  if (threads > 1) {
    pool = pthreadpool_create(static_cast<size_t>(threads));
    if (pool == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("pthreadpool_create(", threads, ") failed"));
    }
  }
  return std::unique_ptr<XnnpackThreadPool>(new XnnpackThreadPool(pool, threads));
}

XnnpackThreadPool::~XnnpackThreadPool() {
  if (pool_ != nullptr) pthreadpool_destroy(pool_);
}

// --- XnnpackFullyConnected ----------------------------------------------------------

absl::StatusOr<std::unique_ptr<XnnpackFullyConnected>> XnnpackFullyConnected::Create(
    const float* w, const float* bias, int64_t k, int64_t n,
    const FullyConnectedOptions& options) {
  TT_RETURN_IF_ERROR(XnnpackStatus());
  if (k < 1 || n < 1 || w == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XnnpackFullyConnected: needs K, N >= 1 and weights, got K=", k, ", N=", n,
        w == nullptr ? ", w=null" : ""));
  }
  TT_ASSIGN_OR_RETURN(const Clamp clamp, ClampFor(options.act));
  // Verified against a reference product (xnnpack_gemm_test): without flags this
  // version reads the kernel as (N, K) ("[output_channels, input_channels]", as
  // xnnpack.h documents for xnn_define_fully_connected); XNN_FLAG_TRANSPOSE_WEIGHTS makes
  // it (K, N).
  const uint32_t flags = options.layout == WeightLayout::kKN ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0;
  xnn_operator_t op = nullptr;
  const xnn_status s = xnn_create_fully_connected_nc_f32(
      static_cast<size_t>(k), static_cast<size_t>(n), /*input_stride=*/static_cast<size_t>(k),
      /*output_stride=*/static_cast<size_t>(n), w, bias, clamp.min, clamp.max, flags, &op);
  if (s != xnn_status_success) {
    return XnnStatusToStatus(
        s, absl::StrCat("xnn_create_fully_connected_nc_f32(K=", k, ", N=", n, ")").c_str());
  }
  return std::unique_ptr<XnnpackFullyConnected>(new XnnpackFullyConnected(op, k, n));
}

XnnpackFullyConnected::~XnnpackFullyConnected() {
  absl::MutexLock lock(&mu_);
  xnn_delete_operator(op_);
}

absl::Status XnnpackFullyConnected::Run(const float* x, int64_t batch, float* y,
                                        pthreadpool_t pool) {
  if (batch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("XnnpackFullyConnected::Run: batch must be >= 0, got ", batch));
  }
  if (batch == 0) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  xnn_status s = xnn_setup_fully_connected_nc_f32(op_, static_cast<size_t>(batch), x, y, pool);
  if (s != xnn_status_success) {
    return XnnStatusToStatus(s, "xnn_setup_fully_connected_nc_f32");
  }
  s = xnn_run_operator(op_, pool);
  return XnnStatusToStatus(s, "xnn_run_operator(fully connected)");
}

// --- XnnpackFullyConnectedCache -----------------------------------------------------

absl::StatusOr<std::shared_ptr<XnnpackFullyConnected>> XnnpackFullyConnectedCache::Lookup(
    const float* w, const float* bias, int64_t k, int64_t n, Activation act,
    uint64_t version, WeightLayout layout) {
  const Key key(w, bias, k, n, layout, act);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.version == version) {
    ++hits_;
    return it->second.op;
  }
  // Packing happens under the lock: two threads missing on the same layer then pack it
  // once, not twice. Lookups of other layers wait meanwhile; packing is rare.
  FullyConnectedOptions options;
  options.layout = layout;
  options.act = act;
  TT_ASSIGN_OR_RETURN(std::unique_ptr<XnnpackFullyConnected> op,
                      XnnpackFullyConnected::Create(w, bias, k, n, options));
  ++creations_;
  Entry& entry = entries_[key];
  entry.version = version;
  entry.op = std::move(op);
  return entry.op;
}

void XnnpackFullyConnectedCache::PinWeight(const tensor::Tensor& weight) {
  TT_CHECK(weight.defined(), "XnnpackFullyConnectedCache::PinWeight: undefined tensor");
  absl::MutexLock lock(&mu_);
  pinned_[weight.data()] = weight;
}

bool XnnpackFullyConnectedCache::IsPinned(const float* data) const {
  absl::MutexLock lock(&mu_);
  return pinned_.count(data) != 0;
}

void XnnpackFullyConnectedCache::Clear() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
  pinned_.clear();
}

int64_t XnnpackFullyConnectedCache::creations() const {
  absl::MutexLock lock(&mu_);
  return creations_;
}

int64_t XnnpackFullyConnectedCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t XnnpackFullyConnectedCache::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(entries_.size());
}

// --- XnnpackGemm --------------------------------------------------------------------

const char* GemmRouteName(GemmRoute route) {
  switch (route) {
    case GemmRoute::kXnnpackCached:
      return "xnnpack-cached";
    case GemmRoute::kXnnpackPerCall:
      return "xnnpack-per-call";
    case GemmRoute::kFallback:
      return "fallback";
  }
  return "?";
}

GemmRoute XnnpackGemm(const XnnpackGemmOptions& options, Trans ta, Trans tb, int64_t m,
                      int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  TT_CHECK(options.fallback != nullptr, "XnnpackGemm: options.fallback is required");
  auto fall_back = [&] {
    options.fallback(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return GemmRoute::kFallback;
  };
  const WeightLayout layout = tb == Trans::kNo ? WeightLayout::kKN : WeightLayout::kNK;
  const bool maps_to_fc = ta == Trans::kNo && alpha == 1.0f && beta == 0.0f && m >= 1 &&
                          n >= 1 && k >= 1 && lda == k && ldc == n &&
                          ldb == (tb == Trans::kNo ? n : k);
  if (!maps_to_fc || !XnnpackStatus().ok()) return fall_back();

  if (options.cache != nullptr && options.cache->IsPinned(b)) {
    absl::StatusOr<std::shared_ptr<XnnpackFullyConnected>> op = options.cache->Lookup(
        b, /*bias=*/nullptr, k, n, Activation::kNone, tensor::ParameterVersion(), layout);
    if (op.ok() && (*op)->Run(a, m, c, options.pool).ok()) return GemmRoute::kXnnpackCached;
    return fall_back();
  }
  if (options.unpinned == UnpinnedB::kFallback) return fall_back();
  FullyConnectedOptions fc;
  fc.layout = layout;
  absl::StatusOr<std::unique_ptr<XnnpackFullyConnected>> op =
      XnnpackFullyConnected::Create(b, /*bias=*/nullptr, k, n, fc);
  if (op.ok() && (*op)->Run(a, m, c, options.pool).ok()) return GemmRoute::kXnnpackPerCall;
  return fall_back();
}

}  // namespace tt::accel
