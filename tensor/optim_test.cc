#include "tensor/optim.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::Pointwise;

Tensor Param(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::FromVector(v, {n}).set_requires_grad(true);
}

// Sets p.grad to g by backpropagating sum(p * g).
void SetGrad(Tensor& p, std::vector<float> g) {
  p.ZeroGrad();
  Sum(Mul(p, Tensor::FromVector(g, p.shape()))).Backward();
}

TEST(SgdTest, PlainStep) {
  Tensor p = Param({1.0f, -2.0f});
  Sgd sgd({p}, {.lr = 0.1f});
  SetGrad(p, {0.5f, -1.0f});
  sgd.Step();
  EXPECT_THAT(p.ToVector(), Pointwise(FloatNear(1e-6f), {0.95f, -1.9f}));
}

TEST(SgdTest, MomentumAndWeightDecay) {
  Tensor p = Param({1.0f});
  Sgd sgd({p}, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.5f});
  SetGrad(p, {1.0f});
  sgd.Step();  // g = 1 + 0.5*1 = 1.5; v = 1.5; p = 1 - 0.15 = 0.85
  EXPECT_NEAR(p.ToVector()[0], 0.85f, 1e-6f);
  SetGrad(p, {1.0f});
  sgd.Step();  // g = 1 + 0.425 = 1.425; v = 0.9*1.5 + 1.425 = 2.775; p = 0.85 - 0.2775
  EXPECT_NEAR(p.ToVector()[0], 0.5725f, 1e-6f);
}

TEST(SgdTest, ParametersWithoutGradientsAreSkipped) {
  Tensor p = Param({3.0f});
  Sgd sgd({p}, {.lr = 1.0f});
  sgd.Step();
  EXPECT_THAT(p.ToVector(), ElementsAre(3.0f));
}

TEST(AdamTest, FirstStepIsLrTimesSignOfGradient) {
  // With bias correction, m_hat = g and v_hat = g^2 after one step: p -= lr * g / |g|.
  Tensor p = Param({1.0f, 1.0f});
  Adam adam({p}, {.lr = 0.01f});
  SetGrad(p, {3.0f, -0.001f});
  adam.Step();
  EXPECT_THAT(p.ToVector(), Pointwise(FloatNear(1e-5f), {0.99f, 1.01f}));
}

TEST(AdamTest, DecoupledDecayShrinksWeightsWithoutGradientScaling) {
  Tensor p = Param({2.0f});
  Adam adamw({p}, {.lr = 0.1f, .weight_decay = 0.5f});
  SetGrad(p, {0.0f});
  adamw.Step();  // only decay acts: 2 - 0.1 * 0.5 * 2 = 1.9 (the Adam term is 0)
  EXPECT_NEAR(p.ToVector()[0], 1.9f, 1e-6f);
}

TEST(AdamTest, L2DecayGoesThroughTheGradient) {
  Tensor p = Param({2.0f});
  Adam adam({p}, {.lr = 0.1f, .weight_decay = 0.5f, .decay = Adam::WeightDecay::kL2});
  SetGrad(p, {0.0f});
  adam.Step();  // g = 0 + 0.5 * 2 = 1: a normal first step of -lr
  EXPECT_NEAR(p.ToVector()[0], 1.9f, 1e-5f);
}

TEST(AdamTest, MinimizesAQuadratic) {
  Tensor p = Param({5.0f, -3.0f});
  Adam adam({p}, {.lr = 0.1f});
  const Tensor target = Tensor::FromVector({1.0f, 2.0f}, {2});
  for (int i = 0; i < 500; ++i) {
    adam.ZeroGrad();
    MseLoss(p, target).Backward();
    adam.Step();
  }
  EXPECT_THAT(p.ToVector(), Pointwise(FloatNear(1e-2f), {1.0f, 2.0f}));
  EXPECT_EQ(adam.steps(), 500);
}

TEST(ScheduleTest, StepDecay) {
  StepSchedule s({.base_lr = 1.0f, .step_size = 10, .gamma = 0.5f});
  EXPECT_FLOAT_EQ(s.LrAt(0), 1.0f);
  EXPECT_FLOAT_EQ(s.LrAt(9), 1.0f);
  EXPECT_FLOAT_EQ(s.LrAt(10), 0.5f);
  EXPECT_FLOAT_EQ(s.LrAt(25), 0.25f);
}

TEST(ScheduleTest, CosineWithWarmup) {
  CosineSchedule s({.base_lr = 1.0f, .total_steps = 110, .warmup_steps = 10, .min_lr = 0.1f});
  EXPECT_FLOAT_EQ(s.LrAt(0), 0.1f);   // (0 + 1) / 10
  EXPECT_FLOAT_EQ(s.LrAt(9), 1.0f);
  EXPECT_FLOAT_EQ(s.LrAt(10), 1.0f);  // start of the decay
  EXPECT_NEAR(s.LrAt(60), 0.55f, 1e-6f);  // halfway: (1 + 0.1) / 2
  EXPECT_NEAR(s.LrAt(110), 0.1f, 1e-6f);
  EXPECT_NEAR(s.LrAt(500), 0.1f, 1e-6f);
}

TEST(OptimizerDeathTest, RejectsParametersWithoutGrad) {
  Tensor p = Tensor::Ones({2});
  EXPECT_DEATH(Sgd({p}, {}), "does not require a gradient");
}

}  // namespace
}  // namespace tt::tensor
