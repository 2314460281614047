// Elementwise ops: forward values against scalar references (NumPy broadcasting written
// out index by index), gradients against finite differences, and the broadcast contract.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::AwayFromZero;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

// The flat index into a tensor of shape `in` that broadcasts to output index `out_index`
// of shape `out` (shapes aligned at the right; a dimension of 1 repeats).
int64_t BroadcastSource(const Shape& in, const Shape& out, int64_t out_index) {
  const Shape out_strides = ContiguousStrides(out);
  const Shape in_strides = ContiguousStrides(in);
  const size_t lead = out.size() - in.size();
  int64_t flat = 0;
  for (size_t d = lead; d < out.size(); ++d) {
    const int64_t coord = (out_index / out_strides[d]) % out[d];
    if (in[d - lead] != 1) flat += coord * in_strides[d - lead];
  }
  return flat;
}

std::vector<float> ReferenceBinary(const Tensor& a, const Tensor& b, const Shape& out,
                                   const std::function<float(float, float)>& op) {
  std::vector<float> y(static_cast<size_t>(NumElements(out)));
  for (int64_t i = 0; i < NumElements(out); ++i) {
    y[i] = op(a.data()[BroadcastSource(a.shape(), out, i)],
              b.data()[BroadcastSource(b.shape(), out, i)]);
  }
  return y;
}

struct BroadcastCase {
  std::string name;
  Shape a, b, out;
};

const std::vector<BroadcastCase>& BroadcastCases() {
  static const auto* cases = new std::vector<BroadcastCase>{
      {"SameShape", {2, 3}, {2, 3}, {2, 3}},
      {"ScalarLeft", {}, {2, 3}, {2, 3}},
      {"ScalarRight", {2, 3}, {}, {2, 3}},
      {"ColumnTimesRow", {3, 1}, {1, 4}, {3, 4}},
      {"TrailingVector", {2, 3, 4}, {4}, {2, 3, 4}},
      {"LeadingVector", {4}, {2, 3, 4}, {2, 3, 4}},
      {"BothSidesRankDiffers", {2, 1, 4}, {3, 1}, {2, 3, 4}},
      {"OneElementVsMatrix", {1}, {3, 2}, {3, 2}},
  };
  return *cases;
}

struct BinaryOpCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<float(float, float)> reference;
};

const std::vector<BinaryOpCase>& BinaryOps() {
  static const auto* ops = new std::vector<BinaryOpCase>{
      {"Add", [](const Tensor& a, const Tensor& b) { return Add(a, b); },
       [](float a, float b) { return a + b; }},
      {"Sub", [](const Tensor& a, const Tensor& b) { return Sub(a, b); },
       [](float a, float b) { return a - b; }},
      {"Mul", [](const Tensor& a, const Tensor& b) { return Mul(a, b); },
       [](float a, float b) { return a * b; }},
      {"Div", [](const Tensor& a, const Tensor& b) { return Div(a, b); },
       [](float a, float b) { return a / b; }},
  };
  return *ops;
}

TEST(BroadcastShapesTest, AlignsAtTheRight) {
  for (const BroadcastCase& c : BroadcastCases()) {
    EXPECT_EQ(BroadcastShapes(c.a, c.b, "test"), c.out) << c.name;
  }
}

TEST(BinaryOpsTest, ForwardMatchesReferenceForEveryBroadcast) {
  Rng rng(1);
  for (const BinaryOpCase& op : BinaryOps()) {
    for (const BroadcastCase& c : BroadcastCases()) {
      Tensor a = AwayFromZero(c.a, rng);
      Tensor b = AwayFromZero(c.b, rng);
      Tensor y = op.op(a, b);
      EXPECT_TRUE(AllClose(y, c.out, ReferenceBinary(a, b, c.out, op.reference)))
          << op.name << " " << c.name;
    }
  }
}

TEST(BinaryOpsTest, GradCheckBothInputsForEveryBroadcast) {
  Rng rng(2);
  for (const BinaryOpCase& op : BinaryOps()) {
    for (const BroadcastCase& c : BroadcastCases()) {
      Tensor a = Param(AwayFromZero(c.a, rng));
      Tensor b = Param(AwayFromZero(c.b, rng, 0.5f, 1.5f));
      auto f = [&op](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); };
      EXPECT_TRUE(GradCheck(f, {a, b})) << op.name << " " << c.name;
    }
  }
}

