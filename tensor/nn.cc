#include "tensor/nn.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/backend.h"
#include "tensor/check.h"

namespace tt::tensor {

// --- Module ---------------------------------------------------------------------

Tensor& Module::AddParameter(std::string name, Tensor value) {
  value.set_requires_grad(true);
  params_.emplace_back(std::move(name), std::move(value));
  return params_.back().second;
}

void Module::CollectParameters(const std::string& prefix, NamedTensors* out) const {
  for (const auto& [name, p] : params_) out->emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) {
    child->CollectParameters(prefix + name + ".", out);
  }
}

void Module::VisitModulesUnder(const std::string& prefix,
                               const std::function<void(const std::string&, Module&)>& fn) {
  for (auto& [name, child] : children_) {
    fn(prefix + name, *child);
    child->VisitModulesUnder(prefix + name + ".", fn);
  }
}

void Module::VisitModules(const std::function<void(const std::string&, Module&)>& fn) {
  VisitModulesUnder("", fn);
}

NamedTensors Module::NamedParameters() const {
  NamedTensors out;
  CollectParameters("", &out);
  return out;
}

std::vector<Tensor> Module::Parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : NamedParameters()) out.push_back(p);
  return out;
}

int64_t Module::NumParameters() const {
  int64_t n = 0;
  for (const Tensor& p : Parameters()) n += p.numel();
  return n;
}

void Module::ZeroGrad() {
  for (Tensor& p : Parameters()) p.ZeroGrad();
}

void Module::SetTraining(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->SetTraining(training);
}

void Module::SummaryLines(const std::string& prefix, int depth, std::string* out) const {
  int64_t own = 0;
  for (const auto& [name, p] : params_) own += p.numel();
  absl::StrAppendFormat(out, "%-40s %12d\n",
                        std::string(2 * depth, ' ') + (prefix.empty() ? "" : prefix + ": ") +
                            Describe(),
                        own);
  for (const auto& [name, child] : children_) child->SummaryLines(name, depth + 1, out);
}

std::string Module::Summary() const {
  std::string out = absl::StrFormat("%-40s %12s\n", "module", "parameters");
  SummaryLines("", 0, &out);
  absl::StrAppendFormat(&out, "%-40s %12d\n", "total", NumParameters());
  return out;
}

// --- Layers ---------------------------------------------------------------------

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, Bias bias)
    : in_(in_features), out_(out_features) {
  TT_CHECK(in_features > 0 && out_features > 0, "Linear: bad sizes ", in_features, " -> ",
           out_features);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  weight_ = &AddParameter("weight", Tensor::Uniform({in_, out_}, rng, -bound, bound));
  bias_ = bias == Bias::kYes ? &AddParameter("bias", Tensor::Uniform({out_}, rng, -bound, bound))
                             : &no_bias_;
}

Tensor Linear::RunKernel(const Tensor& x, Activation act) {
  TT_CHECK(!x.requires_grad(), Describe(), ": a Linear with a kernel is inference-only, "
           "but its input requires a gradient");
  Tensor y = kernel_->Forward(x, act);
  TT_CHECK(y.dim() == x.dim() && y.shape().back() == out_, Describe(),
           ": kernel returned shape ", ShapeToString(y.shape()));
  return y;
}

Tensor Linear::Forward(const Tensor& x) {
  TT_CHECK(x.dim() >= 1 && x.shape().back() == in_, "Linear(", in_, " -> ", out_,
           "): input shape ", ShapeToString(x.shape()), " does not end in ", in_);
  if (kernel_ != nullptr) return RunKernel(x, Activation::kNone);
  Tensor y = MatMul(x.dim() == 1 ? Reshape(x, {1, in_}) : x, *weight_);
  if (bias_->defined()) y = Add(y, *bias_);
  return x.dim() == 1 ? Reshape(y, {out_}) : y;
}

Tensor Linear::ForwardAct(const Tensor& x, Activation act) {
  TT_CHECK(x.dim() >= 1 && x.shape().back() == in_, "Linear(", in_, " -> ", out_,
           "): input shape ", ShapeToString(x.shape()), " does not end in ", in_);
  if (kernel_ != nullptr) return RunKernel(x, act);
  return LinearAct(x, *weight_, *bias_, act);
}

