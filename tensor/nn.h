// Neural-network building blocks: Module (parameters, train/eval) and the layers.
//
//   tt::tensor::Rng rng(0);
//   Sequential mlp;
//   mlp.Add(std::make_unique<Linear>(784, 256, rng));
//   mlp.Add(std::make_unique<ReLU>());
//   mlp.Add(std::make_unique<Linear>(256, 10, rng));
//   Tensor logits = mlp.Forward(images);          // (B, 784) -> (B, 10)
//   for (auto& [name, p] : mlp.NamedParameters()) ...   // "0.weight", "0.bias", ...
//
// A Module owns its parameters (leaf tensors with requires_grad) and its child modules;
// NamedParameters() lists them recursively as "child.param" in a fixed order, which is
// the order the model file format (model_file.h) saves them in. Layer is a Module with
// one input and one output; the transformer parts (attention.h) have their own
// signatures because they carry past keys and values.
//
// Initialization follows common practice: Linear and Conv2d weights and biases are
// uniform in +-1/sqrt(fan_in); embeddings are normal with stddev 0.02.
#ifndef TT_TENSOR_NN_H_
#define TT_TENSOR_NN_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::tensor {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A one-line description, e.g. "Linear(784 -> 256)".
  virtual std::string Describe() const = 0;

  NamedTensors NamedParameters() const;
  std::vector<Tensor> Parameters() const;
  int64_t NumParameters() const;
  void ZeroGrad();

  // Training mode (the default) turns dropout on; Eval() turns it off. Recursive.
  void Train() { SetTraining(true); }
  void Eval() { SetTraining(false); }
  bool training() const { return training_; }

  // A multi-line summary: each module, its parameter count, and the total.
  std::string Summary() const;

  // Calls fn(path, module) for every descendant module, depth first in registration
  // order, with paths in NamedParameters' style ("blocks.0.attn.qkv"); not for this
  // module itself. This is how later modules find the layers to quantize or prune:
  //   model.VisitModules([](const std::string& path, Module& m) {
  //     if (auto* linear = dynamic_cast<Linear*>(&m)) ...
  //   });
  void VisitModules(const std::function<void(const std::string& path, Module& module)>& fn);

 protected:
  // Registers a parameter (it will require gradients); returns the stored handle.
  Tensor& AddParameter(std::string name, Tensor value);
  // Registers and owns a child module; returns a pointer to it.
  template <typename M>
  M* AddModule(std::string name, std::unique_ptr<M> module) {
    M* raw = module.get();
    children_.emplace_back(std::move(name), std::move(module));
    return raw;
  }

 private:
  void SetTraining(bool training);
  void CollectParameters(const std::string& prefix, NamedTensors* out) const;
  void VisitModulesUnder(const std::string& prefix,
                         const std::function<void(const std::string&, Module&)>& fn);
  void SummaryLines(const std::string& prefix, int depth, std::string* out) const;

  // A deque: handles returned by AddParameter stay valid as more are added.
  std::deque<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with one tensor in and one tensor out.
class Layer : public Module {
 public:
  virtual Tensor Forward(const Tensor& x) = 0;
};

// An inference-only replacement for a Linear layer's arithmetic: the seam through which
// later modules run a Linear on other weights (int8/int4 weight-only quantization,
// sparse CSR) without touching model code. The kernel holds its own copy of the weights
// in its own format; Linear::SetKernel routes Forward and ForwardAct to it.
class LinearKernel {
 public:
  virtual ~LinearKernel() = default;
  // act(x W + b) for x of shape (..., in); returns (..., out). No autograd.
  virtual Tensor Forward(const Tensor& x, Activation act) = 0;
  // A short label for Describe(), e.g. "int4 weights, blocks of 32".
  virtual std::string Describe() const = 0;
};

// x: (..., in) -> (..., out). weight is stored (in, out): y = x W + b.
class Linear : public Layer {
 public:
  enum class Bias { kYes, kNo };
  Linear(int64_t in_features, int64_t out_features, Rng& rng, Bias bias = Bias::kYes);
  Tensor Forward(const Tensor& x) override;
  // act(Forward(x)) in one fused op (see LinearAct in ops.h).
  Tensor ForwardAct(const Tensor& x, Activation act);
  std::string Describe() const override;
  Tensor& weight() { return *weight_; }
  Tensor& bias() { return *bias_; }  // undefined when built with Bias::kNo
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // Routes Forward/ForwardAct to `kernel` (nullptr restores the float path). With a
  // kernel set the layer is inference-only: an input that requires a gradient is a
  // TT_CHECK failure, and the float weight/bias are no longer read (callers may shrink
  // them, e.g. to save memory). Describe() names the kernel.
  void SetKernel(std::shared_ptr<LinearKernel> kernel) { kernel_ = std::move(kernel); }
  LinearKernel* kernel() const { return kernel_.get(); }

