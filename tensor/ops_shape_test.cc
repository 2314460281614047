// Shape ops (Reshape, Flatten, Transpose, Permute, Concat, Slice): values against index
// references, views vs copies as documented, gradients against finite differences.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::AllCloseTensor;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

// out.shape[k] = x.shape[perm[k]]; out[c] = x[c'] with c'[perm[k]] = c[k].
std::pair<Shape, std::vector<float>> ReferencePermute(const Tensor& x,
                                                      const std::vector<int64_t>& perm) {
  const Shape& in = x.shape();
  Shape out(in.size());
  for (size_t k = 0; k < perm.size(); ++k) out[k] = in[perm[k]];
  const Shape in_strides = ContiguousStrides(in);
  const Shape out_strides = ContiguousStrides(out);
  std::vector<float> y(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t src = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      const int64_t coord = (i / out_strides[k]) % out[k];
      src += coord * in_strides[perm[k]];
    }
    y[i] = x.data()[src];
  }
  return {out, y};
}

Tensor Iota(const Shape& shape) {
  return Tensor::Arange(0.0f, static_cast<float>(NumElements(shape))).View(shape);
}

TEST(ReshapeTest, InfersMinusOneAndIsAView) {
  Tensor x = Iota({2, 3, 4});
  Tensor y = Reshape(x, {4, -1});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_TRUE(y.SharesStorageWith(x));
  EXPECT_EQ(y.ToVector(), x.ToVector());
  EXPECT_EQ(Reshape(x, {-1}).shape(), (Shape{24}));
  EXPECT_EQ(Reshape(x, {2, -1, 3}).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(Reshape(Tensor::Scalar(1), {1, 1}).shape(), (Shape{1, 1}));
  // A view: writing through it shows in x.
  y.data()[5] = 100.0f;
  EXPECT_EQ(x.data()[5], 100.0f);
}

TEST(ReshapeTest, OfASliceViewSeesTheSliceElements) {
  Tensor x = Iota({4, 3});
  Tensor rows = Slice(x, 0, 1, 3);  // elements 3..8
  EXPECT_TRUE(AllClose(Reshape(rows, {-1}), {6}, {3, 4, 5, 6, 7, 8}));
}

TEST(ReshapeTest, GradCheck) {
  Rng rng(20);
  Tensor x = Param(Tensor::Randn({2, 3, 4}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Reshape(in[0], {-1, 4, 2});
      },
      {x}));
}

TEST(ReshapeDeathTest, WrongSizeNamesOpAndShapes) {
  Tensor x = Tensor::Zeros({2, 3});
  EXPECT_DEATH(Reshape(x, {4, 2}), "[Rr]eshape.*\\(2, 3\\).*\\(4, 2\\)");
}

TEST(FlattenTest, KeepsTheFirstAxis) {
  Tensor x = Iota({2, 3, 4, 5});
  Tensor y = Flatten(x);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(y.ToVector(), x.ToVector());
  EXPECT_EQ(Flatten(x, 2).shape(), (Shape{2, 3, 20}));
  Rng rng(21);
  Tensor p = Param(Tensor::Randn({2, 3, 2}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Flatten(in[0]); }, {p}));
}

TEST(TransposeTest, SwapsAxesIntoACopy) {
  Tensor x = Iota({2, 3, 4});
  for (const auto& [a0, a1] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {0, 2}, {1, 2}, {2, 0}, {-1, -2}}) {
    std::vector<int64_t> perm = {0, 1, 2};
    std::swap(perm[a0 < 0 ? a0 + 3 : a0], perm[a1 < 0 ? a1 + 3 : a1]);
    auto [shape, want] = ReferencePermute(x, perm);
    Tensor y = Transpose(x, a0, a1);
    EXPECT_TRUE(AllClose(y, shape, want)) << a0 << "," << a1;
    EXPECT_FALSE(y.SharesStorageWith(x)) << a0 << "," << a1;
  }
  Tensor m = Tensor::FromVector({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(AllClose(Transpose(m, 0, 1), {3, 2}, {1, 4, 2, 5, 3, 6}));
}

TEST(TransposeTest, GradCheck) {
  Rng rng(22);
  Tensor x = Param(Tensor::Randn({2, 3, 4}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Transpose(in[0], 0, 2); }, {x}));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return Transpose(in[0], -1, 1); }, {x}));
}

