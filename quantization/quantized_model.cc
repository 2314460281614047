#include "quantization/quantized_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quantization/observers.h"
#include "quantization/quantize.h"
#include "tensor/autograd.h"
#include "tensor/check.h"
#include "tensor/instrument.h"
#include "tensor/model_file.h"
#include "tensor/model_io.h"

namespace tt::quant {
namespace {

using tensor::Tensor;

// --- Reading the float model ----------------------------------------------------------

// One step of the quantized network, as found in the float Sequential.
struct PlanItem {
  QuantizedLayer::Kind kind;
  std::string name;        // child name of the weight layer, e.g. "0"
  tensor::Layer* layer;    // the float layer
  bool relu = false;       // a ReLU follows and is fused
  size_t output_index;     // index of the float layer whose output this step produces
};

// Which layers make up `model`, with ReLUs folded into the layer before them. Flatten and
// Dropout (the identity at inference) leave no step.
absl::StatusOr<std::vector<PlanItem>> Plan(tensor::Sequential& model) {
  std::vector<PlanItem> plan;
  for (size_t i = 0; i < model.size(); ++i) {
    tensor::Layer* layer = &model[i];
    const std::string name = std::to_string(i);
    const bool weighted = dynamic_cast<tensor::Linear*>(layer) != nullptr ||
                          dynamic_cast<tensor::Conv2dLayer*>(layer) != nullptr;
    if (weighted) {
      PlanItem item{dynamic_cast<tensor::Linear*>(layer) != nullptr
                        ? QuantizedLayer::Kind::kLinear
                        : QuantizedLayer::Kind::kConv,
                    name, layer, false, i};
      if (i + 1 < model.size() && dynamic_cast<tensor::ReLU*>(&model[i + 1]) != nullptr) {
        item.relu = true;
        item.output_index = ++i;
      }
      plan.push_back(item);
    } else if (dynamic_cast<tensor::MaxPool2dLayer*>(layer) != nullptr) {
      plan.push_back({QuantizedLayer::Kind::kMaxPool, name, layer, false, i});
    } else if (dynamic_cast<tensor::FlattenLayer*>(layer) != nullptr ||
               dynamic_cast<tensor::DropoutLayer*>(layer) != nullptr) {
      continue;
    } else if (dynamic_cast<tensor::ReLU*>(layer) != nullptr) {
      return absl::UnimplementedError(absl::StrCat(
          "layer ", i, " (ReLU) does not follow a Linear or Conv2d; only fused ReLUs are "
          "supported"));
    } else {
      return absl::UnimplementedError(absl::StrCat("layer ", i, " (", layer->Describe(),
                                                   ") has no quantized version"));
    }
  }
  if (plan.empty() || plan.back().kind != QuantizedLayer::Kind::kLinear || plan.back().relu) {
    return absl::UnimplementedError(
        "the model must end in a Linear layer without activation (the logits)");
  }
  return plan;
}

// The observer key of a step's output activation.
std::string OutputKey(const std::string& name) { return name + ".output"; }

// int8 file semantics <-> the uint8 activations used inside (q_u8 = q_s8 + 128).
tensor::proto::QuantParams ActivationToProto(const QParams& p) {
  tensor::proto::QuantParams q;
  q.add_scale(p.scale);
  q.add_zero_point(p.zero_point - 128);
  return q;
}

absl::StatusOr<QParams> ActivationFromProto(const tensor::proto::ModelFile& file,
                                            const std::string& key) {
  auto it = file.activation_quant().find(key);
  if (it == file.activation_quant().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model file has no activation_quant entry '", key, "'"));
  }
  QParams p;
  p.scale = it->second.scale(0);
  p.zero_point = (it->second.zero_point_size() > 0 ? it->second.zero_point(0) : 0) + 128;
  return p;
}

// Quantizes a (rows, cols) float matrix whose channels run along `axis` into symmetric
// int8: one scale per channel, or one for the whole matrix.
absl::Status QuantizeWeights(const float* w, int64_t rows, int64_t cols, int axis,
                             bool per_channel, QuantizedLayer* layer) {
  layer->weight.resize(rows * cols);
  if (per_channel) {
    TT_ASSIGN_OR_RETURN(ChannelQParams p, ChoosePerChannelSymmetric(w, rows, cols, axis));
    QuantizePerChannel(w, rows, cols, p, layer->weight.data());
    layer->weight_scale = p.scale;
    return absl::OkStatus();
  }
  TT_RETURN_IF_ERROR(CheckFinite(w, rows * cols, layer->name + ".weight"));
  float absmax = 0.0f;
  for (int64_t i = 0; i < rows * cols; ++i) absmax = std::max(absmax, std::abs(w[i]));
  TT_ASSIGN_OR_RETURN(QParams p, ChooseSymmetricQParams(absmax, QType::kInt8));
  QuantizeInt8(w, rows * cols, p, layer->weight.data());
  layer->weight_scale = {p.scale};
  return absl::OkStatus();
}

// Copies a step's structure (kind, sizes, conv geometry, bias) from its float layer.
void DescribeFromFloat(const PlanItem& item, QuantizedLayer* q) {
  q->kind = item.kind;
  q->name = item.name;
  q->relu = item.relu;
  if (auto* linear = dynamic_cast<tensor::Linear*>(item.layer)) {
    q->in_features = linear->in_features();
    q->out_features = linear->out_features();
    q->weight_shape = {q->in_features, q->out_features};
    const Tensor& b = linear->bias();
    q->bias = b.defined() ? std::vector<float>(b.data(), b.data() + b.numel())
                          : std::vector<float>(q->out_features, 0.0f);
  } else if (auto* conv = dynamic_cast<tensor::Conv2dLayer*>(item.layer)) {
    q->conv.in_channels = conv->in_channels();
    q->conv.out_channels = conv->out_channels();
    q->conv.kernel = conv->kernel_size();
    q->conv.stride = conv->options().stride;
    q->conv.padding = conv->options().padding;
    q->in_features = q->conv.patch();
    q->out_features = q->conv.out_channels;
    q->weight_shape = {conv->out_channels(), conv->in_channels(), conv->kernel_size(),
                       conv->kernel_size()};
    const Tensor& b = conv->bias();
    q->bias = std::vector<float>(b.data(), b.data() + b.numel());
  } else if (auto* pool = dynamic_cast<tensor::MaxPool2dLayer*>(item.layer)) {
    q->pool_kernel = pool->kernel();
    q->pool_stride = pool->stride();
  }
}

// The requantizing epilogue of a layer with a uint8 output: its int32 bias, one
// multiplier per output channel, and a clamp at the output zero point when a ReLU is
// fused (real 0 = zero point), else at 0.
Int8Epilogue EpilogueOf(const QuantizedLayer& q) {
  Int8Epilogue ep;
  ep.bias = q.bias_q.data();
  ep.multipliers = q.multipliers.data();
  ep.per_channel = true;
  ep.output_zero_point = q.output.zero_point;
  ep.output_min = q.relu ? q.output.zero_point : 0;
  ep.output_max = 255;
  return ep;
}

int64_t ArgMax(const float* row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

}  // namespace

// --- Building ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<QuantizedClassifier>> QuantizedClassifier::Build(
    tensor::proto::Architecture architecture, std::vector<QuantizedLayer> layers) {
  std::unique_ptr<QuantizedClassifier> model(new QuantizedClassifier());
  // The activation shape flowing through the network: (h, w, c) in NHWC, or features.
  int64_t h = 1, w = 1, c = 0;
  if (architecture.has_mlp()) {
    if (architecture.mlp().layer_sizes_size() < 2) {
      return absl::InvalidArgumentError("MLP architecture has fewer than 2 layer sizes");
    }
    c = architecture.mlp().layer_sizes(0);
    model->in_features_ = c;
  } else if (architecture.has_cnn()) {
    const auto& cnn = architecture.cnn();
    h = cnn.height();
    w = cnn.width();
    c = cnn.in_channels();
    model->nhwc_input_ = true;
    model->in_features_ = h * w * c;
  } else {
    return absl::InvalidArgumentError("only MLP and CNN classifiers can be statically quantized");
  }
  if (h <= 0 || w <= 0 || c <= 0) return absl::InvalidArgumentError("bad input shape");
  model->in_c_ = c;
  model->in_h_ = h;
  model->in_w_ = w;
  for (size_t i = 0; i < layers.size(); ++i) {
    QuantizedLayer& q = layers[i];
    const std::string where = absl::StrCat("layer ", q.name, ": ");
    if (q.kind == QuantizedLayer::Kind::kMaxPool) {
      if (q.pool_kernel <= 0 || q.pool_stride <= 0 || q.pool_kernel > h || q.pool_kernel > w) {
        return absl::InvalidArgumentError(absl::StrCat(where, "bad max-pool"));
      }
      h = (h - q.pool_kernel) / q.pool_stride + 1;
      w = (w - q.pool_kernel) / q.pool_stride + 1;
      q.input = q.output = i > 0 ? layers[i - 1].output : QParams{};
      continue;
    }
    const int64_t k = q.in_features, n = q.out_features;
    if (q.kind == QuantizedLayer::Kind::kConv) {
      if (q.conv.in_channels != c) {
        return absl::InvalidArgumentError(absl::StrCat(where, "expects ", q.conv.in_channels,
                                                       " channels, gets ", c));
      }
      q.conv.height = h;
      q.conv.width = w;
      if (q.conv.out_height() <= 0 || q.conv.out_width() <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, "output would be empty"));
      }
    } else if (k != h * w * c) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expects ", k, " inputs, gets ", h * w * c));
    }
    if (static_cast<int64_t>(q.weight.size()) != k * n ||
        static_cast<int64_t>(q.bias.size()) != n ||
        !(q.weight_scale.size() == 1 || static_cast<int64_t>(q.weight_scale.size()) == n)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "inconsistent weight sizes"));
    }
    // The GEMM's (K, N) weight matrix in the NHWC order of the activations.
    std::vector<int8_t> b;
    if (q.kind == QuantizedLayer::Kind::kConv) {
      b = ConvWeightsToGemm(q.weight.data(), n, q.conv.in_channels, q.conv.kernel);
    } else if (c > 1 && h * w > 1) {
      // A Linear after conv blocks: the float model flattened NCHW (row c*H*W + y*W + x);
      // our activations are NHWC (row (y*W + x)*C + c). Permute the weight rows once.
      b.resize(k * n);
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t p = 0; p < h * w; ++p) {
          std::memcpy(&b[(p * c + ch) * n], &q.weight[(ch * h * w + p) * n], n);
        }
      }
    } else {
      b = q.weight;
    }
    q.packed = std::make_shared<PackedInt8Matrix>(PackedInt8Matrix::Pack(b.data(), k, n, n));
    q.bias_q.assign(n, 0);
    q.multipliers.assign(n, FixedPointMultiplier{});
    q.dequant_scale.assign(n, 0.0f);
    q.last = i + 1 == layers.size();
    for (int64_t j = 0; j < n; ++j) {
      const double ws = q.weight_scale[q.weight_scale.size() == 1 ? 0 : j];
      const double acc_scale = static_cast<double>(q.input.scale) * ws;
      const double bq = std::nearbyint(q.bias[j] / acc_scale);
      if (!std::isfinite(bq) || std::abs(bq) > 1e9) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "bias[", j, "] = ", q.bias[j], " does not fit int32 at scale ", acc_scale));
      }
      q.bias_q[j] = static_cast<int32_t>(bq);
      q.dequant_scale[j] = static_cast<float>(acc_scale);
      if (!q.last) {
        absl::StatusOr<FixedPointMultiplier> m = QuantizeMultiplier(acc_scale / q.output.scale);
        if (!m.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, "channel ", j, ": ", m.status().message()));
        }
        q.multipliers[j] = *m;
      }
    }
    if (q.kind == QuantizedLayer::Kind::kConv) {
      h = q.conv.out_height();
      w = q.conv.out_width();
      c = n;
    } else {
      h = w = 1;
      c = n;
    }
    if (i + 1 < layers.size() && layers[i + 1].kind != QuantizedLayer::Kind::kMaxPool &&
        layers[i + 1].input.scale != q.output.scale) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "its output parameters differ from the next layer's input parameters"));
    }
  }
  if (layers.empty() || layers.back().kind != QuantizedLayer::Kind::kLinear) {
    return absl::InvalidArgumentError("a quantized classifier must end in a Linear layer");
  }
  model->classes_ = layers.back().out_features;
  model->architecture_ = std::move(architecture);
  model->layers_ = std::move(layers);
  return model;
}

