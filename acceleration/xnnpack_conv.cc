#include "acceleration/xnnpack_conv.h"

#include <xmmintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "acceleration/xnnpack_gemm.h"
#include "tensor/check.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Shape;
using tensor::ShapeToString;
using tensor::Tensor;

constexpr int64_t kExtraFloats = XNN_EXTRA_BYTES / sizeof(float);

// A per-thread buffer of at least `floats` floats, reused from call to call.
float* Scratch(std::vector<float>& buffer, int64_t floats) {
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

}  // namespace

// --- Layout conversions ---------------------------------------------------------------

namespace {

// src (rows, cols) -> dst (cols, rows), row-major, one element at a time: the plain
// version, and the edges of the fast one.
void TransposeBlock(const float* src, int64_t rows, int64_t cols, int64_t r0, int64_t r1,
                    int64_t c0, int64_t c1, float* dst) {
  for (int64_t c = c0; c < c1; ++c) {
    for (int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
  }
}

// The same transpose, fast. Both conversions are this, once per image: NCHW -> NHWC
// transposes (C, H*W), NHWC -> NCHW transposes (H*W, C). Tiles of 16 x 16 keep the
// strided side of each tile in L1 (the plain loops walk a whole image with a stride of
// C floats and, once an image outgrows L1 - a 28x28x16 image is 50 KB - fetch every
// cache line C times), and inside a tile 4 x 4 blocks move as four SSE registers
// (SSE2 is part of x86-64, so this needs no CPU dispatch): one load and one store per
// 4 floats instead of one per float.
void Transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t kTile = 16;
  const int64_t rows4 = rows / 4 * 4, cols4 = cols / 4 * 4;
  for (int64_t r0 = 0; r0 < rows4; r0 += kTile) {
    const int64_t r1 = std::min(rows4, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols4; c0 += kTile) {
      const int64_t c1 = std::min(cols4, c0 + kTile);
      for (int64_t r = r0; r < r1; r += 4) {
        for (int64_t c = c0; c < c1; c += 4) {
          __m128 a = _mm_loadu_ps(src + r * cols + c);
          __m128 b = _mm_loadu_ps(src + (r + 1) * cols + c);
          __m128 e = _mm_loadu_ps(src + (r + 2) * cols + c);
          __m128 d = _mm_loadu_ps(src + (r + 3) * cols + c);
          _MM_TRANSPOSE4_PS(a, b, e, d);
          _mm_storeu_ps(dst + c * rows + r, a);
          _mm_storeu_ps(dst + (c + 1) * rows + r, b);
          _mm_storeu_ps(dst + (c + 2) * rows + r, e);
          _mm_storeu_ps(dst + (c + 3) * rows + r, d);
        }
      }
    }
  }
  TransposeBlock(src, rows, cols, 0, rows4, cols4, cols, dst);  // the last cols % 4
  TransposeBlock(src, rows, cols, rows4, rows, 0, cols, dst);   // the last rows % 4
}

}  // namespace

void NchwToNhwc(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* y) {
  const int64_t plane = h * w, image = c * plane;
  if (c == 1) {  // the two layouts coincide
    std::memcpy(y, x, static_cast<size_t>(n * image) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i) Transpose(x + i * image, c, plane, y + i * image);
}

void NhwcToNchw(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* y) {
  const int64_t plane = h * w, image = c * plane;
  if (c == 1) {
    std::memcpy(y, x, static_cast<size_t>(n * image) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i) Transpose(x + i * image, plane, c, y + i * image);
}

// --- XnnpackConv2d --------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<XnnpackConv2d>> XnnpackConv2d::Create(
    const float* weight, const float* bias, int64_t oc, int64_t c, int64_t kh, int64_t kw,
    const XnnpackConvParams& params) {
  TT_RETURN_IF_ERROR(XnnpackStatus());
  if (oc < 1 || c < 1 || kh < 1 || kw < 1 || params.stride < 1 || params.padding < 0 ||
      weight == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XnnpackConv2d: bad weight (", oc, ", ", c, ", ", kh, ", ", kw, ")",
        weight == nullptr ? " (null)" : "", ", stride ", params.stride, " or padding ",
        params.padding));
  }
  if (params.act != Activation::kNone && params.act != Activation::kRelu) {
    return absl::InvalidArgumentError(
        "XnnpackConv2d: XNNPACK fuses only clamp activations (none, ReLU); GELU is not one");
  }
  // xnnpack.h (xnn_define_convolution_2d) gives the filter as [groups * group_output_
  // channels, kernel_height, kernel_width, group_input_channels]: OHWI. The course keeps
  // OIHW, so move the input channel innermost once, here.
  std::vector<float> ohwi(static_cast<size_t>(oc * kh * kw * c));
  for (int64_t o = 0; o < oc; ++o) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t i = 0; i < kh; ++i) {
        for (int64_t j = 0; j < kw; ++j) {
          ohwi[((o * kh + i) * kw + j) * c + ch] = weight[((o * c + ch) * kh + i) * kw + j];
        }
      }
    }
  }
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float out_min = params.act == Activation::kRelu ? 0.0f : -kInf;
  const uint32_t pad = static_cast<uint32_t>(params.padding);
  const uint32_t stride = static_cast<uint32_t>(params.stride);
  xnn_operator_t op = nullptr;
  const xnn_status s = xnn_create_convolution2d_nhwc_f32(
      pad, pad, pad, pad, static_cast<uint32_t>(kh), static_cast<uint32_t>(kw), stride, stride,
      /*dilation_height=*/1, /*dilation_width=*/1, /*groups=*/1,
      /*group_input_channels=*/static_cast<size_t>(c),
      /*group_output_channels=*/static_cast<size_t>(oc),
      /*input_channel_stride=*/static_cast<size_t>(c),
      /*output_channel_stride=*/static_cast<size_t>(oc), ohwi.data(), bias, out_min, kInf,
      /*flags=*/0, &op);
  if (s != xnn_status_success) {
    return XnnStatusToStatus(s, absl::StrCat("xnn_create_convolution2d_nhwc_f32(OC=", oc,
                                             ", C=", c, ", ", kh, "x", kw, ")")
                                    .c_str());
  }
  return std::unique_ptr<XnnpackConv2d>(new XnnpackConv2d(op, oc, c, kh, kw, params));
}

