#include "tensor/optim.h"

#include <algorithm>
#include <cmath>

#include "tensor/check.h"

namespace tt::tensor {

Optimizer::Optimizer(std::vector<Tensor> params, float lr) : params_(std::move(params)), lr_(lr) {
  for (const Tensor& p : params_) {
    TT_CHECK(p.requires_grad(), "Optimizer: a parameter of shape ", ShapeToString(p.shape()),
             " does not require a gradient");
  }
}

void Optimizer::ZeroGrad() {
  for (Tensor& p : params_) p.ZeroGrad();
}

Sgd::Sgd(std::vector<Tensor> params, const Options& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  TT_CHECK(options.momentum >= 0.0f && options.weight_decay >= 0.0f,
           "Sgd: momentum and weight decay must be >= 0");
  for (const Tensor& p : params_) velocity_.emplace_back(p.numel(), 0.0f);
}

void Sgd::Step() {
  ++steps_;
  NoteParametersChanged();
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    float* p = params_[i].data();
    const float* gp = g.data();
    float* v = velocity_[i].data();
    const float lr = lr_, mu = options_.momentum, wd = options_.weight_decay;
    for (int64_t j = 0, n = params_[i].numel(); j < n; ++j) {
      const float grad = gp[j] + wd * p[j];
      v[j] = mu * v[j] + grad;
      p[j] -= lr * (mu > 0.0f ? v[j] : grad);
    }
  }
}

Adam::Adam(std::vector<Tensor> params, const Options& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  TT_CHECK(options.beta1 >= 0.0f && options.beta1 < 1.0f && options.beta2 >= 0.0f &&
               options.beta2 < 1.0f,
           "Adam: betas must be in [0, 1), got ", options.beta1, ", ", options.beta2);
  for (const Tensor& p : params_) {
    m_.emplace_back(p.numel(), 0.0f);
    v_.emplace_back(p.numel(), 0.0f);
  }
}

void Adam::Step() {
  ++steps_;
  NoteParametersChanged();
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  // Bias correction: m and v start at 0, so early averages are scaled up.
  const float c1 = 1.0f - std::pow(b1, static_cast<float>(steps_));
  const float c2 = 1.0f - std::pow(b2, static_cast<float>(steps_));
  const float step_size = lr_ / c1;
  const float inv_sqrt_c2 = 1.0f / std::sqrt(c2);
  const bool decoupled = options_.decay == WeightDecay::kDecoupled;
  const float wd = options_.weight_decay;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    float* p = params_[i].data();
    const float* gp = g.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    for (int64_t j = 0, n = params_[i].numel(); j < n; ++j) {
      const float grad = decoupled ? gp[j] : gp[j] + wd * p[j];
      m[j] = b1 * m[j] + (1.0f - b1) * grad;
      v[j] = b2 * v[j] + (1.0f - b2) * grad * grad;
      if (decoupled && wd > 0.0f) p[j] -= lr_ * wd * p[j];
      p[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_sqrt_c2 + eps);
    }
  }
}

StepSchedule::StepSchedule(const Options& options) : options_(options) {
  TT_CHECK(options.step_size > 0, "StepSchedule: step_size must be > 0");
}

float StepSchedule::LrAt(int64_t step) const {
  return options_.base_lr *
         std::pow(options_.gamma, static_cast<float>(step / options_.step_size));
}

CosineSchedule::CosineSchedule(const Options& options) : options_(options) {
  TT_CHECK(options.total_steps > 0 && options.warmup_steps >= 0 &&
               options.warmup_steps <= options.total_steps,
           "CosineSchedule: need 0 <= warmup_steps <= total_steps and total_steps > 0");
}

float CosineSchedule::LrAt(int64_t step) const {
  const auto& o = options_;
  if (step < o.warmup_steps) {
    return o.base_lr * static_cast<float>(step + 1) / static_cast<float>(o.warmup_steps);
  }
  const int64_t decay_steps = std::max<int64_t>(1, o.total_steps - o.warmup_steps);
  const double progress =
      std::min(1.0, static_cast<double>(step - o.warmup_steps) / decay_steps);
  return o.min_lr + 0.5f * (o.base_lr - o.min_lr) *
                        static_cast<float>(1.0 + std::cos(M_PI * progress));
}

}  // namespace tt::tensor
