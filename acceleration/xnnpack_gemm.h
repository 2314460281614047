// XNNPACK as a GEMM engine: fully connected operators with weights packed once, a cache
// that keeps the packed weights of each layer from call to call, and an adapter that
// serves tensor's Backend::Gemm contract from it where the contract allows.
//
// XNNPACK (here Debian's 2022-02 snapshot) computes y = act(x W + bias) with its own
// micro-kernels. Creating an operator copies W into XNNPACK's packed panel layout; that
// packing is O(K*N) memory traffic, as much as a whole batch-1 product, so it pays only
// when the operator is reused. Hence the cache, keyed on the weights' address and on
// tensor::ParameterVersion(), which every optimizer step and every Fill/CopyFrom bumps:
// inference reuses the packed weights, training re-packs them after every step.
//
//   TT_RETURN_IF_ERROR(tt::accel::XnnpackStatus());        // e.g. unsupported CPU
//   // w: (784, 256) row-major, y = x w + b, then ReLU.
//   tt::accel::FullyConnectedOptions relu;
//   relu.act = tt::tensor::Activation::kRelu;
//   TT_ASSIGN_OR_RETURN(auto fc,
//                       tt::accel::XnnpackFullyConnected::Create(w, b, 784, 256, relu));
//   TT_RETURN_IF_ERROR(fc->Run(x, /*batch=*/64, y, /*pool=*/nullptr));
//
//   // Or through the cache, once per call, from a layer's forward:
//   tt::accel::XnnpackFullyConnectedCache cache;
//   TT_ASSIGN_OR_RETURN(auto op, cache.Lookup(w, b, 784, 256, tensor::Activation::kRelu,
//                                             tt::tensor::ParameterVersion()));
//   TT_RETURN_IF_ERROR(op->Run(x, 64, y, nullptr));
//
// Threads: every call takes a pthreadpool_t; nullptr runs on the calling thread.
// XnnpackThreadPool makes one. pthreadpool's workers spin-wait for work, so when another
// process keeps a core busy, multi-threaded calls can get 100-1000x slower (see
// the module README (XNNPACK section) for the measurement); single-threaded calls do not have that trap.
//
// XNNPACK's documented contract lets it read up to XNN_EXTRA_BYTES (16) past the end of
// an input array (never write). This version's f32 fully connected kernels were checked
// not to on x86 (xnnpack_gemm_test's guard-page test); tensor storage is rounded up to
// 64 bytes besides.
#ifndef TT_ACCELERATION_XNNPACK_GEMM_H_
#define TT_ACCELERATION_XNNPACK_GEMM_H_

#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace tt::accel {

// The result of the process's one xnn_initialize() call, made on first use (thread-safe;
// every later call returns the same status). Not OK when XNNPACK cannot run here, e.g.
// FailedPrecondition "xnn_initialize failed: xnn_status_unsupported_hardware ..." on a
// CPU without the instructions XNNPACK needs. Every other function in this file and in
// xnnpack_conv.h returns this status when it is not OK.
absl::Status XnnpackStatus();

// "xnn_status_success", "xnn_status_invalid_parameter", ...
const char* XnnStatusName(xnn_status status);

// OK for xnn_status_success, otherwise an error naming `what` and the xnn_status, e.g.
// InvalidArgument "xnn_create_fully_connected_nc_f32(K=0, N=3): xnn_status_invalid_parameter".
absl::Status XnnStatusToStatus(xnn_status status, const char* what);

// A pthreadpool of `threads` threads for XNNPACK calls, destroyed with the object.
class XnnpackThreadPool {
 public:
  // threads >= 1. With 1 thread there is no pool: get() is nullptr and XNNPACK runs on the
  // caller's thread. InvalidArgument for threads < 1, ResourceExhausted when
  // pthreadpool_create fails.
  static absl::StatusOr<std::unique_ptr<XnnpackThreadPool>> Create(int threads);
  ~XnnpackThreadPool();
  XnnpackThreadPool(const XnnpackThreadPool&) = delete;
  XnnpackThreadPool& operator=(const XnnpackThreadPool&) = delete;

