#include "acceleration/xnnpack_conv.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "acceleration/xnnpack_gemm.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

#define SKIP_WITHOUT_XNNPACK()                                                  \
  do {                                                                          \
    if (!XnnpackStatus().ok()) GTEST_SKIP() << XnnpackStatus().message();       \
  } while (0)

// The direct definition, seven loops, NCHW, in double: the oracle.
//   y[b, o, i, j] = act(bias[o] + sum_{c, ki, kj} x[b, c, i*s + ki - p, j*s + kj - p] w[o, c, ki, kj])
// Also returns sum |terms| per output, which scales the float rounding bound.
void ReferenceConv(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
                   int64_t pad, Activation act, std::vector<double>* y,
                   std::vector<double>* scale, Shape* y_shape) {
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const int64_t oc = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  const int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1;
  *y_shape = {n, oc, oh, ow};
  y->assign(static_cast<size_t>(n * oc * oh * ow), 0.0);
  scale->assign(y->size(), 0.0);
  const float* px = x.data();
  const float* pw = w.data();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < oc; ++o) {
      for (int64_t i = 0; i < oh; ++i) {
        for (int64_t j = 0; j < ow; ++j) {
          double s = bias.defined() ? bias.data()[o] : 0.0;
          double a = std::fabs(s);
          for (int64_t ch = 0; ch < c; ++ch) {
            for (int64_t ki = 0; ki < kh; ++ki) {
              for (int64_t kj = 0; kj < kw; ++kj) {
                const int64_t r = i * stride + ki - pad, q = j * stride + kj - pad;
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                const double t = static_cast<double>(px[((b * c + ch) * h + r) * wd + q]) *
                                 pw[((o * c + ch) * kh + ki) * kw + kj];
                s += t;
                a += std::fabs(t);
              }
            }
          }
          if (act == Activation::kRelu && s < 0) s = 0;
          const int64_t at = ((b * oc + o) * oh + i) * ow + j;
          (*y)[at] = s;
          (*scale)[at] = a;
        }
      }
    }
  }
}

void ExpectNear(const float* got, const std::vector<double>& want,
                const std::vector<double>& scale, int64_t terms, const std::string& what) {
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = (terms + 2) * FLT_EPSILON * scale[i] + 1e-6;
    if (!(std::fabs(got[i] - want[i]) <= tol) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want[i];
    }
  }
}

// --- Layout conversions --------------------------------------------------------------

TEST(LayoutTest, NchwToNhwcPlacesEveryElementAndRoundTripsExactly) {
  // Sizes on both sides of the 4 x 4 blocks and 16 x 16 tiles, with remainders.
  for (const Shape& s :
       std::vector<Shape>{{1, 1, 1, 1}, {2, 1, 5, 3}, {3, 16, 14, 14}, {2, 3, 7, 9},
                          {1, 32, 1, 1}, {2, 6, 5, 3}, {1, 37, 9, 7}, {2, 20, 4, 5}}) {
    const int64_t n = s[0], c = s[1], h = s[2], w = s[3];
    tensor::Rng rng(1);
    Tensor x = Tensor::Randn(s, rng);
    std::vector<float> nhwc(x.numel()), back(x.numel());
    NchwToNhwc(x.data(), n, c, h, w, nhwc.data());
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t i = 0; i < h; ++i) {
          for (int64_t j = 0; j < w; ++j) {
            ASSERT_EQ(nhwc[((b * h + i) * w + j) * c + ch], x.at({b, ch, i, j}))
                << tensor::ShapeToString(s) << " at " << b << "," << ch << "," << i << "," << j;
          }
        }
      }
    }
    NhwcToNchw(nhwc.data(), n, c, h, w, back.data());
    EXPECT_EQ(back, x.ToVector()) << tensor::ShapeToString(s);
  }
}

// --- Convolution vs the direct definition --------------------------------------------

struct ConvCase {
  Shape x, w;
  int64_t stride, pad;
};

