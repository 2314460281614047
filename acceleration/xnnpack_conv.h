// 2-D convolution through XNNPACK, which works in NHWC (channels last), for a course whose
// tensors are NCHW: the layout conversions as separate, measurable functions, an
// operator per layer with its weights converted and packed once, a cache of them, and
// XnnpackConv2dNchw = convert in, convolve, convert back.
//
// Why the layout matters: XNNPACK's convolution is an implicit GEMM over pixels, with a
// pixel's channels contiguous, so it needs no im2col buffer. But in an NCHW model every
// call pays two transposes (input and output) that move as many bytes as the
// convolution reads and writes. Keeping a whole network NHWC end to end pays them once
// at the edges; the module README (XNNPACK section) has the measured costs at the reference CNN's shapes.
//
//   tt::tensor::Tensor x = ...;       // (64, 1, 28, 28) NCHW
//   tt::tensor::Tensor w = ...;       // (16, 1, 3, 3), OIHW as everywhere in the course
//   tt::accel::XnnpackConvParams p;
//   p.padding = 1;
//   p.act = tt::tensor::Activation::kRelu;
//   TT_ASSIGN_OR_RETURN(tt::tensor::Tensor y, tt::accel::XnnpackConv2dNchw(x, w, b, p));
//   // y: (64, 16, 28, 28) NCHW; w was packed on the first call and is reused until
//   // tt::tensor::ParameterVersion() changes.
#ifndef TT_ACCELERATION_XNNPACK_CONV_H_
#define TT_ACCELERATION_XNNPACK_CONV_H_

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

// x: (N, C, H, W) -> y: (N, H, W, C). n, c, h, w are the logical sizes. y must not overlap x.
void NchwToNhwc(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* y);
// x: (N, H, W, C) -> y: (N, C, H, W); the same logical sizes. y must not overlap x.
void NhwcToNchw(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* y);

// What is packed into a convolution operator besides its weights. Square stride and
// padding (as tensor::Conv2dOptions), no dilation, one group.
struct XnnpackConvParams {
  int64_t stride = 1;
  int64_t padding = 0;
  tensor::Activation act = tensor::Activation::kNone;  // kNone or kRelu (a clamp)
};

// One XNNPACK NHWC convolution: y = act(conv(x, weight) + bias) for any N, H, W.
class XnnpackConv2d {
 public:
  // weight: (OC, C, KH, KW) row-major (the course's OIHW), bias: OC floats or nullptr.
  // The weights are transposed once to XNNPACK's (OC, KH, KW, C) and packed; neither
  // array is read afterwards. Errors: XnnpackStatus() when not OK, InvalidArgument for a
  // size < 1, stride < 1, padding < 0, null weight or act kGelu, and any
  // xnn_create_convolution2d_nhwc_f32 failure (with its xnn_status).
  static absl::StatusOr<std::unique_ptr<XnnpackConv2d>> Create(
      const float* weight, const float* bias, int64_t oc, int64_t c, int64_t kh, int64_t kw,
      const XnnpackConvParams& params);
  ~XnnpackConv2d();
  XnnpackConv2d(const XnnpackConv2d&) = delete;
  XnnpackConv2d& operator=(const XnnpackConv2d&) = delete;

  // x: (N, H, W, C) -> y: (N, OH, OW, OC), both NHWC contiguous, y not overlapping x;
  // OH = out_h(H), OW = out_w(W). pool: nullptr (this thread) or a pthreadpool. Calls
  // are serialized per operator. N == 0 does nothing. Errors: InvalidArgument for
  // N < 0 or an image the kernel does not fit (OH or OW < 1), else the xnn_status of a
  // failing setup or run.
  absl::Status RunNhwc(const float* x, int64_t n, int64_t h, int64_t w, float* y,
                       pthreadpool_t pool);

  // The output size for an input of h (w) rows (columns); 0 when the kernel does not fit.
  int64_t out_h(int64_t h) const { return OutSize(h, kh_); }
  int64_t out_w(int64_t w) const { return OutSize(w, kw_); }
  int64_t out_channels() const { return oc_; }
  int64_t in_channels() const { return c_; }