int64_t QuantizedClassifier::ParameterBytes() const {
  int64_t bytes = 0;
  for (const QuantizedLayer& q : layers_) {
    bytes += q.weight.size() + 4 * (q.bias.size() + q.weight_scale.size());
  }
  return bytes;
}

std::string QuantizedClassifier::Summary() const {
  std::string out;
  for (const QuantizedLayer& q : layers_) {
    switch (q.kind) {
      case QuantizedLayer::Kind::kMaxPool:
        absl::StrAppendFormat(&out, "  %-3s MaxPool %lldx%lld (uint8, exact)\n", q.name,
                              q.pool_kernel, q.pool_kernel);
        break;
      default: {
        const auto [lo, hi] = std::minmax_element(q.weight_scale.begin(), q.weight_scale.end());
        absl::StrAppendFormat(
            &out, "  %-3s %s %lld -> %lld%s  in scale %.4g zp %d  weight scales %.3g..%.3g",
            q.name, q.kind == QuantizedLayer::Kind::kConv ? "Conv2d" : "Linear", q.in_features,
            q.out_features, q.relu ? " +ReLU" : "", q.input.scale, q.input.zero_point, *lo, *hi);
        if (q.last) {
          absl::StrAppend(&out, "  -> float logits\n");
        } else {
          absl::StrAppendFormat(&out, "  out scale %.4g zp %d\n", q.output.scale,
                                q.output.zero_point);
        }
      }
    }
  }
  return out;
}

