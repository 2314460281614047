// Reductions (Sum, Mean, Max, SumTo, BroadcastTo, ArgMaxRows): values against index-by-index
// references, gradients against finite differences.
#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::DistinctValues;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

enum class Reduce { kSum, kMean, kMax };

// Reference reduction of x over `axes` (non-negative, any order): the output shape and
// values, with reduced axes kept as 1 or dropped.
std::pair<Shape, std::vector<float>> ReferenceReduce(const Tensor& x,
                                                     const std::vector<int64_t>& axes, KeepDim keep,
                                                     Reduce kind) {
  const Shape& in = x.shape();
  std::set<int64_t> reduced(axes.begin(), axes.end());
  Shape kept_shape = in;  // reduced axes as 1
  for (int64_t a : reduced) kept_shape[a] = 1;
  Shape out_shape;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!reduced.count(d)) {
      out_shape.push_back(in[d]);
    } else if (keep == KeepDim::kYes) {
      out_shape.push_back(1);
    }
  }
  const int64_t n_out = NumElements(kept_shape);
  std::vector<double> acc(n_out,
                          kind == Reduce::kMax ? -std::numeric_limits<double>::infinity() : 0.0);
  const Shape in_strides = ContiguousStrides(in);
  const Shape out_strides = ContiguousStrides(kept_shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < in.size(); ++d) {
      const int64_t coord = (i / in_strides[d]) % in[d];
      if (!reduced.count(d)) o += coord * out_strides[d];
    }
    const double v = x.data()[i];
    acc[o] = kind == Reduce::kMax ? std::max(acc[o], v) : acc[o] + v;
  }
  int64_t count = 1;
  for (int64_t a : reduced) count *= in[a];
  std::vector<float> out;
  for (double v : acc) out.push_back(static_cast<float>(kind == Reduce::kMean ? v / count : v));
  return {out_shape, out};
}

std::vector<int64_t> Normalized(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) out.push_back(a < 0 ? a + rank : a);
  return out;
}

const std::vector<std::vector<int64_t>>& AxisSets() {
  static const auto* sets = new std::vector<std::vector<int64_t>>{
      {0}, {1}, {2}, {-1}, {-2}, {0, 2}, {2, 0}, {-1, -3}, {0, 1}, {1, 2}, {0, 1, 2}};
  return *sets;
}

TEST(SumTest, AllElements) {
  Tensor x = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(AllClose(Sum(x), {}, {21}));
  EXPECT_TRUE(AllClose(Mean(x), {}, {3.5f}));
  EXPECT_TRUE(AllClose(Sum(Tensor::Scalar(4.0f)), {}, {4}));
}

TEST(SumTest, OverAxesMatchesReference) {
  Rng rng(10);
  Tensor x = Tensor::Randn({2, 3, 4}, rng);
  for (const auto& axes : AxisSets()) {
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      auto [shape, want] = ReferenceReduce(x, Normalized(axes, 3), keep, Reduce::kSum);
      EXPECT_TRUE(AllClose(Sum(x, axes, keep), shape, want))
          << "axes {" << absl::StrJoin(axes, ",") << "} keep " << (keep == KeepDim::kYes);
      auto [mshape, mwant] = ReferenceReduce(x, Normalized(axes, 3), keep, Reduce::kMean);
      EXPECT_TRUE(AllClose(Mean(x, axes, keep), mshape, mwant))
          << "Mean axes {" << absl::StrJoin(axes, ",") << "} keep " << (keep == KeepDim::kYes);
    }
  }
}

TEST(SumTest, GradCheckAllAndOverAxes) {
  Rng rng(11);
  Tensor x = Param(Tensor::Randn({2, 3, 4}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Sum(in[0]); }, {x}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Mean(in[0]); }, {x}));
  for (const auto& axes : AxisSets()) {
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      const std::string what =
          absl::StrCat("axes {", absl::StrJoin(axes, ","), "} keep ", keep == KeepDim::kYes);
      EXPECT_TRUE(
          GradCheck([&](const std::vector<Tensor>& in) { return Sum(in[0], axes, keep); }, {x}))
          << "Sum " << what;
      EXPECT_TRUE(
          GradCheck([&](const std::vector<Tensor>& in) { return Mean(in[0], axes, keep); }, {x}))
          << "Mean " << what;
    }
  }
}