 private:
  XnnpackConv2d(xnn_operator_t op, int64_t oc, int64_t c, int64_t kh, int64_t kw,
                const XnnpackConvParams& params)
      : op_(op), oc_(oc), c_(c), kh_(kh), kw_(kw), stride_(params.stride),
        padding_(params.padding) {}
  int64_t OutSize(int64_t in, int64_t kernel) const {
    return in + 2 * padding_ < kernel ? 0 : (in + 2 * padding_ - kernel) / stride_ + 1;
  }
  absl::Mutex mu_;
  xnn_operator_t op_ ABSL_GUARDED_BY(mu_);
  int64_t oc_, c_, kh_, kw_, stride_, padding_;
};

// Packed convolution operators by layer. Key: (weight address, bias address, weight
// shape, stride, padding, act); an entry also stores the weights version it was packed
// at, and a Lookup at another version re-packs. Each entry holds handles to its weight
// and bias tensors, so their storage (and address) cannot be reused for other data while
// the entry lives: the only contract left to the caller is that the values change only
// through version bumps (tensor::ParameterVersion()). Thread-safe.
class XnnpackConvCache {
 public:
  // The operator for `weight` (OC, C, KH, KW) and `bias` (OC) or undefined. A hit when the
  // key matches at `version`; otherwise a creation that replaces an older entry. Errors
  // as XnnpackConv2d::Create, and InvalidArgument for a weight that is not 4-d or a bias
  // that is not (OC); a failure leaves the cache unchanged.
  absl::StatusOr<std::shared_ptr<XnnpackConv2d>> Lookup(const tensor::Tensor& weight,
                                                        const tensor::Tensor& bias,
                                                        const XnnpackConvParams& params,
                                                        uint64_t version);
  void Clear();  // drops every entry (and the tensors it holds); counters are kept

  int64_t creations() const;
  int64_t hits() const;
  int64_t size() const;

 private:
  using Key = std::tuple<const float*, const float*, tensor::Shape, int64_t, int64_t,
                         tensor::Activation>;
  struct Entry {
    uint64_t version;
    tensor::Tensor weight, bias;  // held so that the addresses in the key stay theirs
    std::shared_ptr<XnnpackConv2d> op;
  };
  mutable absl::Mutex mu_;
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t creations_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
};

// The process-wide cache the tensor-level functions below use by default.
XnnpackConvCache& DefaultXnnpackConvCache();

struct XnnpackConvRunOptions {
  XnnpackConvCache* cache = nullptr;  // nullptr: DefaultXnnpackConvCache()
  pthreadpool_t pool = nullptr;       // nullptr: the calling thread
};

// x: (N, H, W, C) NHWC, weight: (OC, C, KH, KW), bias: (OC) or undefined
//   -> (N, OH, OW, OC) NHWC. The operator comes from the cache at
// tensor::ParameterVersion(). Shape mismatches (x not 4-d, C differing) are contract
// violations (TT_CHECK, naming the shapes); XNNPACK failures and bad params are Status.
absl::StatusOr<tensor::Tensor> XnnpackConv2dNhwc(const tensor::Tensor& x,
                                                 const tensor::Tensor& weight,
                                                 const tensor::Tensor& bias,
                                                 const XnnpackConvParams& params,
                                                 const XnnpackConvRunOptions& run = {});

// x: (N, C, H, W) NCHW -> (N, OC, OH, OW) NCHW, the same result as tensor::Conv2d
// (+ the activation): NchwToNhwc into a scratch buffer, the NHWC convolution into a
// second one, NhwcToNchw into the result. The scratch buffers are per thread and reused
// (they grow to the largest call), so steady-state calls allocate only the result.
// No autograd: the result does not record the op. Errors as XnnpackConv2dNhwc.
absl::StatusOr<tensor::Tensor> XnnpackConv2dNchw(const tensor::Tensor& x,
                                                 const tensor::Tensor& weight,
                                                 const tensor::Tensor& bias,
                                                 const XnnpackConvParams& params,
                                                 const XnnpackConvRunOptions& run = {});

}  // namespace tt::accel

#endif  // TT_ACCELERATION_XNNPACK_CONV_H_
