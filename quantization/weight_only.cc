#include "quantization/weight_only.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "acceleration/gemm.h"
#include "quantization/kernels/wo_kernels.h"
#include "tensor/check.h"
#include "tensor/instrument.h"
#include "tensor/model_file.h"

namespace tt::quant {
namespace {

using kernels::kWoChunk;
using kernels::kWoPanel;
using kernels::WoPanelWidth;
using tensor::Activation;
using tensor::Tensor;
namespace proto = tensor::proto;

// The dequantize-and-GEMM path dequantizes this many floats (128 KiB, well inside L2)
// at a time: K rows by a multiple of 64 columns.
constexpr int64_t kScratchFloats = 32 * 1024;

int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

int QMax(WeightScheme scheme) { return scheme == WeightScheme::kInt8PerChannel ? 127 : 7; }

// scale = max|w| / qmax for a group of weights; 1 for an all-zero group (any positive
// scale gives q = 0), the smallest positive float if the division underflows.
float SymmetricScale(float abs_max, int qmax) {
  if (abs_max == 0.0f) return 1.0f;
  const float scale = abs_max / static_cast<float>(qmax);
  return scale > 0.0f ? scale : std::numeric_limits<float>::denorm_min();
}

// round-to-nearest-even(w / scale), clamped to [-qmax, qmax].
int8_t QuantizeValue(float w, float scale, int qmax) {
  const float q = std::nearbyint(w / scale);
  return static_cast<int8_t>(std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax)));
}

// Scratch buffers reused across calls on one thread (a kernel may serve many threads).
std::vector<float>& ThreadScratch(int which) {
  thread_local std::vector<float> buffers[2];
  return buffers[which];
}

// xs[(k * nb + b) * G + r] = x[r, k] * scales[k * nb + b] for G rows of x (K values each).
template <int G>
void FoldScales(const float* x, int64_t k_size, const float* scales, int64_t nb, float* xs) {
  for (int64_t k = 0; k < k_size; ++k) {
    float xk[G];
    for (int r = 0; r < G; ++r) xk[r] = x[r * k_size + k];
    const float* s = scales + k * nb;
    float* out = xs + k * nb * G;
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < G; ++r) out[b * G + r] = xk[r] * s[b];
    }
  }
}

absl::Status TensorError(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", what));
}

}  // namespace

const char* WeightSchemeName(WeightScheme scheme) {
  switch (scheme) {
    case WeightScheme::kInt8PerChannel:
      return "int8 per channel";
    case WeightScheme::kInt4Block:
      return "int4 blocks";
  }
  return "unknown";
}

absl::Status WeightOnlyOptions::Validate() const {
  if (scheme != WeightScheme::kInt8PerChannel && scheme != WeightScheme::kInt4Block) {
    return absl::InvalidArgumentError(
        absl::StrCat("WeightOnlyOptions: unknown scheme ", static_cast<int>(scheme)));
  }
  if (scheme == WeightScheme::kInt4Block && block_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("WeightOnlyOptions: block_size must be > 0, got ", block_size));
  }
  return absl::OkStatus();
}

// --- Construction ------------------------------------------------------------------

std::shared_ptr<WeightOnlyLinear> WeightOnlyLinear::Build(WeightScheme scheme, int block_size,
                                                          int64_t in, int64_t out,
                                                          const std::vector<int8_t>& q,
                                                          std::vector<float> scales,
                                                          std::vector<float> bias) {
  std::shared_ptr<WeightOnlyLinear> w(new WeightOnlyLinear());
  w->scheme_ = scheme;
  w->block_size_ = scheme == WeightScheme::kInt4Block ? block_size : 0;
  w->in_ = in;
  w->out_ = out;
  w->scales_ = std::move(scales);
  w->bias_ = std::move(bias);
  const int64_t out_pad = RoundUp(out, kWoChunk);
  if (scheme == WeightScheme::kInt8PerChannel) {
    w->gemv_ok_ = true;
    w->packed_.assign(static_cast<size_t>(in * out_pad), 0);
    for (int64_t n0 = 0; n0 < out; n0 += kWoPanel) {
      const int64_t pw = WoPanelWidth(n0, out);
      uint8_t* panel = w->packed_.data() + n0 * in;
      for (int64_t k = 0; k < in; ++k) {
        for (int64_t c = 0; c < pw && n0 + c < out; ++c) {
          panel[k * pw + c] = static_cast<uint8_t>(q[k * out + n0 + c]);
        }
      }
    }
    w->padded_scales_.assign(static_cast<size_t>(out_pad), 0.0f);
    std::copy(w->scales_.begin(), w->scales_.end(), w->padded_scales_.begin());
  } else {
    w->gemv_ok_ = block_size % 16 == 0 && out % block_size == 0;
    // 0x88: both nibbles u = 8, i.e. q = 0, so padding columns contribute nothing.
    w->packed_.assign(static_cast<size_t>(in * out_pad / 2), 0x88);
    for (int64_t n0 = 0; n0 < out; n0 += kWoPanel) {
      const int64_t pw = WoPanelWidth(n0, out);
      uint8_t* panel = w->packed_.data() + n0 * in / 2;
      for (int64_t k = 0; k < in; ++k) {
        uint8_t* row = panel + k * pw / 2;
        for (int64_t c = 0; c < pw && n0 + c < out; ++c) {
          const uint8_t u = static_cast<uint8_t>(q[k * out + n0 + c] + 8);
          uint8_t& byte = row[(c / kWoChunk) * 16 + c % 16];
          byte = (c % kWoChunk) < 16 ? static_cast<uint8_t>((byte & 0xF0) | u)
                                     : static_cast<uint8_t>((byte & 0x0F) | (u << 4));
        }
      }
    }
  }
  return w;
}

absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> MakeWeightOnlyLinear(
    const Tensor& weight, const Tensor& bias, const WeightOnlyOptions& options) {
  TT_RETURN_IF_ERROR(options.Validate());
  if (!weight.defined() || weight.dim() != 2 || weight.numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MakeWeightOnlyLinear: weight must be a non-empty (in, out) matrix, got ",
        weight.defined() ? tensor::ShapeToString(weight.shape()) : "an undefined tensor"));
  }
  const int64_t in = weight.size(0), out = weight.size(1);
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MakeWeightOnlyLinear: bias must have shape (", out, "), got ",
                     tensor::ShapeToString(bias.shape())));
  }
  const float* w = weight.data();
  for (int64_t i = 0; i < in * out; ++i) {
    if (!std::isfinite(w[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("MakeWeightOnlyLinear: weight[", i / out, ", ", i % out, "] is ", w[i],
                       "; only finite weights can be quantized"));
    }
  }
  const int qmax = QMax(options.scheme);
  std::vector<int8_t> q;  // (not q(n): GCC 12 then warns about a zero-sized write)
  q.resize(static_cast<size_t>(in * out));
  std::vector<float> scales;
  if (options.scheme == WeightScheme::kInt8PerChannel) {
    scales.assign(static_cast<size_t>(out), 0.0f);
    for (int64_t k = 0; k < in; ++k) {
      for (int64_t n = 0; n < out; ++n) scales[n] = std::max(scales[n], std::fabs(w[k * out + n]));
    }
    for (float& s : scales) s = SymmetricScale(s, qmax);
    for (int64_t k = 0; k < in; ++k) {
      for (int64_t n = 0; n < out; ++n) {
        q[k * out + n] = QuantizeValue(w[k * out + n], scales[n], qmax);
      }
    }
  } else {
    const int64_t total = in * out, bs = options.block_size;
    scales.resize(static_cast<size_t>((total + bs - 1) / bs));
    for (int64_t b = 0; b < static_cast<int64_t>(scales.size()); ++b) {
      const int64_t end = std::min(total, (b + 1) * bs);
      float abs_max = 0.0f;
      for (int64_t i = b * bs; i < end; ++i) abs_max = std::max(abs_max, std::fabs(w[i]));
      scales[b] = SymmetricScale(abs_max, qmax);
      for (int64_t i = b * bs; i < end; ++i) q[i] = QuantizeValue(w[i], scales[b], qmax);
    }
  }
  std::vector<float> bias_values;
  if (bias.defined()) bias_values.assign(bias.data(), bias.data() + out);
  return WeightOnlyLinear::Build(options.scheme, options.block_size, in, out, q,
                                 std::move(scales), std::move(bias_values));
}