std::string Linear::Describe() const {
  if (kernel_ != nullptr) {
    return absl::StrCat("Linear(", in_, " -> ", out_, ", ", kernel_->Describe(), ")");
  }
  return absl::StrCat("Linear(", in_, " -> ", out_, ")");
}

Conv2dLayer::Conv2dLayer(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Rng& rng,
               Conv2dOptions options)
    : in_(in_channels), out_(out_channels), kernel_(kernel_size), options_(options) {
  TT_CHECK(in_channels > 0 && out_channels > 0 && kernel_size > 0, "Conv2d: bad sizes ",
           in_channels, " -> ", out_channels, " kernel ", kernel_size);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_ * kernel_ * kernel_));
  weight_ = &AddParameter("weight",
                          Tensor::Uniform({out_, in_, kernel_, kernel_}, rng, -bound, bound));
  bias_ = &AddParameter("bias", Tensor::Uniform({out_}, rng, -bound, bound));
}

Tensor Conv2dLayer::Forward(const Tensor& x) { return tensor::Conv2d(x, *weight_, *bias_, options_); }

std::string Conv2dLayer::Describe() const {
  return absl::StrCat("Conv2d(", in_, " -> ", out_, ", ", kernel_, "x", kernel_, ", stride ",
                      options_.stride, ", pad ", options_.padding, ")");
}

std::string MaxPool2dLayer::Describe() const {
  return absl::StrCat("MaxPool2d(", kernel_, ", stride ", stride_, ")");
}

std::string DropoutLayer::Describe() const { return absl::StrCat("Dropout(", p_, ")"); }

LayerNormLayer::LayerNormLayer(int64_t dim, float eps) : dim_(dim), eps_(eps) {
  gamma_ = &AddParameter("gamma", Tensor::Ones({dim}));
  beta_ = &AddParameter("beta", Tensor::Zeros({dim}));
}

Tensor LayerNormLayer::Forward(const Tensor& x) { return LayerNorm(x, *gamma_, *beta_, eps_); }

std::string LayerNormLayer::Describe() const { return absl::StrCat("LayerNorm(", dim_, ")"); }

EmbeddingLayer::EmbeddingLayer(int64_t vocab_size, int64_t dim, Rng& rng)
    : vocab_(vocab_size), dim_(dim) {
  weight_ = &AddParameter("weight", Tensor::Randn({vocab_size, dim}, rng, 0.0f, 0.02f));
}

std::string EmbeddingLayer::Describe() const {
  return absl::StrCat("Embedding(", vocab_, ", ", dim_, ")");
}

Layer* Sequential::Add(std::unique_ptr<Layer> layer) {
  Layer* raw = AddModule(std::to_string(layers_.size()), std::move(layer));
  layers_.push_back(raw);
  return raw;
}

namespace {
// The activation layer `layer` is, if it is one a fused epilogue can apply.
Activation FusableActivation(Layer* layer) {
  if (dynamic_cast<ReLU*>(layer) != nullptr) return Activation::kRelu;
  if (dynamic_cast<GELU*>(layer) != nullptr) return Activation::kGelu;
  return Activation::kNone;
}
}  // namespace

Tensor Sequential::Forward(const Tensor& x) {
  const bool fuse = CurrentBackend().PrefersFusedEpilogue();
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    LayerScope scope([&] { return absl::StrCat(i, ": ", layers_[i]->Describe()); });
    auto* linear = dynamic_cast<Linear*>(layers_[i]);
    // A Linear with a kernel always fuses its activation (kernels take one).
    if (linear != nullptr && !fuse && linear->kernel() == nullptr) linear = nullptr;
    if (linear != nullptr && i + 1 < layers_.size()) {
      const Activation act = FusableActivation(layers_[i + 1]);
      const Tensor* params[] = {&h, &linear->weight(), &linear->bias()};
      const bool needs_grad = NeedsGrad({params[0], params[1], params[2]});
      if (act != Activation::kNone && !needs_grad) {
        h = linear->ForwardAct(h, act);
        ++i;  // the activation ran inside the fused op
        LayerScope act_scope([&] { return absl::StrCat(i, ": ", layers_[i]->Describe()); });
        continue;
      }
    }
    h = layers_[i]->Forward(h);
  }
  return h;
}

}  // namespace tt::tensor
