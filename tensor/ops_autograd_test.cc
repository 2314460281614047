// Autograd semantics through the ops: accumulation, ZeroGrad, NoGradGuard, Detach, fan-out,
// deep graphs, the Backward() contract; and GradCheck itself catching a wrong backward.
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

TEST(AutogradTest, GradientsAccumulateAcrossBackwardCallsUntilZeroGrad) {
  Tensor x = Param(Tensor::FromVector({1, 2, 3}, {3}));
  EXPECT_FALSE(x.grad().defined());
  Sum(x * 3.0f).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {3}, {3, 3, 3}));
  Sum(x * x).Backward();  // adds 2x
  EXPECT_TRUE(AllClose(x.grad(), {3}, {5, 7, 9}));
  x.ZeroGrad();
  EXPECT_FALSE(x.grad().defined());
  Sum(x * 3.0f).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {3}, {3, 3, 3}));
}

TEST(AutogradTest, NoGradGuardRecordsNothing) {
  Tensor x = Param(Tensor::FromVector({1, 2}, {2}));
  EXPECT_TRUE(GradEnabled());
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(GradEnabled());
    Tensor y = Mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(AllClose(y, {2}, {1, 4}));  // the values are still computed
    EXPECT_FALSE(MatMul(Reshape(x, {1, 2}), Reshape(x, {2, 1})).requires_grad());
    EXPECT_FALSE(CrossEntropy(Reshape(x, {1, 2}), {1}).requires_grad());
    {
      NoGradGuard nested;
      EXPECT_FALSE(GradEnabled());
    }
    EXPECT_FALSE(GradEnabled());  // the inner guard restores "off", not "on"
  }
  EXPECT_TRUE(GradEnabled());
  Tensor z = Mul(x, x);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
}

TEST(AutogradTest, OpsOnConstantsRecordNothing) {
  Tensor a = Tensor::Ones({2});
  Tensor y = Exp(a * a + 1.0f);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(AutogradTest, DetachSharesDataButCutsHistory) {
  Tensor x = Param(Tensor::FromVector({1, 2, 3}, {3}));
  Tensor h = x * 2.0f;
  Tensor d = h.Detach();
  EXPECT_TRUE(d.SharesStorageWith(h));
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  // d/dx sum(x * stop_gradient(2x)) = 2x, not 4x.
  Sum(x * d).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {3}, {2, 4, 6}));
}

TEST(AutogradTest, ATensorUsedTwiceGetsBothContributions) {
  Tensor x = Param(Tensor::FromVector({1, -2, 3}, {3}));
  Sum(x * x).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {3}, {2, -4, 6}));
  x.ZeroGrad();
  // Fan-out through two different branches that meet again: d/dx (2x + exp(x)) * x.
  Tensor a = x * 2.0f;
  Tensor b = Exp(x);
  Sum((a + b) * x).Backward();
  std::vector<float> want;
  for (float v : x.ToVector()) want.push_back(4 * v + std::exp(v) * (1 + v));
  EXPECT_TRUE(AllClose(x.grad(), {3}, want, 1e-5f, 1e-5f));
}

TEST(AutogradTest, ATensorPassedTwiceToOneOp) {
  Rng rng(63);
  Tensor x = Param(Tensor::Randn({3, 3}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Add(in[0], in[0]); }, {x}));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) { return Div(in[0], in[0] * in[0] + 2.0f); }, {x}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return MatMul(in[0], in[0]); }, {x}));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) { return MatMul(in[0], in[0], Trans::kYes, Trans::kNo); },
      {x}));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Concat({in[0], in[0]}, 1);
      },
      {x}));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return MseLoss(in[0], in[0] * 0.5f); }, {x}));
}

TEST(AutogradTest, IntermediateUsedByTwoConsumers) {
  Tensor x = Param(Tensor::FromVector({0.5f, 1.5f}, {2}));
  Tensor h = Tanh(x);
  Tensor loss = Sum(h * 3.0f) + Sum(h * h);  // d/dh = 3 + 2h
  loss.Backward();
  std::vector<float> want;
  for (float v : x.ToVector()) {
    const float t = std::tanh(v);
    want.push_back((3 + 2 * t) * (1 - t * t));
  }
  EXPECT_TRUE(AllClose(x.grad(), {2}, want, 1e-5f, 1e-5f));
}

TEST(AutogradTest, DeepChainOfTenThousandOps) {
  Tensor x = Param(Tensor::FromVector({1.0f, 2.0f}, {2}));
  Tensor y = x;
  for (int i = 0; i < 5000; ++i) y = MulScalar(AddScalar(y, 0.001f), 1.0001f);
  Tensor loss = Sum(y);
  loss.Backward();                                                // iterative: no stack overflow
  const float want = static_cast<float>(std::pow(1.0001, 5000));  // e^0.49997...
  EXPECT_TRUE(AllClose(x.grad(), {2}, {want, want}, 0.0f, 1e-3f));
  // Dropping the last handles frees the 10,000-node graph (also without recursion
  // deep enough to overflow).
  y = Tensor();
  loss = Tensor();
  EXPECT_TRUE(x.grad().defined());
}

TEST(AutogradTest, GradOfLeafHasTheLeafShape) {
  Rng rng(60);
  Tensor w = Param(Tensor::Randn({3, 4}, rng));
  Tensor b = Param(Tensor::Randn({4}, rng));
  Tensor x = Tensor::Randn({5, 3}, rng);
  Mean(Relu(MatMul(x, w) + b)).Backward();
  EXPECT_EQ(w.grad().shape(), (Shape{3, 4}));
  EXPECT_EQ(b.grad().shape(), (Shape{4}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(AutogradDeathTest, BackwardOnANonScalarNamesTheShape) {
  Tensor x = Param(Tensor::Ones({2, 3}));
  Tensor y = x * 2.0f;
  EXPECT_DEATH(y.Backward(), "Backward.*\\(2, 3\\)");
}

// --- GradCheck checks itself ----------------------------------------------------------

// y = 2x with a backward that is wrong by `factor` on element `bad` (or right if -1).
Tensor BrokenDouble(const Tensor& x, int64_t bad) {
  Tensor out = x.Clone();
  for (int64_t i = 0; i < out.numel(); ++i) out.data()[i] *= 2.0f;
  if (NeedsGrad({&x})) {
    RecordOp(out, "broken_double", {x}, [bad](const Tensor& g) {
      Tensor dx = g.Clone();
      for (int64_t i = 0; i < dx.numel(); ++i) dx.data()[i] *= i == bad ? 3.0f : 2.0f;
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

TEST(GradCheckTest, PassesARightBackward) {
  Rng rng(61);
  Tensor x = Param(Tensor::Randn({2, 3}, rng));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return BrokenDouble(in[0], -1); }, {x}));
}

TEST(GradCheckTest, ReportsTheWorstElementOfAWrongBackward) {
  Rng rng(62);
  Tensor x = Param(Tensor::Randn({2, 3}, rng));
  ::testing::AssertionResult r =
      GradCheck([](const std::vector<Tensor>& in) { return BrokenDouble(in[0], 4); }, {x});
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("input 0"), std::string::npos) << r.message();
  EXPECT_NE(std::string(r.message()).find("flat index 4"), std::string::npos) << r.message();
}

TEST(GradCheckTest, RejectsWhenNothingRequiresGrad) {
  Tensor x = Tensor::Ones({2});
  EXPECT_FALSE(GradCheck([](const std::vector<Tensor>& in) { return Exp(in[0]); }, {x}));
}

}  // namespace
}  // namespace tt::tensor
