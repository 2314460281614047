#include "quantization/gpt_quantize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/autograd.h"
#include "tensor/check.h"
#include "tensor/model_file.h"
#include "tensor/ops.h"
#include "tensor/optim.h"

namespace tt::quant {
namespace {

using tensor::Gpt;
using tensor::Linear;
using tensor::Tensor;
namespace proto = tensor::proto;

// Every Linear of the model with its path ("block0.attn.qkv", ..., "lm_head").
std::vector<std::pair<std::string, Linear*>> Linears(Gpt& gpt) {
  std::vector<std::pair<std::string, Linear*>> out;
  gpt.VisitModules([&](const std::string& path, tensor::Module& m) {
    if (auto* linear = dynamic_cast<Linear*>(&m)) out.emplace_back(path, linear);
  });
  return out;
}

void MakeInferenceOnly(Gpt& gpt) {
  for (Tensor& p : gpt.Parameters()) p.set_requires_grad(false);
}

// Sizes come from a file: check them before they reach a constructor's TT_CHECK.
absl::Status CheckSize(int64_t v, const char* what) {
  if (v <= 0 || v > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("architecture: ", what, " is ", v, ", expected 1..", int64_t{1} << 24));
  }
  return absl::OkStatus();
}

absl::Status WithPath(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

}  // namespace

absl::StatusOr<WeightOnlyReport> QuantizeGptWeights(Gpt& gpt, const WeightOnlyOptions& options) {
  TT_RETURN_IF_ERROR(options.Validate());
  const auto layers = Linears(gpt);
  std::vector<std::shared_ptr<WeightOnlyLinear>> kernels;
  WeightOnlyReport report;
  for (const auto& [path, linear] : layers) {
    auto kernel = MakeWeightOnlyLinear(linear->weight(), linear->bias(), options);
    if (!kernel.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer '", path, "': ", kernel.status().message()));
    }
    report.linear_layers += 1;
    report.float_weight_bytes += 4 * linear->in_features() * linear->out_features();
    report.quantized_weight_bytes += (*kernel)->quantized_weight_bytes();
    kernels.push_back(*std::move(kernel));
  }
  for (size_t i = 0; i < layers.size(); ++i) layers[i].second->SetKernel(kernels[i]);
  MakeInferenceOnly(gpt);
  return report;
}

absl::Status SaveQuantizedGpt(const std::string& path, const Gpt& gpt,
                              const proto::Metadata& meta) {
  // VisitModules is not const; the visitor only reads.
  std::map<std::string, const WeightOnlyLinear*> weights, biases;
  for (const auto& [layer, linear] : Linears(const_cast<Gpt&>(gpt))) {
    const auto* kernel = dynamic_cast<const WeightOnlyLinear*>(linear->kernel());
    if (kernel == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": Linear '", layer, "' has no weight-only kernel (",
          linear->Describe(), "); call QuantizeGptWeights first"));
    }
    weights[layer + ".weight"] = kernel;
    biases[layer + ".bias"] = kernel;
  }
  proto::ModelFile file =
      tensor::MakeModelFile(tensor::ToArchitecture(gpt.config()), gpt.NamedParameters(), meta);
  for (proto::TensorProto& t : *file.mutable_tensors()) {
    if (auto w = weights.find(t.name()); w != weights.end()) {
      t = w->second->WeightToProto(t.name());
    } else if (auto b = biases.find(t.name()); b != biases.end() && b->second->Bias().defined()) {
      t = tensor::TensorToProto(t.name(), b->second->Bias());
    }
  }
  return tensor::SaveModel(path, file);
}

