// The acceleration module's backends for tensor's compute seam, and the dispatcher.
//
// Linking //acceleration registers them by name (register_backends.cc), so a program
// switches a whole run to the fast path with one flag or one line:
//
//   bazel run //acceleration:train_mnist -- --model=cnn --backend=auto
//   tt::tensor::ScopedBackend fast(tt::tensor::FindBackend("auto").value());
//
// | name            | GEMM                                   | elementwise, softmax, max-pool, |
// |                 |                                        | im2col / col2im                 |
// |-----------------|----------------------------------------|---------------------------------|
// | "blocked"       | GemmBlocked (cache blocking, no SIMD)  | reference                       |
// | "simd"          | GemmPacked, one thread (M <= 7:        | vectorized (elementwise.h,      |
// |                 | GemmSmallM, no packing)                | max_pool.h, im2col.h)           |
// | "simd_threaded" | GemmThreaded on DefaultThreadPool()    | vectorized                      |
// | "xnnpack"       | XNNPACK fully connected for pinned     | vectorized                      |
// |                 | weights, else "simd"                   |                                 |
// | "auto"          | per shape, from a DispatchTable        | vectorized                      |
//
// All but "blocked" prefer fused epilogues, so in inference Linear + ReLU/GELU run as one
// GemmBiasAct. Every backend computes the same contract as tensor's ReferenceBackend;
// backends_test checks each against it.
#ifndef TT_ACCELERATION_BACKENDS_H_
#define TT_ACCELERATION_BACKENDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "acceleration/thread_pool.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace tt::accel {

class BlockedBackend : public tensor::ReferenceBackend {
 public:
  std::string name() const override { return "blocked"; }
  void Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
            const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
};

// Packed SIMD GEMM on `pool` (nullptr: one thread) with the active ISA, plus the
// vectorized elementwise kernels and the fused epilogue.
class SimdBackend : public tensor::ReferenceBackend {
 public:
  explicit SimdBackend(std::string name = "simd", ThreadPool* pool = nullptr)
      : name_(std::move(name)), pool_(pool) {}
  std::string name() const override { return name_; }
  void Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
            const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
  void GemmBiasAct(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                   const float* a, int64_t lda, const float* b, int64_t ldb, const float* bias,
                   tensor::Activation act, float* c, int64_t ldc) override;
  void Unary(tensor::UnaryOp op, const float* x, float* y, int64_t n) override;
  void UnaryBackward(tensor::UnaryOp op, const float* x, const float* y, const float* dy,
                     float* dx, int64_t n) override;
  void Binary(tensor::BinaryOp op, const float* a, int64_t a_step, const float* b,
              int64_t b_step, float* y, int64_t n) override;
  void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log) override;
  void MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                 int64_t stride, float* y, int32_t* argmax) override;
  void Im2Col(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld) override;
  void Col2Im(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx) override;
  bool PrefersFusedEpilogue() const override { return true; }

 protected:
  ThreadPool* pool() const { return pool_; }

 private:
  std::string name_;
  ThreadPool* pool_;
};

// GEMMs whose B operand is a pinned weight go through a cached XNNPACK fully connected
// operator (weights packed once per ParameterVersion); everything else runs as "simd".
// Pin a model's weights once: backend.PinWeights(model.Parameters()).
class XnnpackBackend : public SimdBackend {
 public:
  XnnpackBackend();
  ~XnnpackBackend() override;
  void Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
            const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
  void PinWeights(const std::vector<tensor::Tensor>& weights);
  void ClearCache();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// --- Dispatch -------------------------------------------------------------------------

enum class GemmEngine { kSimd, kSimdThreaded };
const char* GemmEngineName(GemmEngine engine);  // "simd", "simd_threaded"

// Rules "below this many FLOPs (2*M*N*K), use this engine", first match wins; the last
// rule should have max_flops = +inf. Deterministic: the same table and shape always give
// the same engine.
struct DispatchRule {
  double max_flops;
  GemmEngine engine;
};

class DispatchTable {
 public:
  // The measured default for this course's machines (crossover_table regenerates it):
  // one thread below kGemmThreadedMinFlops, two above.
  static DispatchTable Default();
  // Text form, one rule per line: "<max_mflops|inf> <engine>", '#' comments.
  static absl::StatusOr<DispatchTable> Parse(const std::string& text);
  // $TT_DISPATCH_TABLE (a file in the text form) when set, else Default(). A bad file is
  // an error naming it.
  static absl::StatusOr<DispatchTable> FromEnvironment();

  explicit DispatchTable(std::vector<DispatchRule> rules);
  GemmEngine Choose(int64_t m, int64_t n, int64_t k) const;
  std::string ToString() const;
  const std::vector<DispatchRule>& rules() const { return rules_; }

 private:
  std::vector<DispatchRule> rules_;
};

// Picks a GEMM engine per call from a DispatchTable; the rest as "simd".
class AutoBackend : public SimdBackend {
 public:
  explicit AutoBackend(DispatchTable table);
  void Gemm(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
            const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
  void GemmBiasAct(tensor::Trans ta, tensor::Trans tb, int64_t m, int64_t n, int64_t k,
                   const float* a, int64_t lda, const float* b, int64_t ldb, const float* bias,
                   tensor::Activation act, float* c, int64_t ldc) override;
  const DispatchTable& table() const { return table_; }

 private:
  DispatchTable table_;
};

// The registered instances (created on first use, never destroyed).
SimdBackend& SimdSingleThreaded();
SimdBackend& SimdThreaded();
XnnpackBackend& Xnnpack();
AutoBackend& Auto();

// Registers every backend above with tensor::RegisterBackend. Idempotent. Linking
// //acceleration calls it at start-up.
void RegisterAccelerationBackends();

}  // namespace tt::accel

#endif  // TT_ACCELERATION_BACKENDS_H_
