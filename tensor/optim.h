// Optimizers and learning-rate schedules.
//
//   Adam opt(model->Parameters(), Adam::Options{.lr = 1e-3f});
//   CosineSchedule schedule({.base_lr = 1e-3f, .total_steps = 1000, .warmup_steps = 50});
//   for (int64_t step = 0; ...; ++step) {
//     opt.set_lr(schedule.LrAt(step));
//     opt.ZeroGrad();
//     loss.Backward();
//     opt.Step();
//   }
//
// Step() updates the parameters in place (not recorded by autograd) from the gradients
// accumulated by Backward(); parameters with no gradient yet are skipped.
#ifndef TT_TENSOR_OPTIM_H_
#define TT_TENSOR_OPTIM_H_

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace tt::tensor {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, float lr);
  virtual ~Optimizer() = default;
  virtual void Step() = 0;
  void ZeroGrad();
  float lr() const { return lr_; }
  void set_lr(float lr) { lr_ = lr; }
  int64_t steps() const { return steps_; }

 protected:
  std::vector<Tensor> params_;
  float lr_;
  int64_t steps_ = 0;
};

// SGD with optional momentum (v = mu v + g; p -= lr v) and L2 weight decay (g += wd p).
class Sgd : public Optimizer {
 public:
  struct Options {
    float lr = 0.01f;
    float momentum = 0.0f;
    float weight_decay = 0.0f;
  };
  Sgd(std::vector<Tensor> params, const Options& options);
  void Step() override;

 private:
  Options options_;
  std::vector<std::vector<float>> velocity_;
};

// Adam (Kingma & Ba) with bias correction. Weight decay is either added to the gradient
// (kL2, classic Adam) or applied to the weights directly (kDecoupled, AdamW).
class Adam : public Optimizer {
 public:
  enum class WeightDecay { kL2, kDecoupled };
  struct Options {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;
    WeightDecay decay = WeightDecay::kDecoupled;
  };
  Adam(std::vector<Tensor> params, const Options& options);
  void Step() override;

 private:
  Options options_;
  std::vector<std::vector<float>> m_, v_;
};

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual float LrAt(int64_t step) const = 0;
};

// lr = base * gamma^(step / step_size).
class StepSchedule : public LrSchedule {
 public:
  struct Options {
    float base_lr = 0.01f;
    int64_t step_size = 1000;
    float gamma = 0.1f;
  };
  explicit StepSchedule(const Options& options);
  float LrAt(int64_t step) const override;

 private:
  Options options_;
};

// Linear warmup to base_lr, then a cosine decay to min_lr at total_steps (and after).
class CosineSchedule : public LrSchedule {
 public:
  struct Options {
    float base_lr = 1e-3f;
    int64_t total_steps = 1000;
    int64_t warmup_steps = 0;
    float min_lr = 0.0f;
  };
  explicit CosineSchedule(const Options& options);
  float LrAt(int64_t step) const override;

 private:
  Options options_;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_OPTIM_H_