absl::StatusOr<tensor::LoadedGpt> LoadQuantizedGpt(const std::string& path) {
  TT_ASSIGN_OR_RETURN(proto::ModelFile file, tensor::LoadModel(path));
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (!file.architecture().has_gpt()) return error("not a GPT model file");
  const proto::GptSpec& s = file.architecture().gpt();
  for (auto [v, what] : {std::pair{s.vocab_size(), "vocab_size"}, {s.d_model(), "d_model"},
                         {s.num_heads(), "num_heads"}, {s.num_layers(), "num_layers"},
                         {s.context_length(), "context_length"}}) {
    absl::Status st = CheckSize(v, what);
    if (!st.ok()) return WithPath(path, st);
  }
  if (s.d_model() % s.num_heads() != 0) {
    return error(absl::StrCat("d_model ", s.d_model(), " is not a multiple of num_heads ",
                              s.num_heads()));
  }
  tensor::GptConfig config{s.vocab_size(), s.d_model(), s.num_heads(), s.num_layers(),
                           s.context_length()};
  tensor::LoadedGpt out;
  out.model = std::make_unique<Gpt>(config, /*seed=*/0);
  const auto layers = Linears(*out.model);
  std::map<std::string, Linear*> by_weight;
  for (const auto& [layer, linear] : layers) by_weight[layer + ".weight"] = linear;

  // The F32 tensors load through tensor's own checks (missing, unexpected, shapes).
  proto::ModelFile floats;
  floats.set_format(file.format());
  floats.set_version(file.version());
  std::map<std::string, const proto::TensorProto*> quantized;
  for (proto::TensorProto& t : *file.mutable_tensors()) {
    const bool linear_weight = by_weight.count(t.name()) > 0;
    const bool integer = t.dtype() == proto::INT8 || t.dtype() == proto::INT4;
    if (linear_weight && !integer) {
      return error(absl::StrCat("tensor '", t.name(), "': dtype ", proto::DType_Name(t.dtype()),
                                ", expected INT8 or INT4 (a Linear weight of a quantized GPT; "
                                "load float models with tensor::LoadGpt)"));
    }
    if (!linear_weight && integer) {
      return error(absl::StrCat("tensor '", t.name(), "': dtype ", proto::DType_Name(t.dtype()),
                                ", expected F32 (only Linear weights are quantized)"));
    }
    if (linear_weight) {
      quantized[t.name()] = &t;
    } else {
      *floats.add_tensors() = std::move(t);
    }
  }
  tensor::NamedTensors float_params;
  for (auto& [name, p] : out.model->NamedParameters()) {
    if (by_weight.count(name) == 0) float_params.emplace_back(name, p);
  }
  absl::Status loaded = tensor::LoadParameters(floats, float_params);
  if (!loaded.ok()) return WithPath(path, loaded);

  std::vector<std::shared_ptr<WeightOnlyLinear>> kernels;
  for (const auto& [layer, linear] : layers) {
    const std::string name = layer + ".weight";
    auto it = quantized.find(name);
    if (it == quantized.end()) return error(absl::StrCat("model file has no tensor '", name, "'"));
    const proto::TensorProto& t = *it->second;
    if (t.shape_size() != 2 || t.shape(0) != linear->in_features() ||
        t.shape(1) != linear->out_features()) {
      tensor::Shape shape(t.shape().begin(), t.shape().end());
      return error(absl::StrCat("tensor '", name, "': file has shape ",
                                tensor::ShapeToString(shape), ", model expects (",
                                linear->in_features(), ", ", linear->out_features(), ")"));
    }
    auto kernel = WeightOnlyLinearFromProto(t, linear->bias());
    if (!kernel.ok()) return WithPath(path, kernel.status());
    kernels.push_back(*std::move(kernel));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i].second->weight().CopyFrom(kernels[i]->DequantizedWeight());
    layers[i].second->SetKernel(kernels[i]);
  }
  MakeInferenceOnly(*out.model);
  out.metadata = file.metadata();
  return out;
}