 private:
  Tensor RunKernel(const Tensor& x, Activation act);

  int64_t in_, out_;
  Tensor* weight_;
  Tensor* bias_;
  Tensor no_bias_;
  std::shared_ptr<LinearKernel> kernel_;
};

// x: (N, C, H, W) -> (N, OC, OH, OW); weight (OC, C, K, K), bias (OC).
class Conv2dLayer : public Layer {
 public:
  Conv2dLayer(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Rng& rng,
         Conv2dOptions options = {});
  Tensor Forward(const Tensor& x) override;
  std::string Describe() const override;
  Tensor& weight() { return *weight_; }
  Tensor& bias() { return *bias_; }
  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  int64_t kernel_size() const { return kernel_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  int64_t in_, out_, kernel_;
  Conv2dOptions options_;
  Tensor* weight_;
  Tensor* bias_;
};

class MaxPool2dLayer : public Layer {
 public:
  MaxPool2dLayer(int64_t kernel, int64_t stride) : kernel_(kernel), stride_(stride) {}
  Tensor Forward(const Tensor& x) override { return tensor::MaxPool2d(x, kernel_, stride_); }
  std::string Describe() const override;
  int64_t kernel() const { return kernel_; }
  int64_t stride() const { return stride_; }

 private:
  int64_t kernel_, stride_;
};

class ReLU : public Layer {
 public:
  Tensor Forward(const Tensor& x) override { return Relu(x); }
  std::string Describe() const override { return "ReLU"; }
};

class GELU : public Layer {
 public:
  Tensor Forward(const Tensor& x) override { return Gelu(x); }
  std::string Describe() const override { return "GELU"; }
};

// (N, ...) -> (N, prod(...)).
class FlattenLayer : public Layer {
 public:
  Tensor Forward(const Tensor& x) override { return Flatten(x, 1); }
  std::string Describe() const override { return "Flatten"; }
};

// Zeroes activations with probability p in training mode; the identity in eval mode.
class DropoutLayer : public Layer {
 public:
  DropoutLayer(float p, uint64_t seed) : p_(p), rng_(seed) {}
  Tensor Forward(const Tensor& x) override {
    return training() ? Dropout(x, p_, rng_) : x;
  }
  std::string Describe() const override;

 private:
  float p_;
  Rng rng_;
};

// Normalizes the last axis: x (..., D) -> (..., D); gamma (D) = 1, beta (D) = 0 at start.
class LayerNormLayer : public Layer {
 public:
  explicit LayerNormLayer(int64_t dim, float eps = 1e-5f);
  Tensor Forward(const Tensor& x) override;
  std::string Describe() const override;

 private:
  int64_t dim_;
  float eps_;
  Tensor* gamma_;
  Tensor* beta_;
};

// Token ids -> vectors: weight (V, D); ids of shape S -> (S..., D).
class EmbeddingLayer : public Module {
 public:
  EmbeddingLayer(int64_t vocab_size, int64_t dim, Rng& rng);
  Tensor Forward(const std::vector<int32_t>& ids, const Shape& ids_shape) {
    return Embedding(*weight_, ids, ids_shape);
  }
  std::string Describe() const override;
  Tensor& weight() { return *weight_; }

 private:
  int64_t vocab_, dim_;
  Tensor* weight_;
};

// Runs its layers in order. Children are named "0", "1", ...
// When nothing needs a gradient and the current backend prefers fused epilogues
// (Backend::PrefersFusedEpilogue), a Linear followed by ReLU or GELU runs as one fused
// op; both layers still report their layer events.
class Sequential : public Layer {
 public:
  Sequential() = default;
  Layer* Add(std::unique_ptr<Layer> layer);
  Tensor Forward(const Tensor& x) override;
  std::string Describe() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) { return *layers_[i]; }

 private:
  std::vector<Layer*> layers_;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_NN_H_