// --- Inference -----------------------------------------------------------------------

Tensor QuantizedClassifier::Forward(const Tensor& x) {
  TT_CHECK(x.dim() >= 2 && x.numel() == x.shape()[0] * in_features_,
           "QuantizedClassifier: input shape ", tensor::ShapeToString(x.shape()),
           " does not hold rows of ", in_features_, " values");
  const int64_t batch = x.shape()[0];
  Tensor logits = Tensor::Empty({batch, classes_});
  if (batch == 0) return logits;
  // Scratch sizes: the largest activation (or im2col matrix) per example, times batch.
  int64_t per_example = in_features_;
  for (const QuantizedLayer& q : layers_) {
    if (q.kind == QuantizedLayer::Kind::kConv) {
      const int64_t pixels = q.conv.out_height() * q.conv.out_width();
      per_example = std::max({per_example, pixels * q.conv.patch(), pixels * q.out_features});
    } else {
      per_example = std::max(per_example, q.out_features);
    }
  }
  if (static_cast<int64_t>(act_a_.size()) < batch * per_example) {
    act_a_.resize(batch * per_example);
    act_b_.resize(batch * per_example);
    cols_.resize(batch * per_example);
  }

  // Quantize the input (NCHW -> NHWC for a multi-channel CNN input).
  const QParams in = layers_.front().input;
  const float* xf = x.data();
  if (nhwc_input_ && in_c_ > 1) {
    std::vector<float> nhwc(batch * in_features_);
    const int64_t hw = in_h_ * in_w_;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t ch = 0; ch < in_c_; ++ch) {
        for (int64_t p = 0; p < hw; ++p) {
          nhwc[(b * hw + p) * in_c_ + ch] = xf[(b * in_c_ + ch) * hw + p];
        }
      }
    }
    tensor::OpScope op("int8.quantize_input", {&x.shape()}, 0, 5 * batch * in_features_);
    QuantizeUint8(nhwc.data(), batch * in_features_, in, act_a_.data());
  } else {
    tensor::OpScope op("int8.quantize_input", {&x.shape()}, 0, 5 * batch * in_features_);
    QuantizeUint8(xf, batch * in_features_, in, act_a_.data());
  }

  uint8_t* cur = act_a_.data();
  uint8_t* next = act_b_.data();
  int64_t h = in_h_, w = in_w_, c = in_c_;
  for (const QuantizedLayer& q : layers_) {
    switch (q.kind) {
      case QuantizedLayer::Kind::kMaxPool: {
        tensor::OpScope op("int8.max_pool2d", {}, 0, batch * h * w * c);
        MaxPool2dNhwc(cur, batch, h, w, c, q.pool_kernel, q.pool_stride, next);
        h = (h - q.pool_kernel) / q.pool_stride + 1;
        w = (w - q.pool_kernel) / q.pool_stride + 1;
        break;
      }
      case QuantizedLayer::Kind::kConv: {
        ConvShape s = q.conv;
        s.batch = batch;
        {
          tensor::OpScope op("int8.im2col", {}, 0, s.pixels() * s.patch());
          Im2ColNhwc(s, cur, static_cast<uint8_t>(q.input.zero_point), cols_.data());
        }
        // "flops" of integer ops: 2 per multiply-add, as for float.
        tensor::OpScope op("int8.conv_gemm", {}, 2 * s.pixels() * s.patch() * q.out_features,
                           s.pixels() * (s.patch() + q.out_features));
        const Int8Epilogue ep = EpilogueOf(q);
        Int8Gemm(*q.packed, s.pixels(), cols_.data(), s.patch(), q.input.zero_point, ep, next,
                 q.out_features);
        h = s.out_height();
        w = s.out_width();
        c = q.out_features;
        break;
      }
      case QuantizedLayer::Kind::kLinear: {
        tensor::OpScope op("int8.linear", {}, 2 * batch * q.in_features * q.out_features,
                           q.in_features * q.out_features + batch * (q.in_features + q.out_features));
        if (q.last) {
          acc_.resize(batch * q.out_features);
          Int8GemmS32(*q.packed, batch, cur, q.in_features, q.input.zero_point,
                      q.bias_q.data(), acc_.data(), q.out_features);
          float* out = logits.data();
          for (int64_t b = 0; b < batch; ++b) {
            for (int64_t j = 0; j < q.out_features; ++j) {
              out[b * q.out_features + j] =
                  static_cast<float>(acc_[b * q.out_features + j]) * q.dequant_scale[j];
            }
          }
          return logits;
        }
        const Int8Epilogue ep = EpilogueOf(q);
        Int8Gemm(*q.packed, batch, cur, q.in_features, q.input.zero_point, ep, next,
                 q.out_features);
        h = w = 1;
        c = q.out_features;
        break;
      }
    }
    std::swap(cur, next);
  }
  TT_CHECK(false, "QuantizedClassifier: no final Linear layer");
  return logits;
}