absl::StatusOr<double> GptValidationLoss(Gpt& gpt, const std::vector<int32_t>& ids,
                                         int64_t max_windows,
                                         const ValidationLossOptions& options) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t vocab = gpt.config().vocab_size, batch_size = options.batch_size;
  const int64_t t_max = options.window == 0 ? gpt.config().context_length : options.window;
  if (t_max < 1 || t_max > gpt.config().context_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("GptValidationLoss: window ", options.window, " is outside 1..",
                     gpt.config().context_length, " (0: the context length)"));
  }
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("GptValidationLoss: need at least 2 token ids, got ", n));
  }
  if (max_windows < 1 || batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("GptValidationLoss: max_windows (",
                                                   max_windows, ") and batch_size (",
                                                   batch_size, ") must be >= 1"));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("GptValidationLoss: id ", ids[i],
                                                     " at position ", i,
                                                     " is outside the vocabulary [0, ", vocab,
                                                     ")"));
    }
  }
  // Windows (start, length): inputs ids[start, start + length), targets one further.
  std::vector<std::pair<int64_t, int64_t>> windows;
  const int64_t targets = n - 1, all = (targets + t_max - 1) / t_max;
  if (all <= max_windows) {
    for (int64_t start = 0; start < targets; start += t_max) {
      windows.emplace_back(start, std::min(t_max, targets - start));
    }
  } else {
    // targets > max_windows * t_max here, so full windows fit anywhere in [0, targets - t_max].
    for (int64_t i = 0; i < max_windows; ++i) {
      const int64_t start = max_windows == 1 ? 0 : i * (targets - t_max) / (max_windows - 1);
      windows.emplace_back(start, t_max);
    }
  }
  const bool was_training = gpt.training();
  gpt.Eval();
  tensor::NoGradGuard no_grad;
  double sum = 0.0;
  int64_t count = 0;
  std::vector<int32_t> inputs, labels;
  for (size_t w0 = 0; w0 < windows.size();) {
    // A batch of consecutive windows of one length (only the last window can be shorter).
    const int64_t length = windows[w0].second;
    size_t w1 = w0;
    while (w1 < windows.size() && static_cast<int64_t>(w1 - w0) < batch_size &&
           windows[w1].second == length) {
      ++w1;
    }
    const int64_t batch = static_cast<int64_t>(w1 - w0);
    inputs.clear();
    labels.clear();
    for (size_t w = w0; w < w1; ++w) {
      const int64_t start = windows[w].first;
      inputs.insert(inputs.end(), ids.begin() + start, ids.begin() + start + length);
      labels.insert(labels.end(), ids.begin() + start + 1, ids.begin() + start + length + 1);
    }
    tensor::GptOutput out = gpt.Forward(inputs, batch, length);
    const float loss =
        tensor::CrossEntropy(tensor::Reshape(out.logits, {batch * length, vocab}), labels).item();
    sum += static_cast<double>(loss) * static_cast<double>(batch * length);
    count += batch * length;
    w0 = w1;
  }
  if (was_training) gpt.Train();
  return sum / static_cast<double>(count);
}

absl::StatusOr<GptTrainResult> TrainGpt(const tensor::GptConfig& config,
                                        const tensor::CharDataset& train,
                                        const GptTrainOptions& options) {
  if (train.vocab_size() > config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("TrainGpt: the text has ", train.vocab_size(),
                                                   " distinct characters, the model's vocabulary ",
                                                   config.vocab_size));
  }
  if (options.batch_size < 1 || options.sequence_length < 1 ||
      options.sequence_length > config.context_length ||
      options.sequence_length + 1 > train.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TrainGpt: batch_size ", options.batch_size, " and sequence_length ",
        options.sequence_length, " must be >= 1, the length at most the context (",
        config.context_length, ") and shorter than the text (", train.size(), ")"));
  }
  if (!(options.max_seconds > 0) && options.max_steps <= 0) {
    return absl::InvalidArgumentError("TrainGpt: give max_seconds > 0 or max_steps > 0");
  }
  GptTrainResult result;
  result.model = std::make_unique<Gpt>(config, options.seed);
  Gpt& model = *result.model;
  model.Train();
  tensor::Adam::Options adam;
  adam.lr = options.learning_rate;
  adam.weight_decay = 0.01f;
  tensor::Adam optimizer(model.Parameters(), adam);
  tensor::Rng rng(options.seed + 1);
  const int64_t b = options.batch_size, t = options.sequence_length;
  std::vector<int32_t> inputs, targets;
  std::deque<double> recent;
  const auto start = std::chrono::steady_clock::now();
  constexpr int64_t kWarmupSteps = 20;
  for (;;) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.max_steps > 0 && result.steps >= options.max_steps) break;
    if (options.max_seconds > 0 && elapsed >= options.max_seconds) break;
    // Linear warmup, then cosine decay to 10% over the budget (steps or seconds).
    const double progress = options.max_steps > 0
                                ? static_cast<double>(result.steps) / options.max_steps
                                : elapsed / options.max_seconds;
    double lr = options.learning_rate * (0.1 + 0.45 * (1.0 + std::cos(M_PI * progress)));
    if (result.steps < kWarmupSteps) lr *= static_cast<double>(result.steps + 1) / kWarmupSteps;
    optimizer.set_lr(static_cast<float>(lr));
    train.SampleBatch(rng, b, t, &inputs, &targets);
    tensor::GptOutput out = model.Forward(inputs, b, t);
    Tensor loss = tensor::CrossEntropy(tensor::Reshape(out.logits, {b * t, config.vocab_size}),
                                       targets);
    optimizer.ZeroGrad();
    loss.Backward();
    optimizer.Step();
    recent.push_back(loss.item());
    if (recent.size() > 10) recent.pop_front();
    ++result.steps;
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double sum = 0.0;
  for (double l : recent) sum += l;
  result.last_loss = recent.empty() ? 0.0 : sum / static_cast<double>(recent.size());
  model.Eval();
  return result;
}

}  // namespace tt::quant