XnnpackConv2d::~XnnpackConv2d() {
  absl::MutexLock lock(&mu_);
  xnn_delete_operator(op_);
}

absl::Status XnnpackConv2d::RunNhwc(const float* x, int64_t n, int64_t h, int64_t w, float* y,
                                    pthreadpool_t pool) {
  if (n < 0 || out_h(h) < 1 || out_w(w) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XnnpackConv2d::RunNhwc: input (", n, ", ", h, ", ", w, ", ", c_, ") does not fit a ",
        kh_, "x", kw_, " kernel with padding ", padding_));
  }
  if (n == 0) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  xnn_status s = xnn_setup_convolution2d_nhwc_f32(op_, static_cast<size_t>(n),
                                                  static_cast<size_t>(h),
                                                  static_cast<size_t>(w), x, y, pool);
  if (s != xnn_status_success) return XnnStatusToStatus(s, "xnn_setup_convolution2d_nhwc_f32");
  s = xnn_run_operator(op_, pool);
  return XnnStatusToStatus(s, "xnn_run_operator(convolution)");
}

// --- XnnpackConvCache -----------------------------------------------------------------

absl::StatusOr<std::shared_ptr<XnnpackConv2d>> XnnpackConvCache::Lookup(
    const Tensor& weight, const Tensor& bias, const XnnpackConvParams& params,
    uint64_t version) {
  if (!weight.defined() || weight.dim() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XnnpackConvCache: weight must be (OC, C, KH, KW), got ",
        weight.defined() ? ShapeToString(weight.shape()) : "undefined"));
  }
  const Shape& ws = weight.shape();
  if (bias.defined() && bias.shape() != Shape{ws[0]}) {
    return absl::InvalidArgumentError(absl::StrCat("XnnpackConvCache: bias ",
                                                   ShapeToString(bias.shape()),
                                                   " should be (", ws[0], ")"));
  }
  const float* bias_data = bias.defined() ? bias.data() : nullptr;
  Key key(weight.data(), bias_data, ws, params.stride, params.padding, params.act);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.version == version) {
    ++hits_;
    return it->second.op;
  }
  TT_ASSIGN_OR_RETURN(
      std::unique_ptr<XnnpackConv2d> op,
      XnnpackConv2d::Create(weight.data(), bias_data, ws[0], ws[1], ws[2], ws[3], params));
  ++creations_;
  Entry& entry = entries_[std::move(key)];
  entry.version = version;
  entry.weight = weight;
  entry.bias = bias;
  entry.op = std::move(op);
  return entry.op;
}

void XnnpackConvCache::Clear() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
}

int64_t XnnpackConvCache::creations() const {
  absl::MutexLock lock(&mu_);
  return creations_;
}

int64_t XnnpackConvCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t XnnpackConvCache::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(entries_.size());
}

XnnpackConvCache& DefaultXnnpackConvCache() {
  static XnnpackConvCache* const cache = new XnnpackConvCache();
  return *cache;
}

// --- Tensor-level convolutions --------------------------------------------------------