// --- Quantizing a float model --------------------------------------------------------

absl::StatusOr<std::unique_ptr<QuantizedClassifier>> QuantizeClassifier(
    tensor::Sequential& model, const tensor::proto::Architecture& architecture,
    tensor::DataLoader& calibration, const QuantizeOptions& options) {
  TT_ASSIGN_OR_RETURN(std::vector<PlanItem> plan, Plan(model));

  // Calibration: run the float model layer by layer and observe the input and the
  // output of every step that requantizes (all but max-pool and the logits).
  std::map<std::string, std::unique_ptr<Observer>> observers;
  std::map<size_t, std::string> observe_after;  // float layer index -> key
  TT_ASSIGN_OR_RETURN(observers["input"], MakeObserver(options.observer));
  for (size_t i = 0; i + 1 < plan.size(); ++i) {
    if (plan[i].kind == QuantizedLayer::Kind::kMaxPool) continue;
    const std::string key = OutputKey(plan[i].name);
    TT_ASSIGN_OR_RETURN(observers[key], MakeObserver(options.observer));
    observe_after[plan[i].output_index] = key;
  }
  const bool was_training = model.training();
  model.Eval();
  tensor::NoGradGuard no_grad;
  calibration.StartEpoch(0);
  tensor::DataLoader::Batch batch;
  int64_t batches = 0;
  absl::Status status;
  while ((options.calibration_batches < 0 || batches < options.calibration_batches) &&
         calibration.Next(&batch)) {
    ++batches;
    Tensor h = batch.images;
    status = observers["input"]->Observe(h);
    for (size_t i = 0; status.ok() && i < model.size(); ++i) {
      h = model[i].Forward(h);
      auto it = observe_after.find(i);
      if (it != observe_after.end()) status = observers[it->second]->Observe(h);
    }
    if (!status.ok()) break;
  }
  if (was_training) model.Train();
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("calibration: ", status.message()));
  if (batches == 0) return absl::InvalidArgumentError("calibration: the loader gave no batches");

  std::vector<QuantizedLayer> layers;
  QParams current;
  TT_ASSIGN_OR_RETURN(current, observers["input"]->Compute(QType::kUint8));
  for (size_t i = 0; i < plan.size(); ++i) {
    QuantizedLayer q;
    DescribeFromFloat(plan[i], &q);
    q.input = current;
    if (q.kind != QuantizedLayer::Kind::kMaxPool) {
      if (auto* linear = dynamic_cast<tensor::Linear*>(plan[i].layer)) {
        TT_RETURN_IF_ERROR(QuantizeWeights(linear->weight().data(), q.in_features,
                                           q.out_features, /*axis=*/1, options.per_channel, &q));
      } else {
        auto* conv = dynamic_cast<tensor::Conv2dLayer*>(plan[i].layer);
        TT_RETURN_IF_ERROR(QuantizeWeights(conv->weight().data(), q.out_features,
                                           q.in_features, /*axis=*/0, options.per_channel, &q));
      }
      if (i + 1 < plan.size()) {
        TT_ASSIGN_OR_RETURN(current, observers[OutputKey(q.name)]->Compute(QType::kUint8));
      }
    }
    q.output = current;
    layers.push_back(std::move(q));
  }
  return QuantizedClassifier::Build(architecture, std::move(layers));
}