TEST(PermuteTest, MatchesReference3dAnd4d) {
  Tensor x3 = Iota({2, 3, 4});
  for (const std::vector<int64_t>& perm :
       std::vector<std::vector<int64_t>>{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}}) {
    auto [shape, want] = ReferencePermute(x3, perm);
    EXPECT_TRUE(AllClose(Permute(x3, perm), shape, want)) << absl::StrJoin(perm, ",");
  }
  Tensor x4 = Iota({2, 3, 4, 5});
  for (const std::vector<int64_t>& perm :
       std::vector<std::vector<int64_t>>{{0, 2, 3, 1}, {3, 1, 0, 2}, {0, 2, 1, 3}, {3, 2, 1, 0}}) {
    auto [shape, want] = ReferencePermute(x4, perm);
    EXPECT_TRUE(AllClose(Permute(x4, perm), shape, want)) << absl::StrJoin(perm, ",");
  }
}

TEST(PermuteTest, GradCheck3dAnd4d) {
  Rng rng(23);
  Tensor x3 = Param(Tensor::Randn({2, 3, 4}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Permute(in[0], {2, 0, 1});
      },
      {x3}));
  Tensor x4 = Param(Tensor::Randn({2, 3, 2, 3}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Permute(in[0], {3, 1, 0, 2});
      },
      {x4}));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Permute(in[0], {0, 2, 3, 1});
      },
      {x4}));
}

TEST(ConcatTest, AlongFirstMiddleAndLastAxis) {
  Tensor a = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::FromVector({5, 6}, {1, 2});
  EXPECT_TRUE(AllClose(Concat({a, b}, 0), {3, 2}, {1, 2, 3, 4, 5, 6}));
  Tensor c = Tensor::FromVector({7, 8, 9, 10, 11, 12}, {2, 3});
  EXPECT_TRUE(AllClose(Concat({a, c}, 1), {2, 5}, {1, 2, 7, 8, 9, 3, 4, 10, 11, 12}));
  EXPECT_TRUE(AllClose(Concat({c, a}, -1), {2, 5}, {7, 8, 9, 1, 2, 10, 11, 12, 3, 4}));
  // 3-D, along the middle axis, three inputs.
  Tensor x = Iota({2, 1, 2});
  Tensor y = Iota({2, 2, 2}) + 10.0f;
  EXPECT_TRUE(AllClose(Concat({x, y, x}, 1), {2, 4, 2},
                       {0, 1, 10, 11, 12, 13, 0, 1, 2, 3, 14, 15, 16, 17, 2, 3}));
}

TEST(ConcatTest, GradCheckEveryInput) {
  Rng rng(24);
  Tensor a = Param(Tensor::Randn({2, 3, 2}, rng));
  Tensor b = Param(Tensor::Randn({1, 3, 2}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Concat({in[0], in[1]}, 0);
      },
      {a, b}));
  Tensor c = Param(Tensor::Randn({2, 1, 2}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Concat({in[0], in[1]}, 1);
      },
      {a, c}));
  Tensor d = Param(Tensor::Randn({2, 3, 3}, rng));
  Tensor e = Tensor::Randn({2, 3, 1}, rng);  // no grad wanted
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Concat({in[0], in[1], in[2]}, -1);
      },
      {a, d, e}));
}

TEST(SliceTest, AlongFirstAxisIsAView) {
  Tensor x = Iota({4, 3});
  Tensor s = Slice(x, 0, 1, 3);
  EXPECT_TRUE(AllClose(s, {2, 3}, {3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(s.SharesStorageWith(x));
  s.data()[0] = -1.0f;
  EXPECT_EQ(x.at({1, 0}), -1.0f);
}

TEST(SliceTest, AlongOtherAxes) {
  Tensor x = Iota({2, 4, 3});
  EXPECT_TRUE(AllClose(Slice(x, 1, 1, 3), {2, 2, 3}, {3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20}));
  EXPECT_TRUE(AllClose(Slice(x, -1, 2, 3), {2, 4, 1}, {2, 5, 8, 11, 14, 17, 20, 23}));
  EXPECT_TRUE(
      AllClose(Slice(x, 0, 1, 2), {1, 4, 3}, {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}));
}

TEST(SliceTest, GradCheck) {
  Rng rng(25);
  Tensor x = Param(Tensor::Randn({4, 3, 2}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Slice(in[0], 0, 1, 3); }, {x}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Slice(in[0], 1, 0, 2); }, {x}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Slice(in[0], -1, 1, 2); }, {x}));
}