TEST(XnnpackConvTest, NchwAndNhwcMatchTheDirectConvolution) {
  SKIP_WITHOUT_XNNPACK();
  const std::vector<ConvCase> cases = {
      {{1, 1, 5, 5}, {1, 1, 3, 3}, 1, 0},      {{2, 3, 7, 9}, {5, 3, 3, 3}, 1, 1},
      {{3, 3, 7, 9}, {5, 3, 3, 3}, 2, 0},      {{2, 4, 8, 8}, {6, 4, 3, 3}, 2, 1},
      {{2, 5, 6, 7}, {3, 5, 3, 2}, 1, 1},      {{2, 5, 6, 7}, {3, 5, 2, 3}, 2, 0},
      {{2, 8, 5, 5}, {7, 8, 1, 1}, 1, 0},      {{4, 1, 28, 28}, {16, 1, 3, 3}, 1, 1},
      {{2, 16, 14, 14}, {32, 16, 3, 3}, 1, 1}, {{1, 16, 14, 14}, {32, 16, 3, 3}, 2, 1},
  };
  XnnpackConvCache cache;
  XnnpackConvRunOptions run;
  run.cache = &cache;
  tensor::Rng rng(2);
  for (const ConvCase& cc : cases) {
    const Tensor x = Tensor::Randn(cc.x, rng), w = Tensor::Randn(cc.w, rng);
    const Tensor b = Tensor::Randn({cc.w[0]}, rng);
    for (bool with_bias : {false, true}) {
      for (Activation act : {Activation::kNone, Activation::kRelu}) {
        const Tensor bias = with_bias ? b : Tensor();
        XnnpackConvParams params;
        params.stride = cc.stride;
        params.padding = cc.pad;
        params.act = act;
        const std::string what = absl::StrCat(
            tensor::ShapeToString(cc.x), " * ", tensor::ShapeToString(cc.w), " stride ",
            cc.stride, " pad ", cc.pad, with_bias ? " bias" : "",
            act == Activation::kRelu ? " relu" : "");
        std::vector<double> want, scale;
        Shape want_shape;
        ReferenceConv(x, w, bias, cc.stride, cc.pad, act, &want, &scale, &want_shape);
        const int64_t terms = cc.w[1] * cc.w[2] * cc.w[3];

        absl::StatusOr<Tensor> y = XnnpackConv2dNchw(x, w, bias, params, run);
        ASSERT_TRUE(y.ok()) << what << ": " << y.status();
        ASSERT_EQ(y->shape(), want_shape) << what;
        ExpectNear(y->data(), want, scale, terms, what + " (NCHW)");

        // The NHWC entry point on the converted input, converted back for comparison.
        Tensor x_nhwc = Tensor::Empty({cc.x[0], cc.x[2], cc.x[3], cc.x[1]});
        NchwToNhwc(x.data(), cc.x[0], cc.x[1], cc.x[2], cc.x[3], x_nhwc.data());
        absl::StatusOr<Tensor> y_nhwc = XnnpackConv2dNhwc(x_nhwc, w, bias, params, run);
        ASSERT_TRUE(y_nhwc.ok()) << what << ": " << y_nhwc.status();
        const Shape& ys = want_shape;
        ASSERT_EQ(y_nhwc->shape(), (Shape{ys[0], ys[2], ys[3], ys[1]})) << what;
        std::vector<float> back(y_nhwc->numel());
        NhwcToNchw(y_nhwc->data(), ys[0], ys[1], ys[2], ys[3], back.data());
        ExpectNear(back.data(), want, scale, terms, what + " (NHWC)");
        if (HasFailure()) return;
      }
    }
  }
}

TEST(XnnpackConvTest, MatchesTheCourseConv2dAtTheReferenceCnnShapes) {
  SKIP_WITHOUT_XNNPACK();
  tensor::Rng rng(3);
  auto pool = XnnpackThreadPool::Create(2);
  ASSERT_TRUE(pool.ok());
  XnnpackConvCache cache;
  for (const auto& [xs, ws] : std::vector<std::pair<Shape, Shape>>{
           {{64, 1, 28, 28}, {16, 1, 3, 3}}, {{64, 16, 14, 14}, {32, 16, 3, 3}}}) {
    const Tensor x = Tensor::Randn(xs, rng), w = Tensor::Randn(ws, rng, 0.0f, 0.3f);
    const Tensor b = Tensor::Randn({ws[0]}, rng);
    tensor::Conv2dOptions options;
    options.padding = 1;
    const Tensor want = tensor::Conv2d(x, w, b, options);
    XnnpackConvParams params;
    params.padding = 1;
    for (pthreadpool_t threads : {static_cast<pthreadpool_t>(nullptr), (*pool)->get()}) {
      XnnpackConvRunOptions run;
      run.cache = &cache;
      run.pool = threads;
      absl::StatusOr<Tensor> y = XnnpackConv2dNchw(x, w, b, params, run);
      ASSERT_TRUE(y.ok()) << y.status();
      ASSERT_EQ(y->shape(), want.shape());
      const std::vector<float> got = y->ToVector(), ref = want.ToVector();
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], ref[i], 1e-4f * (1.0f + std::fabs(ref[i])))
            << tensor::ShapeToString(xs) << " element " << i;
      }
    }
  }
  EXPECT_EQ(cache.creations(), 2);  // one per layer; the second thread setting reused it
  EXPECT_EQ(cache.hits(), 2);
}

// --- The cache -----------------------------------------------------------------------