// --- Model file ----------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> WeightOnlyLinearFromProto(
    const proto::TensorProto& t, const Tensor& bias) {
  TT_RETURN_IF_ERROR(tensor::ValidateTensorProto(t));
  const std::string& name = t.name();
  if (t.dtype() != proto::INT8 && t.dtype() != proto::INT4) {
    return TensorError(name, absl::StrCat("dtype ", proto::DType_Name(t.dtype()),
                                          ", expected INT8 or INT4 for a weight-only Linear"));
  }
  if (t.sparse().format() != proto::NONE) {
    return TensorError(name, "a sparse (CSR) weight cannot be a weight-only kernel");
  }
  if (t.shape_size() != 2 || t.shape(0) <= 0 || t.shape(1) <= 0) {
    return TensorError(name, "a weight-only Linear weight must be a non-empty (in, out) matrix");
  }
  const int64_t in = t.shape(0), out = t.shape(1), n = in * out;
  const proto::QuantParams& qp = t.quant();
  WeightScheme scheme;
  int block_size = 0;
  if (t.dtype() == proto::INT8) {
    scheme = WeightScheme::kInt8PerChannel;
    if (qp.scheme() != proto::PER_CHANNEL || qp.axis() != 1) {
      return TensorError(name, absl::StrCat("INT8 weights must be PER_CHANNEL on axis 1 (one "
                                            "scale per output column), got ",
                                            proto::QuantScheme_Name(qp.scheme()), " axis ",
                                            qp.axis()));
    }
  } else {
    scheme = WeightScheme::kInt4Block;
    if (qp.scheme() != proto::PER_BLOCK || qp.block_size() <= 0) {
      return TensorError(name, absl::StrCat("INT4 weights must be PER_BLOCK with block_size > 0, "
                                            "got ", proto::QuantScheme_Name(qp.scheme()),
                                            " block_size ", qp.block_size()));
    }
    block_size = qp.block_size();
  }
  for (int32_t z : qp.zero_point()) {
    if (z != 0) {
      return TensorError(name, absl::StrCat("zero point ", z, ": weight-only kernels are "
                                            "symmetric (every zero point must be 0)"));
    }
  }
  if (bias.defined() && bias.numel() != out) {
    return TensorError(name, absl::StrCat("bias has ", bias.numel(), " elements, expected ", out));
  }
  std::vector<int8_t> q(static_cast<size_t>(n));
  const std::string& data = t.data();
  if (scheme == WeightScheme::kInt8PerChannel) {
    for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(static_cast<uint8_t>(data[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t byte = static_cast<uint8_t>(data[i / 2]);
      const int nibble = i % 2 == 0 ? (byte & 15) : (byte >> 4);
      q[i] = static_cast<int8_t>(nibble >= 8 ? nibble - 16 : nibble);  // 4-bit two's complement
    }
  }
  std::vector<float> scales(qp.scale().begin(), qp.scale().end());
  std::vector<float> bias_values;
  if (bias.defined()) bias_values.assign(bias.data(), bias.data() + out);
  return WeightOnlyLinear::Build(scheme, block_size, in, out, q, std::move(scales),
                                 std::move(bias_values));
}

proto::TensorProto WeightOnlyLinear::WeightToProto(const std::string& name) const {
  proto::TensorProto t;
  t.set_name(name);
  t.add_shape(in_);
  t.add_shape(out_);
  const std::vector<int8_t> q = QuantizedValues();
  std::string data;
  proto::QuantParams* qp = t.mutable_quant();
  if (scheme_ == WeightScheme::kInt8PerChannel) {
    t.set_dtype(proto::INT8);
    data.assign(q.size(), '\0');
    for (size_t i = 0; i < q.size(); ++i) data[i] = static_cast<char>(static_cast<uint8_t>(q[i]));
    qp->set_scheme(proto::PER_CHANNEL);
    qp->set_axis(1);
  } else {
    t.set_dtype(proto::INT4);
    data.assign((q.size() + 1) / 2, '\0');  // an odd count leaves the last high nibble 0
    for (size_t i = 0; i < q.size(); ++i) {
      const uint8_t nibble = static_cast<uint8_t>(q[i]) & 15;
      data[i / 2] = static_cast<char>(static_cast<uint8_t>(data[i / 2]) |
                                      (i % 2 == 0 ? nibble : nibble << 4));
    }
    qp->set_scheme(proto::PER_BLOCK);
    qp->set_block_size(block_size_);
  }
  t.set_data(std::move(data));
  for (float s : scales_) qp->add_scale(s);
  return t;
}

// --- Accessors -------------------------------------------------------------------------

int WeightOnlyLinear::QuantizedAt(int64_t k, int64_t n) const {
  const int64_t n0 = n - n % kWoPanel, pw = WoPanelWidth(n0, out_), c = n - n0;
  if (scheme_ == WeightScheme::kInt8PerChannel) {
    return static_cast<int8_t>(packed_[n0 * in_ + k * pw + c]);
  }
  const uint8_t byte = packed_[n0 * in_ / 2 + k * pw / 2 + (c / kWoChunk) * 16 + c % 16];
  return ((c % kWoChunk) < 16 ? (byte & 15) : (byte >> 4)) - 8;
}

std::vector<int8_t> WeightOnlyLinear::QuantizedValues() const {
  std::vector<int8_t> q(static_cast<size_t>(in_ * out_));
  for (int64_t k = 0; k < in_; ++k) {
    for (int64_t n = 0; n < out_; ++n) q[k * out_ + n] = static_cast<int8_t>(QuantizedAt(k, n));
  }
  return q;
}

int64_t WeightOnlyLinear::quantized_weight_bytes() const {
  const int64_t n = in_ * out_;
  const int64_t data = scheme_ == WeightScheme::kInt8PerChannel ? n : (n + 1) / 2;
  return data + 4 * static_cast<int64_t>(scales_.size());
}

Tensor WeightOnlyLinear::DequantizedWeight() const {
  Tensor w = Tensor::Empty({in_, out_});
  DequantizeColumns(0, out_, w.data());
  return w;
}

Tensor WeightOnlyLinear::Bias() const {
  if (bias_.empty()) return Tensor();
  return Tensor::FromVector(bias_, {out_});
}

std::string WeightOnlyLinear::Describe() const {
  if (scheme_ == WeightScheme::kInt8PerChannel) return "int8 weights, per channel";
  return absl::StrCat("int4 weights, blocks of ", block_size_);
}

// --- Arithmetic ------------------------------------------------------------------------

void WeightOnlyLinear::DequantizeColumns(int64_t n0, int64_t cols, float* out) const {
  TT_CHECK(n0 % kWoPanel == 0 && cols >= 0 && n0 + cols <= out_,
           "WeightOnlyLinear: bad column range ", n0, " + ", cols);
  const int64_t end = n0 + cols;
  if (scheme_ == WeightScheme::kInt4Block && !gemv_ok_) {
    // Blocks that do not tile rows: walk each row's flat positions, moving to the next
    // block every block_size elements.
    for (int64_t k = 0; k < in_; ++k) {
      const int64_t pos = k * out_ + n0;
      int64_t block = pos / block_size_, rem = pos % block_size_;
      for (int64_t n = n0; n < end; ++n) {
        out[k * cols + (n - n0)] = scales_[block] * static_cast<float>(QuantizedAt(k, n));
        if (++rem == block_size_) {
          ++block;
          rem = 0;
        }
      }
    }
    return;
  }
  const accel::Isa isa = accel::ActiveIsa();
  for (int64_t p0 = n0; p0 < end; p0 += kWoPanel) {
    const int64_t pw = WoPanelWidth(p0, out_), pc = std::min(pw, end - p0);
    float* dst = out + (p0 - n0);
    if (scheme_ == WeightScheme::kInt8PerChannel) {
      auto* dequant = isa == accel::Isa::kAvx512    ? kernels::WoQ8DequantAvx512
                      : isa == accel::Isa::kAvx2Fma ? kernels::WoQ8DequantAvx2
                                                    : kernels::WoQ8DequantScalar;
      dequant(in_, pw, pc, reinterpret_cast<const int8_t*>(packed_.data()) + p0 * in_,
              padded_scales_.data() + p0, dst, cols);
    } else {
      // Row-aligned blocks: each 16-column vector has one scale per row. Padding
      // vectors (columns >= out) reuse the last block.
      int64_t block[kWoPanel / 16];
      for (int v = 0; v < kWoPanel / 16; ++v) {
        block[v] = std::min(p0 + 16 * v, out_ - 1) / block_size_;
      }
      auto* dequant = isa == accel::Isa::kAvx512    ? kernels::WoQ4DequantAvx512
                      : isa == accel::Isa::kAvx2Fma ? kernels::WoQ4DequantAvx2
                                                    : kernels::WoQ4DequantScalar;
      dequant(in_, pw, pc, out_ / block_size_, block, scales_.data(),
              packed_.data() + p0 * in_ / 2, dst, cols);
    }
  }
}

void WeightOnlyLinear::RunGemv(const float* x, int64_t m, float* y) const {
  const accel::Isa isa = accel::ActiveIsa();
  if (scheme_ == WeightScheme::kInt8PerChannel) {
    auto* gemv = isa == accel::Isa::kAvx512    ? kernels::WoQ8GemvAvx512
                 : isa == accel::Isa::kAvx2Fma ? kernels::WoQ8GemvAvx2
                                               : kernels::WoQ8GemvScalar;
    gemv(m, out_, in_, x, in_, reinterpret_cast<const int8_t*>(packed_.data()),
         padded_scales_.data(), y, out_);
    return;
  }
  // Fold the block scales into the activations, a group of up to 4 rows at a time
  // (rows innermost, see wo_kernels.h): K * nb multiplies per row instead of one per
  // weight, vectorized along the blocks (1 row) or the rows (4 rows).
  const int64_t nb = out_ / block_size_;
  std::vector<float>& xs = ThreadScratch(0);
  if (static_cast<int64_t>(xs.size()) < in_ * nb * 4) xs.resize(static_cast<size_t>(in_ * nb * 4));
  auto* gemv = isa == accel::Isa::kAvx512    ? kernels::WoQ4GemvAvx512
               : isa == accel::Isa::kAvx2Fma ? kernels::WoQ4GemvAvx2
                                             : kernels::WoQ4GemvScalar;
  for (int64_t r0 = 0; r0 < m; r0 += 4) {
    const int64_t g = std::min<int64_t>(4, m - r0);
    const float* xg = x + r0 * in_;
    switch (g) {
      case 1: FoldScales<1>(xg, in_, scales_.data(), nb, xs.data()); break;
      case 2: FoldScales<2>(xg, in_, scales_.data(), nb, xs.data()); break;
      case 3: FoldScales<3>(xg, in_, scales_.data(), nb, xs.data()); break;
      default: FoldScales<4>(xg, in_, scales_.data(), nb, xs.data()); break;
    }
    gemv(g, out_, in_, block_size_, xs.data(), packed_.data(), y + r0 * out_, out_);
  }
}

void WeightOnlyLinear::RunDequantGemm(const float* x, int64_t m, float* y, Activation act) const {
  const int64_t width = std::max(kWoPanel, kScratchFloats / in_ / kWoPanel * kWoPanel);
  std::vector<float>& scratch = ThreadScratch(1);
  const int64_t need = in_ * std::min(width, out_);
  if (static_cast<int64_t>(scratch.size()) < need) scratch.resize(static_cast<size_t>(need));
  for (int64_t n0 = 0; n0 < out_; n0 += width) {
    const int64_t cols = std::min(width, out_ - n0);
    DequantizeColumns(n0, cols, scratch.data());
    accel::GemmArgs g;
    g.m = m;
    g.n = cols;
    g.k = in_;
    g.a = x;
    g.lda = in_;
    g.b = scratch.data();
    g.ldb = cols;
    g.c = y + n0;
    g.ldc = out_;
    g.bias = bias_.empty() ? nullptr : bias_.data() + n0;
    g.act = act;
    accel::GemmFast(g);
  }
}

void WeightOnlyLinear::Run(const float* x, int64_t m, float* y, Activation act,
                           WeightOnlyPath path) const {
  TT_CHECK(m >= 0, "WeightOnlyLinear::Run: m = ", m);
  if (m == 0) return;
  const int64_t gemv_rows = scheme_ == WeightScheme::kInt8PerChannel
                                 ? kWeightOnlyGemvMaxRowsInt8
                                 : kWeightOnlyGemvMaxRowsInt4;
  const bool gemv =
      path == WeightOnlyPath::kGemv || (path == WeightOnlyPath::kAuto && m <= gemv_rows);
  if (gemv && gemv_ok_) {
    RunGemv(x, m, y);
    accel::VBiasAct(y, m, out_, out_, bias_.empty() ? nullptr : bias_.data(), act);
  } else {
    RunDequantGemm(x, m, y, act);
  }
}

Tensor WeightOnlyLinear::Forward(const Tensor& x, Activation act) {
  TT_CHECK(x.defined() && x.dim() >= 1 && x.shape().back() == in_, "WeightOnlyLinear(", in_,
           " -> ", out_, "): input shape ",
           x.defined() ? tensor::ShapeToString(x.shape()) : "undefined", " does not end in ", in_);
  tensor::Shape shape = x.shape();
  shape.back() = out_;
  Tensor y = Tensor::Empty(shape);
  const int64_t m = x.numel() / in_;
  tensor::OpScope scope(
      scheme_ == WeightScheme::kInt8PerChannel ? "wo_linear_int8" : "wo_linear_int4",
      {&x.shape()}, 2 * m * in_ * out_,
      quantized_weight_bytes() + 4 * (m * in_ + m * out_ + static_cast<int64_t>(bias_.size())));
  Run(x.data(), m, y.data(), act);
  return y;
}

}  // namespace tt::quant