TEST(SliceTest, GradientOfAViewFlowsToTheRightRows) {
  Tensor x = Param(Tensor::Zeros({3, 2}));
  Sum(Slice(x, 0, 2, 3) * 5.0f).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {3, 2}, {0, 0, 0, 0, 5, 5}));
}

// --- Ops on views ----------------------------------------------------------------------

// A slice along axis 0 starts `offset` elements into its storage: every op must read it
// from there (the same results as on a compact copy).
TEST(ViewInputTest, OpsReadAViewFromItsOffset) {
  Rng rng(26);
  Tensor base = Tensor::Randn({5, 4}, rng);
  Tensor view = Slice(base, 0, 2, 4);  // rows 2 and 3: offset 8
  Tensor copy = view.Clone();
  Tensor w = Tensor::Randn({4, 3}, rng);
  Tensor images = Tensor::Randn({3, 2, 4, 4}, rng);
  Tensor image_view = Slice(images, 0, 1, 3);
  Tensor image_copy = image_view.Clone();
  Tensor kernel = Tensor::Randn({2, 2, 3, 3}, rng);
  struct Case {
    const char* what;
    std::function<Tensor(const Tensor&)> op;
    bool images;
  };
  for (const Case& c : std::vector<Case>{
           {"Add", [&](const Tensor& v) { return Add(v, Tensor::Ones({4})); }, false},
           {"Mul self", [&](const Tensor& v) { return Mul(v, v); }, false},
           {"Relu", [&](const Tensor& v) { return Relu(v); }, false},
           {"Exp", [&](const Tensor& v) { return Exp(v); }, false},
           {"MulScalar", [&](const Tensor& v) { return MulScalar(v, 3.0f); }, false},
           {"Sum", [&](const Tensor& v) { return Sum(v); }, false},
           {"Sum axis 0", [&](const Tensor& v) { return Sum(v, {0}); }, false},
           {"Max axis 1", [&](const Tensor& v) { return Max(v, 1); }, false},
           {"Transpose", [&](const Tensor& v) { return Transpose(v, 0, 1); }, false},
           {"Concat",
            [&](const Tensor& v) {
              return Concat({v, v}, 1);
            },
            false},
           {"Slice axis 1", [&](const Tensor& v) { return Slice(v, 1, 1, 3); }, false},
           {"MatMul", [&](const Tensor& v) { return MatMul(v, w); }, false},
           {"MatMul b", [&](const Tensor& v) { return MatMul(w, v, Trans::kYes, Trans::kYes); },
            false},
           {"Softmax", [&](const Tensor& v) { return Softmax(v); }, false},
           {"LayerNorm",
            [&](const Tensor& v) { return LayerNorm(v, Tensor::Ones({4}), Tensor::Zeros({4})); },
            false},
           {"CrossEntropy",
            [&](const Tensor& v) {
              return CrossEntropy(v, {0, 3});
            },
            false},
           {"MseLoss",
            [&](const Tensor& v) {
              return MseLoss(v, Tensor::Zeros({2, 4}));
            },
            false},
           {"Conv2d",
            [&](const Tensor& v) {
              return Conv2d(v, kernel, Tensor(), {1, 1});
            },
            true},
           {"MaxPool2d", [&](const Tensor& v) { return MaxPool2d(v, 2, 2); }, true},
       }) {
    const Tensor& v = c.images ? image_view : view;
    const Tensor& compact = c.images ? image_copy : copy;
    EXPECT_TRUE(AllCloseTensor(c.op(v), c.op(compact), 0.0f, 0.0f)) << c.what;
  }
}

TEST(ViewInputTest, GradientsFlowBackThroughTheView) {
  Rng rng(27);
  Tensor base = Param(Tensor::Randn({5, 4}, rng));
  Tensor w = Param(Tensor::Randn({4, 3}, rng));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return MatMul(Slice(in[0], 0, 2, 4), in[1]); },
                {base, w}));
  Tensor images = Param(Tensor::Randn({3, 2, 4, 4}, rng));
  Tensor kernel = Param(Tensor::Randn({2, 2, 3, 3}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Conv2d(Slice(in[0], 0, 1, 3), in[1], Tensor(), {1, 1});
      },
      {images, kernel}));
}

}  // namespace
}  // namespace tt::tensor