namespace {

// Checks the shapes (contract: TT_CHECK) and returns the layer's operator.
absl::StatusOr<std::shared_ptr<XnnpackConv2d>> OperatorFor(const char* op_name,
                                                           const Shape& x_chw_shape,
                                                           int64_t x_channels,
                                                           const Tensor& weight,
                                                           const Tensor& bias,
                                                           const XnnpackConvParams& params,
                                                           const XnnpackConvRunOptions& run) {
  TT_CHECK(x_chw_shape.size() == 4 && weight.defined() && weight.dim() == 4, op_name,
           ": needs a 4-d x and weight (OC, C, KH, KW), got x ", ShapeToString(x_chw_shape),
           " and weight ", weight.defined() ? ShapeToString(weight.shape()) : "undefined");
  TT_CHECK(weight.shape()[1] == x_channels, op_name, ": x ", ShapeToString(x_chw_shape),
           " has ", x_channels, " channels but weight ", ShapeToString(weight.shape()),
           " expects ", weight.shape()[1]);
  XnnpackConvCache& cache = run.cache != nullptr ? *run.cache : DefaultXnnpackConvCache();
  return cache.Lookup(weight, bias, params, tensor::ParameterVersion());
}

}  // namespace

absl::StatusOr<Tensor> XnnpackConv2dNhwc(const Tensor& x, const Tensor& weight,
                                         const Tensor& bias, const XnnpackConvParams& params,
                                         const XnnpackConvRunOptions& run) {
  TT_CHECK(x.defined(), "xnnpack.conv2d_nhwc: undefined x");
  const Shape& xs = x.shape();
  TT_ASSIGN_OR_RETURN(std::shared_ptr<XnnpackConv2d> op,
                      OperatorFor("xnnpack.conv2d_nhwc", xs, xs.size() == 4 ? xs[3] : -1,
                                  weight, bias, params, run));
  const int64_t n = xs[0], h = xs[1], w = xs[2], oc = op->out_channels();
  const int64_t oh = op->out_h(h), ow = op->out_w(w);
  if (oh < 1 || ow < 1) {
    return absl::InvalidArgumentError(absl::StrCat("xnnpack.conv2d_nhwc: kernel ",
                                                   ShapeToString(weight.shape()),
                                                   " does not fit x ", ShapeToString(xs),
                                                   " with padding ", params.padding));
  }
  const int64_t ckk = weight.numel() / oc;
  tensor::OpScope scope("xnnpack.conv2d_nhwc", {&xs, &weight.shape()},
                        2 * n * oh * ow * oc * ckk,
                        4 * (x.numel() + weight.numel() + n * oh * ow * oc));
  Tensor y = Tensor::Empty({n, oh, ow, oc});
  TT_RETURN_IF_ERROR(op->RunNhwc(x.data(), n, h, w, y.data(), run.pool));
  return y;
}

absl::StatusOr<Tensor> XnnpackConv2dNchw(const Tensor& x, const Tensor& weight,
                                         const Tensor& bias, const XnnpackConvParams& params,
                                         const XnnpackConvRunOptions& run) {
  TT_CHECK(x.defined(), "xnnpack.conv2d_nchw: undefined x");
  const Shape& xs = x.shape();
  TT_ASSIGN_OR_RETURN(std::shared_ptr<XnnpackConv2d> op,
                      OperatorFor("xnnpack.conv2d_nchw", xs, xs.size() == 4 ? xs[1] : -1,
                                  weight, bias, params, run));
  const int64_t n = xs[0], c = xs[1], h = xs[2], w = xs[3], oc = op->out_channels();
  const int64_t oh = op->out_h(h), ow = op->out_w(w);
  if (oh < 1 || ow < 1) {
    return absl::InvalidArgumentError(absl::StrCat("xnnpack.conv2d_nchw: kernel ",
                                                   ShapeToString(weight.shape()),
                                                   " does not fit x ", ShapeToString(xs),
                                                   " with padding ", params.padding));
  }
  thread_local std::vector<float> in_buffer, out_buffer;
  // XNNPACK may read XNN_EXTRA_BYTES past its input: the scratch input has them.
  float* x_nhwc = Scratch(in_buffer, x.numel() + kExtraFloats);
  float* y_nhwc = Scratch(out_buffer, n * oh * ow * oc);
  Tensor y = Tensor::Empty({n, oc, oh, ow});
  {
    tensor::OpScope scope("xnnpack.nchw_to_nhwc", {&xs}, 0, 8 * x.numel());
    NchwToNhwc(x.data(), n, c, h, w, x_nhwc);
  }
  {
    const int64_t ckk = weight.numel() / oc;
    tensor::OpScope scope("xnnpack.conv2d_nhwc", {&xs, &weight.shape()},
                          2 * n * oh * ow * oc * ckk,
                          4 * (x.numel() + weight.numel() + y.numel()));
    TT_RETURN_IF_ERROR(op->RunNhwc(x_nhwc, n, h, w, y_nhwc, run.pool));
  }
  {
    tensor::OpScope scope("xnnpack.nhwc_to_nchw", {&y.shape()}, 0, 8 * y.numel());
    NhwcToNchw(y_nhwc, n, oc, oh, ow, y.data());
  }
  return y;
}

}  // namespace tt::accel