// --- Model files ---------------------------------------------------------------------

absl::Status SaveQuantizedClassifier(const std::string& path, const QuantizedClassifier& model,
                                     const tensor::proto::Metadata& metadata) {
  tensor::proto::ModelFile file;
  file.set_format(tensor::kModelFormatName);
  file.set_version(tensor::kModelFormatVersion);
  *file.mutable_architecture() = model.architecture();
  *file.mutable_metadata() = metadata;
  (*file.mutable_metadata()->mutable_notes())["quantization"] =
      "static int8: symmetric int8 weights (per channel unless one scale), uint8 activations "
      "stored with int8 zero points (uint8 = int8 + 128), int32 accumulation";
  const auto& layers = model.layers();
  (*file.mutable_activation_quant())["input"] = ActivationToProto(layers.front().input);
  for (const QuantizedLayer& q : layers) {
    if (q.kind == QuantizedLayer::Kind::kMaxPool) continue;
    tensor::proto::TensorProto* w = file.add_tensors();
    w->set_name(q.name + ".weight");
    w->set_dtype(tensor::proto::INT8);
    for (int64_t d : q.weight_shape) w->add_shape(d);
    w->set_data(reinterpret_cast<const char*>(q.weight.data()), q.weight.size());
    tensor::proto::QuantParams* qp = w->mutable_quant();
    for (float s : q.weight_scale) qp->add_scale(s);
    if (q.weight_scale.size() > 1) {
      qp->set_scheme(tensor::proto::PER_CHANNEL);
      qp->set_axis(q.kind == QuantizedLayer::Kind::kLinear ? 1 : 0);
    }
    *file.add_tensors() = tensor::TensorToProto(
        q.name + ".bias",
        Tensor::FromVector(q.bias, {static_cast<int64_t>(q.bias.size())}));
    if (!q.last) (*file.mutable_activation_quant())[OutputKey(q.name)] = ActivationToProto(q.output);
  }
  return tensor::SaveModel(path, file);
}