TEST(BinaryOpsTest, GradCheckOneSideOnlyLeavesTheOtherWithoutGrad) {
  Rng rng(3);
  for (const BinaryOpCase& op : BinaryOps()) {
    auto f = [&op](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); };
    Tensor a = Param(AwayFromZero({2, 1, 4}, rng));
    Tensor b = AwayFromZero({3, 1}, rng, 0.5f, 1.5f);
    EXPECT_TRUE(GradCheck(f, {a, b})) << op.name << " grad on a only";
    Tensor c = AwayFromZero({3, 1}, rng);
    Tensor d = Param(AwayFromZero({2, 3, 4}, rng, 0.5f, 1.5f));
    EXPECT_TRUE(GradCheck(f, {c, d})) << op.name << " grad on b only";
  }
}

TEST(BinaryOpsTest, OperatorsCallTheOps) {
  Tensor a = Tensor::FromVector({1, 2, 3}, {3});
  Tensor b = Tensor::FromVector({4, 5, 8}, {3});
  EXPECT_TRUE(AllClose(a + b, {3}, {5, 7, 11}));
  EXPECT_TRUE(AllClose(a - b, {3}, {-3, -3, -5}));
  EXPECT_TRUE(AllClose(a * b, {3}, {4, 10, 24}));
  EXPECT_TRUE(AllClose(b / a, {3}, {4, 2.5f, 8.0f / 3.0f}));
  EXPECT_TRUE(AllClose(-a, {3}, {-1, -2, -3}));
  EXPECT_TRUE(AllClose(a + 1.5f, {3}, {2.5f, 3.5f, 4.5f}));
  EXPECT_TRUE(AllClose(a - 1.0f, {3}, {0, 1, 2}));
  EXPECT_TRUE(AllClose(a * 2.0f, {3}, {2, 4, 6}));
  EXPECT_TRUE(AllClose(3.0f * a, {3}, {3, 6, 9}));
  EXPECT_TRUE(AllClose(a / 4.0f, {3}, {0.25f, 0.5f, 0.75f}));
}

TEST(BinaryOpsTest, ResultIsFreshAndInputsUnchanged) {
  Tensor a = Tensor::FromVector({1, 2}, {2});
  Tensor b = Tensor::FromVector({3, 4}, {2});
  Tensor y = Add(a, b);
  EXPECT_FALSE(y.SharesStorageWith(a));
  EXPECT_FALSE(y.SharesStorageWith(b));
  EXPECT_TRUE(AllClose(a, {2}, {1, 2}));
  EXPECT_TRUE(AllClose(b, {2}, {3, 4}));
}

TEST(BinaryOpsDeathTest, AddOfNonBroadcastingShapesNamesOpAndShapes) {
  Tensor a = Tensor::Zeros({2, 3});
  Tensor b = Tensor::Zeros({4});
  EXPECT_DEATH(Add(a, b), "[Aa]dd.*\\(2, 3\\).*\\(4\\)");
}

TEST(BinaryOpsDeathTest, BroadcastShapesNamesTheCaller) {
  EXPECT_DEATH(BroadcastShapes({2, 3}, {3, 2}, "MyOp"), "MyOp.*\\(2, 3\\).*\\(3, 2\\)");
}

// --- Unary ops ------------------------------------------------------------------------

struct UnaryOpCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> reference;
  enum Domain { kAny, kPositive, kAwayFromZero } domain;
};