  pthreadpool_t get() const { return pool_; }
  int threads() const { return threads_; }

 private:
  XnnpackThreadPool(pthreadpool_t pool, int threads) : pool_(pool), threads_(threads) {}
  pthreadpool_t pool_;
  int threads_;
};

// How the weights of a fully connected layer are stored (row-major, contiguous).
enum class WeightLayout {
  kKN,  // (K, N): y = x W, the course's Linear. XNNPACK flag XNN_FLAG_TRANSPOSE_WEIGHTS.
  kNK,  // (N, K): y = x W^T (PyTorch's Linear). XNNPACK's native layout, no flag.
};

struct FullyConnectedOptions {
  WeightLayout layout = WeightLayout::kKN;
  // kNone or kRelu (fused as XNNPACK's output clamp [0, +inf)). kGelu is not a clamp:
  // Create returns InvalidArgument for it.
  tensor::Activation act = tensor::Activation::kNone;
};

// One XNNPACK fully connected operator: y(B, N) = act(x(B, K) W + bias), any batch B.
class XnnpackFullyConnected {
 public:
  // w: (K, N) row-major for layout kKN, (N, K) for kNK; bias: N floats or nullptr.
  // K, N >= 1. w and bias are packed into the operator and never read again: the caller
  // may change or free them afterwards (the operator then keeps the old values).
  // Errors: XnnpackStatus() when not OK, InvalidArgument for K or N < 1, a null w or
  // act kGelu, and any xnn_create_fully_connected_nc_f32 failure (with its xnn_status).
  static absl::StatusOr<std::unique_ptr<XnnpackFullyConnected>> Create(
      const float* w, const float* bias, int64_t k, int64_t n,
      const FullyConnectedOptions& options = {});
  ~XnnpackFullyConnected();
  XnnpackFullyConnected(const XnnpackFullyConnected&) = delete;
  XnnpackFullyConnected& operator=(const XnnpackFullyConnected&) = delete;

  // x: (batch, K) contiguous -> y: (batch, N) contiguous; y must not overlap x.
  // pool: nullptr (this thread) or a pthreadpool. batch == 0 does nothing. Calls on one
  // operator are serialized (XNNPACK's setup writes into the operator), so concurrent
  // callers are safe but wait for each other. Errors: InvalidArgument for batch < 0,
  // otherwise only the xnn_status of a failing setup or run.
  absl::Status Run(const float* x, int64_t batch, float* y, pthreadpool_t pool);

  int64_t k() const { return k_; }
  int64_t n() const { return n_; }

 private:
  XnnpackFullyConnected(xnn_operator_t op, int64_t k, int64_t n) : op_(op), k_(k), n_(n) {}
  absl::Mutex mu_;
  xnn_operator_t op_ ABSL_GUARDED_BY(mu_);
  int64_t k_, n_;
};

// Packed fully connected operators by layer, reused while the weights do not change.
//
// Key: (w address, bias address, K, N, layout, act). An entry also stores the weights
// version it was packed at; a Lookup with another version re-packs it (counted as a
// creation). The key is an address, so the contract is the caller's: the values behind
// `w` and `bias` change only through something that bumps the version passed in
// (tensor::ParameterVersion() counts Fill, CopyFrom, optimizer steps and
// NoteParametersChanged()), and an address is not reused for other weights while its
// entry lives (Clear() between models). PinWeight() below helps with the second.
// Thread-safe.
class XnnpackFullyConnectedCache {
 public:
  // The operator for these weights at `version`: the cached one when the key matches and
  // the version is the same (a hit), else a new one, replacing any entry with an older
  // version (a creation). Arguments as in XnnpackFullyConnected::Create; errors too (a
  // failed creation leaves the cache unchanged). The operator stays valid while the
  // caller holds it, even if the entry is replaced meanwhile.
  absl::StatusOr<std::shared_ptr<XnnpackFullyConnected>> Lookup(
      const float* w, const float* bias, int64_t k, int64_t n, tensor::Activation act,
      uint64_t version, WeightLayout layout = WeightLayout::kKN);