absl::StatusOr<LoadedQuantizedClassifier> LoadQuantizedClassifier(const std::string& path) {
  auto error = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  };
  TT_ASSIGN_OR_RETURN(tensor::proto::ModelFile file, tensor::LoadModel(path));
  if (file.activation_quant().empty()) {
    return error(absl::InvalidArgumentError(
        "not INT8: the file has no activation quantization parameters, so it is not a "
        "statically quantized model (a float model loads with tensor::LoadClassifier)"));
  }
  // The float model of the same architecture tells the layer structure and shapes.
  absl::StatusOr<std::unique_ptr<tensor::Sequential>> structure =
      tensor::BuildClassifier(file.architecture(), 0);
  if (!structure.ok()) return error(structure.status());
  absl::StatusOr<std::vector<PlanItem>> plan = Plan(**structure);
  if (!plan.ok()) return error(plan.status());
  std::map<std::string, const tensor::proto::TensorProto*> by_name;
  for (const auto& t : file.tensors()) by_name[t.name()] = &t;
  auto find = [&](const std::string& name) -> absl::StatusOr<const tensor::proto::TensorProto*> {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("model file has no tensor '", name, "'"));
    }
    return it->second;
  };

  std::vector<QuantizedLayer> layers;
  absl::StatusOr<QParams> current = ActivationFromProto(file, "input");
  if (!current.ok()) return error(current.status());
  size_t used_tensors = 0;
  for (size_t i = 0; i < plan->size(); ++i) {
    QuantizedLayer q;
    DescribeFromFloat((*plan)[i], &q);
    q.input = *current;
    if (q.kind != QuantizedLayer::Kind::kMaxPool) {
      const std::string wname = q.name + ".weight";
      absl::StatusOr<const tensor::proto::TensorProto*> w = find(wname);
      if (!w.ok()) return error(w.status());
      const tensor::proto::TensorProto& wt = **w;
      std::vector<int64_t> shape(wt.shape().begin(), wt.shape().end());
      const int expected_axis = q.kind == QuantizedLayer::Kind::kLinear ? 1 : 0;
      const bool per_channel = wt.quant().scheme() == tensor::proto::PER_CHANNEL;
      if (wt.dtype() != tensor::proto::INT8) {
        return error(absl::InvalidArgumentError(
            absl::StrCat("tensor '", wname, "' is not INT8 (not a statically quantized model?)")));
      }
      if (shape != q.weight_shape) {
        return error(absl::InvalidArgumentError(absl::StrCat(
            "tensor '", wname, "' has shape ", tensor::ShapeToString(shape),
            ", the architecture expects ", tensor::ShapeToString(q.weight_shape))));
      }
      if ((per_channel && wt.quant().axis() != expected_axis) ||
          !(per_channel || wt.quant().scheme() == tensor::proto::PER_TENSOR)) {
        return error(absl::InvalidArgumentError(absl::StrCat(
            "tensor '", wname, "': weights must be PER_TENSOR or PER_CHANNEL over axis ",
            expected_axis)));
      }
      for (int z = 0; z < wt.quant().zero_point_size(); ++z) {
        if (wt.quant().zero_point(z) != 0) {
          return error(absl::InvalidArgumentError(
              absl::StrCat("tensor '", wname, "': weights must be symmetric (zero point 0)")));
        }
      }
      q.weight.resize(wt.data().size());
      std::memcpy(q.weight.data(), wt.data().data(), wt.data().size());
      q.weight_scale.assign(wt.quant().scale().begin(), wt.quant().scale().end());
      absl::StatusOr<const tensor::proto::TensorProto*> b = find(q.name + ".bias");
      if (!b.ok()) return error(b.status());
      absl::StatusOr<Tensor> bias = tensor::TensorFromProto(**b);
      if (!bias.ok()) return error(bias.status());
      if (bias->numel() != q.out_features || bias->dim() != 1) {
        return error(absl::InvalidArgumentError(absl::StrCat(
            "tensor '", q.name, ".bias' has shape ", tensor::ShapeToString(bias->shape()),
            ", expected (", q.out_features, ")")));
      }
      q.bias.assign(bias->data(), bias->data() + bias->numel());
      used_tensors += 2;
      if (i + 1 < plan->size()) {
        current = ActivationFromProto(file, OutputKey(q.name));
        if (!current.ok()) return error(current.status());
      }
    }
    q.output = *current;
    layers.push_back(std::move(q));
  }
  if (used_tensors != static_cast<size_t>(file.tensors_size())) {
    return error(absl::InvalidArgumentError(absl::StrCat(
        "model file has ", file.tensors_size(), " tensors, the architecture uses ", used_tensors)));
  }
  absl::StatusOr<std::unique_ptr<QuantizedClassifier>> built =
      QuantizedClassifier::Build(file.architecture(), std::move(layers));
  if (!built.ok()) return error(built.status());
  return LoadedQuantizedClassifier{std::move(*built), file.metadata()};
}

double QuantizedAccuracy(QuantizedClassifier& model, tensor::DataLoader& loader) {
  loader.StartEpoch(0);
  tensor::DataLoader::Batch batch;
  int64_t correct = 0, total = 0;
  while (loader.Next(&batch)) {
    Tensor logits = model.Forward(batch.images);
    const int64_t classes = logits.shape()[1];
    for (size_t i = 0; i < batch.labels.size(); ++i) {
      correct += ArgMax(logits.data() + i * classes, classes) == batch.labels[i];
    }
    total += static_cast<int64_t>(batch.labels.size());
  }
  return total == 0 ? 0.0 : static_cast<double>(correct) / total;
}

}  // namespace tt::quant