double GeluTanh(double x) {
  const double kSqrt2OverPi = 0.7978845608028654;
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

const std::vector<UnaryOpCase>& UnaryOps() {
  static const auto* ops = new std::vector<UnaryOpCase>{
      {"Neg", [](const Tensor& x) { return Neg(x); }, [](double x) { return -x; },
       UnaryOpCase::kAny},
      {"AddScalar", [](const Tensor& x) { return AddScalar(x, 2.5f); },
       [](double x) { return x + 2.5; }, UnaryOpCase::kAny},
      {"MulScalar", [](const Tensor& x) { return MulScalar(x, -1.5f); },
       [](double x) { return x * -1.5; }, UnaryOpCase::kAny},
      {"Exp", [](const Tensor& x) { return Exp(x); }, [](double x) { return std::exp(x); },
       UnaryOpCase::kAny},
      {"Log", [](const Tensor& x) { return Log(x); }, [](double x) { return std::log(x); },
       UnaryOpCase::kPositive},
      {"Sqrt", [](const Tensor& x) { return Sqrt(x); }, [](double x) { return std::sqrt(x); },
       UnaryOpCase::kPositive},
      {"Tanh", [](const Tensor& x) { return Tanh(x); }, [](double x) { return std::tanh(x); },
       UnaryOpCase::kAny},
      {"Sigmoid", [](const Tensor& x) { return Sigmoid(x); },
       [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, UnaryOpCase::kAny},
      {"Relu", [](const Tensor& x) { return Relu(x); }, [](double x) { return x > 0 ? x : 0.0; },
       UnaryOpCase::kAwayFromZero},
      {"Gelu", [](const Tensor& x) { return Gelu(x); }, GeluTanh, UnaryOpCase::kAny},
  };
  return *ops;
}

Tensor UnaryInput(UnaryOpCase::Domain domain, const Shape& shape, Rng& rng) {
  switch (domain) {
    case UnaryOpCase::kPositive:
      return Tensor::Uniform(shape, rng, 0.3f, 2.0f);
    case UnaryOpCase::kAwayFromZero:
      return AwayFromZero(shape, rng, 0.1f, 2.0f);
    case UnaryOpCase::kAny:
      break;
  }
  return Tensor::Uniform(shape, rng, -2.0f, 2.0f);
}

TEST(UnaryOpsTest, ForwardMatchesReference) {
  Rng rng(4);
  for (const UnaryOpCase& op : UnaryOps()) {
    Tensor x = UnaryInput(op.domain, {3, 5, 2}, rng);
    std::vector<float> want;
    for (float v : x.ToVector()) want.push_back(static_cast<float>(op.reference(v)));
    Tensor y = op.op(x);
    EXPECT_TRUE(AllClose(y, {3, 5, 2}, want, 1e-5f, 1e-5f)) << op.name;
    EXPECT_FALSE(y.SharesStorageWith(x)) << op.name << " must not write into its input";
  }
}

TEST(UnaryOpsTest, GradCheck) {
  Rng rng(5);
  for (const UnaryOpCase& op : UnaryOps()) {
    Tensor x = Param(UnaryInput(op.domain, {4, 3}, rng));
    auto f = [&op](const std::vector<Tensor>& in) { return op.op(in[0]); };
    EXPECT_TRUE(GradCheck(f, {x})) << op.name;
  }
}

TEST(UnaryOpsTest, GradCheckOnScalarShape) {
  Rng rng(6);
  for (const UnaryOpCase& op : UnaryOps()) {
    Tensor x = Param(UnaryInput(op.domain, {}, rng));
    auto f = [&op](const std::vector<Tensor>& in) { return op.op(in[0]); };
    EXPECT_TRUE(GradCheck(f, {x})) << op.name;
  }
}

TEST(UnaryOpsTest, SpecialValues) {
  Tensor x = Tensor::FromVector({-100.0f, 0.0f, 100.0f}, {3});
  EXPECT_TRUE(AllClose(Sigmoid(x), {3}, {0.0f, 0.5f, 1.0f}, 1e-6f, 0.0f));
  EXPECT_TRUE(AllClose(Tanh(x), {3}, {-1.0f, 0.0f, 1.0f}, 1e-6f, 0.0f));
  EXPECT_TRUE(AllClose(Relu(x), {3}, {0.0f, 0.0f, 100.0f}));
  EXPECT_TRUE(AllClose(Gelu(x), {3}, {0.0f, 0.0f, 100.0f}, 1e-5f, 1e-6f));
  Tensor one = Tensor::FromVector({1.0f, 4.0f}, {2});
  EXPECT_TRUE(AllClose(Log(one), {2}, {0.0f, std::log(4.0f)}));
  EXPECT_TRUE(AllClose(Sqrt(one), {2}, {1.0f, 2.0f}));
  EXPECT_TRUE(AllClose(Exp(Tensor::Zeros({1})), {1}, {1.0f}));
}

TEST(UnaryOpsTest, ReluGradientIsAStep) {
  Tensor x = Param(Tensor::FromVector({-2.0f, -0.5f, 0.5f, 3.0f}, {4}));
  Sum(Relu(x)).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {4}, {0, 0, 1, 1}));
}

TEST(UnaryOpsTest, CompositionGradCheck) {
  // A small expression mixing broadcasting and unary ops: tanh(a * b + 1) / (exp(a) + b^2).
  Rng rng(7);
  Tensor a = Param(Tensor::Uniform({3, 4}, rng, -1.0f, 1.0f));
  Tensor b = Param(Tensor::Uniform({4}, rng, -1.0f, 1.0f));
  auto f = [](const std::vector<Tensor>& in) {
    return Tanh(in[0] * in[1] + 1.0f) / (Exp(in[0]) + in[1] * in[1]);
  };
  EXPECT_TRUE(GradCheck(f, {a, b}));
}

}  // namespace
}  // namespace tt::tensor