  // Declares `weight`'s values to be a parameter (changed only through version bumps),
  // which is what lets XnnpackGemm cache a B operand: it caches only pinned addresses.
  // The cache holds a handle to the tensor, so its storage cannot be freed and the
  // address handed to other data while pinned. Pinning twice is harmless.
  void PinWeight(const tensor::Tensor& weight);
  // True when `data` is the data() of a pinned tensor.
  bool IsPinned(const float* data) const;

  // Drops all entries and pins (counters are kept).
  void Clear();

  int64_t creations() const;  // operators created (first packs and re-packs)
  int64_t hits() const;       // lookups served by a cached operator
  int64_t size() const;       // entries held

 private:
  using Key = std::tuple<const float*, const float*, int64_t, int64_t, WeightLayout,
                         tensor::Activation>;
  struct Entry {
    uint64_t version;
    std::shared_ptr<XnnpackFullyConnected> op;
  };
  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::map<const float*, tensor::Tensor> pinned_ ABSL_GUARDED_BY(mu_);
  int64_t creations_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
};

// tensor::Backend::Gemm's signature, for the fallback (e.g. the module's own SIMD GEMM).
using GemmFn = void (*)(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                        float alpha, const float* a, int64_t lda, const float* b,
                        int64_t ldb, float beta, float* c, int64_t ldc);

// What XnnpackGemm does with a B that is not pinned in the cache (activations, im2col
// buffers, attention's V: their addresses are reused for new values without a version
// bump, so caching them by address would return stale results).
enum class UnpinnedB {
  kFallback,     // the fallback GEMM computes it
  kPackPerCall,  // XNNPACK, with an operator created, packed and deleted in this call
};

struct XnnpackGemmOptions {
  GemmFn fallback = nullptr;                     // required
  XnnpackFullyConnectedCache* cache = nullptr;   // serves pinned B; nullptr: none is
  UnpinnedB unpinned = UnpinnedB::kFallback;
  pthreadpool_t pool = nullptr;                  // for the XNNPACK calls
};

// Which engine computed an XnnpackGemm call.
enum class GemmRoute { kXnnpackCached, kXnnpackPerCall, kFallback };
const char* GemmRouteName(GemmRoute route);  // "xnnpack-cached", "xnnpack-per-call", "fallback"

// tensor::Backend::Gemm's contract, C(M,N) = alpha op(A) op(B) + beta C, on XNNPACK where
// it maps onto a fully connected operator with B as the weights, else on
// options.fallback. XNNPACK computes the call exactly when all of these hold:
//   ta == kNo, alpha == 1, beta == 0, M, N, K >= 1,
//   lda == K, ldc == N, and ldb == N (tb == kNo: B is (K,N), layout kKN) or ldb == K
//   (tb == kYes: B is (N,K), layout kNK),
//   XnnpackStatus() is OK,
// and then, if B is pinned in options.cache, through the cached operator for
// (B, no bias, K, N, layout, no activation) at tensor::ParameterVersion()
// (kXnnpackCached); otherwise per options.unpinned. Everything else, and any XNNPACK
// failure, goes to the fallback, which must be non-null (TT_CHECK). Returns the route.
// In tensor's ops (ops_linalg.cc) that means, for a Linear weight W (K,N) that is pinned:
//   MatMul forward  x W          (kNo, kNo)            -> cached, layout kKN;
//   backward dX  =  G W^T        (kNo, kYes, B = W)    -> cached, layout kNK;
//   backward dW  =  X^T G        (kYes, kNo)           -> fallback.
// Conv2d: forward W x cols has B = the im2col buffer (never pinned) -> per options.unpinned;
// its backward GEMMs have ta == kYes or beta == 1 -> fallback. Attention's Q K^T and P V
// have activations as B -> per options.unpinned.
GemmRoute XnnpackGemm(const XnnpackGemmOptions& options, tensor::Trans ta, tensor::Trans tb,
                      int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                      int64_t ldc);

}  // namespace tt::accel

#endif  // TT_ACCELERATION_XNNPACK_GEMM_H_
