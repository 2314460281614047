// The compute-backend seam: the hot kernels every op uses, behind one interface.
//
// tensor's ops call CurrentBackend() for GEMM, im2col/col2im, the elementwise maps and
// row softmax. ReferenceBackend is the plain implementation every faster backend is
// tested against. A higher module (acceleration) derives from it, overrides what it
// speeds up, and registers the result by name; model code never changes:
//
//   tt::tensor::ScopedBackend use(tt::tensor::FindBackend("simd").value());
//   model.Forward(x);                       // every GEMM in here runs on "simd"
//
// Kernels work on contiguous row-major float arrays. Shapes are given in each comment.
#ifndef TT_TENSOR_BACKEND_H_
#define TT_TENSOR_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tt::tensor {

enum class Trans { kNo, kYes };

enum class UnaryOp { kExp, kLog, kSqrt, kTanh, kSigmoid, kRelu, kGelu, kNeg };
enum class BinaryOp { kAdd, kSub, kMul, kDiv };
// The activation a fused GEMM epilogue applies (kGelu: the tanh approximation).
enum class Activation { kNone, kRelu, kGelu };

// One image's convolution geometry (NCHW, square or not, no dilation).
struct ConvGeometry {
  int64_t channels, height, width;        // input (C, H, W)
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t out_h() const { return (height + 2 * pad_h - kernel_h) / stride_h + 1; }
  int64_t out_w() const { return (width + 2 * pad_w - kernel_w) / stride_w + 1; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // C(M,N) = alpha * op(A) * op(B) + beta * C, where op(A) is (M,K) and op(B) is (K,N).
  // A is stored (M,K) row-major with row stride lda, or (K,M) when ta == kYes; likewise
  // B is (K,N), or (N,K) when tb == kYes. beta == 0 means C is not read (may hold NaN).
  virtual void Gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                    float* c, int64_t ldc) = 0;

  // C(M,N) = act(op(A) * op(B) + bias), bias: N values (one per column) or nullptr.
  // The fused form of Gemm + bias add + activation, so a backend can apply the epilogue
  // while C is still in registers or cache. The default runs the three steps through
  // this backend's own Gemm, Binary and Unary.
  virtual void GemmBiasAct(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k,
                           const float* a, int64_t lda, const float* b, int64_t ldb,
                           const float* bias, Activation act, float* c, int64_t ldc);

  // x: (C, H, W) -> cols: (C*KH*KW, OH*OW) with row stride ld >= OH*OW (so a batch's
  // images can sit side by side in one matrix); padding reads as zero.
  virtual void Im2Col(const ConvGeometry& g, const float* x, float* cols, int64_t ld) = 0;
  // cols: (C*KH*KW, OH*OW), row stride ld -> dx: (C, H, W), ADDED into dx (the adjoint
  // of Im2Col).
  virtual void Col2Im(const ConvGeometry& g, const float* cols, int64_t ld, float* dx) = 0;

  // y[i] = op(x[i]), i < n. y may alias x.
  virtual void Unary(UnaryOp op, const float* x, float* y, int64_t n) = 0;
  // dx[i] = dy[i] * op'(x[i]); y = op(x) is passed too (cheaper for exp/tanh/sigmoid).
  virtual void UnaryBackward(UnaryOp op, const float* x, const float* y, const float* dy,
                             float* dx, int64_t n) = 0;
  // y[i] = a[i * a_step] op b[i * b_step], i < n; steps are 0 (broadcast) or 1.
  virtual void Binary(BinaryOp op, const float* a, int64_t a_step, const float* b,
                      int64_t b_step, float* y, int64_t n) = 0;
  // x, y: (rows, cols); softmax (or log-softmax) of each row, numerically stable.
  virtual void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols,
                           bool log) = 0;
  // x: `planes` planes of (h, w) -> y: planes of (oh, ow), oh = (h - kernel) / stride + 1;
  // argmax: for each output, the flat index (within its input plane) of the first
  // maximal element. No padding.
  virtual void MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                         int64_t stride, float* y, int32_t* argmax) = 0;
  // True when GemmBiasAct is faster than the three separate steps, so layers may fuse
  // (inference only). The reference backend says no: it keeps every op visible.
  virtual bool PrefersFusedEpilogue() const { return false; }
};

// The simple, obviously-correct kernels: the oracle for every fast path.
class ReferenceBackend : public Backend {
 public:
  std::string name() const override { return "reference"; }
  void Gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
            int64_t lda, const float* b, int64_t ldb, float beta, float* c,
            int64_t ldc) override;
  void Im2Col(const ConvGeometry& g, const float* x, float* cols, int64_t ld) override;
  void Col2Im(const ConvGeometry& g, const float* cols, int64_t ld, float* dx) override;
  void Unary(UnaryOp op, const float* x, float* y, int64_t n) override;
  void UnaryBackward(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                     int64_t n) override;
  void Binary(BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step,
              float* y, int64_t n) override;
  void SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols, bool log) override;
  void MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                 int64_t stride, float* y, int32_t* argmax) override;
};

// The backend ops use now: the innermost ScopedBackend, else the default.
Backend& CurrentBackend();
// The process-wide default (the reference backend unless changed). Not owned.
void SetDefaultBackend(Backend* backend);

// Selects a backend for the current thread for the life of the guard.
class ScopedBackend {
 public:
  explicit ScopedBackend(Backend* backend);
  ~ScopedBackend();
  ScopedBackend(const ScopedBackend&) = delete;
  ScopedBackend& operator=(const ScopedBackend&) = delete;

 private:
  Backend* previous_;
};

// A name -> backend registry ("reference" is always there). Backends live forever.
void RegisterBackend(Backend* backend);
absl::StatusOr<Backend*> FindBackend(absl::string_view name);
std::vector<std::string> BackendNames();

}  // namespace tt::tensor

#endif  // TT_TENSOR_BACKEND_H_