TEST(MaxTest, OverEachAxisMatchesReference) {
  Rng rng(12);
  Tensor x = DistinctValues({3, 4, 5}, rng);
  for (int64_t axis : {0, 1, 2, -1, -2, -3}) {
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      auto [shape, want] = ReferenceReduce(x, Normalized({axis}, 3), keep, Reduce::kMax);
      EXPECT_TRUE(AllClose(Max(x, axis, keep), shape, want))
          << "axis " << axis << " keep " << (keep == KeepDim::kYes);
    }
  }
}

TEST(MaxTest, GradCheckOverEachAxis) {
  Rng rng(13);
  Tensor x = Param(DistinctValues({3, 4, 5}, rng));
  for (int64_t axis : {0, 1, 2, -1}) {
    for (KeepDim keep : {KeepDim::kNo, KeepDim::kYes}) {
      EXPECT_TRUE(
          GradCheck([&](const std::vector<Tensor>& in) { return Max(in[0], axis, keep); }, {x}))
          << "axis " << axis << " keep " << (keep == KeepDim::kYes);
    }
  }
}

TEST(MaxTest, TiesSendTheGradientToTheFirstMaximum) {
  Tensor x = Param(Tensor::FromVector({1, 3, 3, 5, 5, 2}, {2, 3}));
  Tensor m = Max(x, 1);
  EXPECT_TRUE(AllClose(m, {2}, {3, 5}));
  Sum(m).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {2, 3}, {0, 1, 0, 1, 0, 0}));
}

TEST(MaxTest, NegativeValues) {
  Tensor x = Tensor::FromVector({-5, -2, -9, -1}, {2, 2});
  EXPECT_TRUE(AllClose(Max(x, 0), {2}, {-5, -1}));
  EXPECT_TRUE(AllClose(Max(x, 1, KeepDim::kYes), {2, 1}, {-2, -1}));
}

TEST(SumToTest, IsTheAdjointOfBroadcasting) {
  Rng rng(14);
  Tensor x = Tensor::Randn({2, 3, 4}, rng);
  struct Case {
    Shape to;
    std::vector<int64_t> axes;  // the axes of x to sum, keeping dims
  };
  for (const Case& c : std::vector<Case>{{{3, 1}, {0, 2}},
                                         {{4}, {0, 1}},
                                         {{1, 1, 4}, {0, 1}},
                                         {{2, 1, 4}, {1}},
                                         {{}, {0, 1, 2}},
                                         {{2, 3, 4}, {}}}) {
    auto [shape, want] = ReferenceReduce(x, c.axes, KeepDim::kYes, Reduce::kSum);
    EXPECT_TRUE(AllClose(SumTo(x, c.to), c.to, want)) << ShapeToString(c.to);
  }
}

TEST(SumToTest, GradCheck) {
  Rng rng(15);
  Tensor x = Param(Tensor::Randn({2, 3, 4}, rng));
  for (const Shape& to : std::vector<Shape>{{3, 1}, {4}, {1, 3, 1}, {}}) {
    EXPECT_TRUE(GradCheck([&](const std::vector<Tensor>& in) { return SumTo(in[0], to); }, {x}))
        << ShapeToString(to);
  }
}

TEST(BroadcastToTest, CopiesAlongNewAndUnitAxes) {
  Tensor x = Tensor::FromVector({1, 2, 3}, {3, 1});
  Tensor y = BroadcastTo(x, {2, 3, 2});
  EXPECT_TRUE(AllClose(y, {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_TRUE(AllClose(BroadcastTo(Tensor::Scalar(7), {2}), {2}, {7, 7}));
}

TEST(BroadcastToTest, GradCheck) {
  Rng rng(16);
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{3, 1}, {2, 3, 4}}, {{4}, {3, 4}}, {{}, {2, 2}}, {{2, 1, 4}, {2, 3, 4}}}) {
    Tensor x = Param(Tensor::Randn(from, rng));
    EXPECT_TRUE(
        GradCheck([&](const std::vector<Tensor>& in) { return BroadcastTo(in[0], to); }, {x}))
        << ShapeToString(from) << " -> " << ShapeToString(to);
  }
}

TEST(ArgMaxRowsTest, IndexOfTheLargestPerRow) {
  Tensor x = Tensor::FromVector({0.1f, 0.9f, 0.3f, 5.0f, -1.0f, 2.0f, -3.0f, -2.0f, -7.0f}, {3, 3});
  EXPECT_EQ(ArgMaxRows(x), (std::vector<int32_t>{1, 0, 1}));
}

}  // namespace
}  // namespace tt::tensor