TEST(XnnpackConvCacheTest, ReusesThePackedLayerUntilTheVersionChanges) {
  SKIP_WITHOUT_XNNPACK();
  tensor::Rng rng(4);
  Tensor w = Tensor::Randn({4, 3, 3, 3}, rng), bias = Tensor::Randn({4}, rng);
  const Tensor x = Tensor::Randn({2, 3, 6, 6}, rng);
  XnnpackConvCache cache;
  XnnpackConvRunOptions run;
  run.cache = &cache;
  XnnpackConvParams params;
  params.padding = 1;
  absl::StatusOr<Tensor> y1 = XnnpackConv2dNchw(x, w, bias, params, run);
  absl::StatusOr<Tensor> y2 = XnnpackConv2dNchw(x, w, bias, params, run);
  ASSERT_TRUE(y1.ok() && y2.ok());
  EXPECT_EQ(y1->ToVector(), y2->ToVector());
  EXPECT_EQ(cache.creations(), 1);
  EXPECT_EQ(cache.hits(), 1);

  // A raw write without a bump is not seen (the packed copy is served) ...
  w.data()[0] += 100.0f;
  absl::StatusOr<Tensor> stale = XnnpackConv2dNchw(x, w, bias, params, run);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->ToVector(), y1->ToVector());
  // ... and is after NoteParametersChanged(), as the contract says.
  tensor::NoteParametersChanged();
  absl::StatusOr<Tensor> fresh = XnnpackConv2dNchw(x, w, bias, params, run);
  ASSERT_TRUE(fresh.ok());
  std::vector<double> want, scale;
  Shape want_shape;
  ReferenceConv(x, w, bias, 1, 1, Activation::kNone, &want, &scale, &want_shape);
  ExpectNear(fresh->data(), want, scale, 27, "after the bump");
  EXPECT_EQ(cache.creations(), 2);
  EXPECT_EQ(cache.size(), 1);

  // Other params over the same weights are other entries.
  params.stride = 2;
  ASSERT_TRUE(XnnpackConv2dNchw(x, w, bias, params, run).ok());
  ASSERT_TRUE(XnnpackConv2dNchw(x, w, Tensor(), params, run).ok());
  EXPECT_EQ(cache.creations(), 4);
  EXPECT_EQ(cache.size(), 3);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0);
}

// Entries hold their weights, so a new layer cannot land on a cached layer's address
// and be served the old layer's packed weights.
TEST(XnnpackConvCacheTest, AFreedLayerCannotAliasANewOne) {
  SKIP_WITHOUT_XNNPACK();
  tensor::Rng rng(5);
  const Tensor x = Tensor::Randn({1, 2, 5, 5}, rng);
  XnnpackConvCache cache;
  XnnpackConvRunOptions run;
  run.cache = &cache;
  const float* first_address = nullptr;
  {
    Tensor w1 = Tensor::Randn({3, 2, 3, 3}, rng);
    first_address = w1.data();
    ASSERT_TRUE(XnnpackConv2dNchw(x, w1, Tensor(), {}, run).ok());
  }
  Tensor w2 = Tensor::Randn({3, 2, 3, 3}, rng);
  EXPECT_NE(w2.data(), first_address);
  absl::StatusOr<Tensor> y = XnnpackConv2dNchw(x, w2, Tensor(), {}, run);
  ASSERT_TRUE(y.ok());
  std::vector<double> want, scale;
  Shape want_shape;
  ReferenceConv(x, w2, Tensor(), 1, 0, Activation::kNone, &want, &scale, &want_shape);
  ExpectNear(y->data(), want, scale, 18, "second layer");
  EXPECT_EQ(cache.creations(), 2);
}

// --- Errors --------------------------------------------------------------------------

TEST(XnnpackConvTest, BadParametersAreStatuses) {
  SKIP_WITHOUT_XNNPACK();
  tensor::Rng rng(6);
  const Tensor x = Tensor::Randn({1, 2, 4, 4}, rng), w = Tensor::Randn({3, 2, 3, 3}, rng);
  XnnpackConvCache cache;
  XnnpackConvRunOptions run;
  run.cache = &cache;
  XnnpackConvParams gelu;
  gelu.act = Activation::kGelu;
  EXPECT_EQ(XnnpackConv2dNchw(x, w, Tensor(), gelu, run).status().code(),
            absl::StatusCode::kInvalidArgument);
  XnnpackConvParams zero_stride;
  zero_stride.stride = 0;
  EXPECT_EQ(XnnpackConv2dNchw(x, w, Tensor(), zero_stride, run).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Tensor big = Tensor::Randn({3, 2, 5, 5}, rng);  // 5x5 kernel, 4x4 image, no pad
  const absl::Status too_big = XnnpackConv2dNchw(x, big, Tensor(), {}, run).status();
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_big.message(), HasSubstr("does not fit"));
  EXPECT_EQ(cache.Lookup(w, Tensor::Ones({4}), {}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Lookup(Tensor::Ones({3, 2}), Tensor(), {}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto op = XnnpackConv2d::Create(w.data(), nullptr, 3, 2, 3, 3, {});
  ASSERT_TRUE(op.ok());
  std::vector<float> y(16);
  EXPECT_EQ((*op)->RunNhwc(x.data(), 1, 2, 2, y.data(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(XnnpackConvDeathTest, ChannelMismatchIsAContractViolation) {
  tensor::Rng rng(7);
  const Tensor x = Tensor::Randn({1, 3, 4, 4}, rng), w = Tensor::Randn({2, 2, 3, 3}, rng);
  EXPECT_DEATH(XnnpackConv2dNchw(x, w, Tensor(), {}).IgnoreError(),
               "has 3 channels but weight \\(2, 2, 3, 3\\) expects 2");
}

}  // namespace
}  // namespace tt::accel
