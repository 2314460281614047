// Neural-network ops (Softmax, LogSoftmax, LayerNorm, Embedding, CausalMask, Dropout,
// CrossEntropy, MseLoss): values against double-precision references, numerical
// stability at large logits, gradients against finite differences.
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::tt::tensor::testing::AllClose;
using ::tt::tensor::testing::AllCloseTensor;
using ::tt::tensor::testing::GradCheck;
using ::tt::tensor::testing::Param;

constexpr float kInf = std::numeric_limits<float>::infinity();

// log(sum(exp(row))) in double, shifted by the row max.
double LogSumExp(const float* row, int64_t n) {
  double m = row[0];
  for (int64_t j = 1; j < n; ++j) m = std::max<double>(m, row[j]);
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(row[j] - m);
  return m + std::log(s);
}

std::vector<float> ReferenceLogSoftmax(const Tensor& x) {
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  std::vector<float> y;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * cols;
    const double lse = LogSumExp(row, cols);
    for (int64_t j = 0; j < cols; ++j) y.push_back(static_cast<float>(row[j] - lse));
  }
  return y;
}

std::vector<float> ReferenceSoftmax(const Tensor& x) {
  std::vector<float> y = ReferenceLogSoftmax(x);
  for (float& v : y) v = std::exp(v);
  return y;
}

TEST(SoftmaxTest, MatchesReferenceAndRowsSumToOne) {
  Rng rng(40);
  Tensor x = Tensor::Randn({2, 3, 5}, rng, 0.0f, 2.0f);
  Tensor y = Softmax(x);
  EXPECT_TRUE(AllClose(y, x.shape(), ReferenceSoftmax(x), 1e-6f, 1e-5f));
  for (float s : Sum(y, {-1}).ToVector()) EXPECT_NEAR(s, 1.0f, 1e-6f);
  EXPECT_TRUE(AllClose(LogSoftmax(x), x.shape(), ReferenceLogSoftmax(x), 1e-5f, 1e-5f));
  Tensor v = Tensor::FromVector({1, 2, 3}, {3});  // 1-D: one row
  EXPECT_TRUE(AllClose(Softmax(v), {3}, ReferenceSoftmax(v), 1e-6f, 1e-5f));
}

TEST(SoftmaxTest, StableWithLargeLogits) {
  Tensor x = Tensor::FromVector({1000, 999, 998, -1000, 1000, 1000}, {2, 3});
  Tensor y = Softmax(x);
  EXPECT_TRUE(AllClose(y, {2, 3}, ReferenceSoftmax(x), 1e-6f, 1e-5f));
  EXPECT_TRUE(
      AllClose(y, {2, 3}, {0.66524096f, 0.24472847f, 0.09003057f, 0.0f, 0.5f, 0.5f}, 1e-6f, 1e-5f));
  Tensor ls = LogSoftmax(x);
  EXPECT_TRUE(AllClose(ls, {2, 3}, ReferenceLogSoftmax(x), 1e-5f, 1e-5f));
  // logsumexp of a log-softmax row is 0.
  for (int64_t r = 0; r < 2; ++r) EXPECT_NEAR(LogSumExp(ls.data() + 3 * r, 3), 0.0, 1e-6);
}

TEST(SoftmaxTest, GradCheck) {
  Rng rng(41);
  Tensor x = Param(Tensor::Randn({3, 5}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Softmax(in[0]); }, {x}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return LogSoftmax(in[0]); }, {x}));
  Tensor x3 = Param(Tensor::Randn({2, 2, 4}, rng));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return Softmax(in[0]); }, {x3}));
  EXPECT_TRUE(GradCheck([](const std::vector<Tensor>& in) { return LogSoftmax(in[0]); }, {x3}));
}

TEST(SoftmaxTest, GradientFiniteAtLargeLogits) {
  Tensor x = Param(Tensor::FromVector({1000, 999, -1000, 0}, {1, 4}));
  Sum(LogSoftmax(x) * Tensor::FromVector({1, 0, 0, 0}, {4})).Backward();
  // d log_softmax_0 / dx = onehot_0 - softmax.
  const double e = std::exp(-1.0);
  EXPECT_TRUE(
      AllClose(x.grad(), {1, 4},
               {static_cast<float>(1 - 1 / (1 + e)), static_cast<float>(-e / (1 + e)), 0.0f, 0.0f},
               1e-6f, 1e-5f));
}

// --- LayerNorm ------------------------------------------------------------------------

std::vector<float> ReferenceLayerNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                      double eps) {
  const int64_t d = x.size(-1), rows = x.numel() / d;
  std::vector<float> y;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * d;
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < d; ++j) mean += row[j];
    mean /= d;
    for (int64_t j = 0; j < d; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= d;  // biased, as in every LayerNorm
    for (int64_t j = 0; j < d; ++j) {
      y.push_back(static_cast<float>((row[j] - mean) / std::sqrt(var + eps) * gamma.data()[j] +
                                     beta.data()[j]));
    }
  }
  return y;
}

TEST(LayerNormTest, MatchesReference) {
  Rng rng(42);
  Tensor x = Tensor::Randn({2, 3, 6}, rng, 1.0f, 3.0f);
  Tensor gamma = Tensor::Randn({6}, rng);
  Tensor beta = Tensor::Randn({6}, rng);
  EXPECT_TRUE(AllClose(LayerNorm(x, gamma, beta), x.shape(),
                       ReferenceLayerNorm(x, gamma, beta, 1e-5), 1e-5f, 1e-4f));
  EXPECT_TRUE(AllClose(LayerNorm(x, gamma, beta, 0.5f), x.shape(),
                       ReferenceLayerNorm(x, gamma, beta, 0.5), 1e-5f, 1e-4f));
  // A constant row normalizes to beta (0 / sqrt(eps)).
  Tensor flat = Tensor::Full({1, 6}, 4.0f);
  EXPECT_TRUE(AllClose(LayerNorm(flat, gamma, beta), {1, 6}, beta.ToVector(), 1e-5f, 1e-5f));
}

TEST(LayerNormTest, GradCheckInputGammaAndBeta) {
  Rng rng(43);
  Tensor x = Param(Tensor::Randn({3, 5}, rng));
  Tensor gamma = Param(Tensor::Randn({5}, rng));
  Tensor beta = Param(Tensor::Randn({5}, rng));
  auto f = [](const std::vector<Tensor>& in) { return LayerNorm(in[0], in[1], in[2]); };
  EXPECT_TRUE(GradCheck(f, {x, gamma, beta}));
  Tensor x3 = Param(Tensor::Randn({2, 2, 4}, rng));
  Tensor g4 = Param(Tensor::Randn({4}, rng));
  Tensor b4 = Tensor::Randn({4}, rng);  // no grad wanted
  EXPECT_TRUE(GradCheck(f, {x3, g4, b4}));
}

// --- Embedding ------------------------------------------------------------------------

TEST(EmbeddingTest, GathersRows) {
  Tensor w = Tensor::Arange(0, 15).View({5, 3});
  Tensor y = Embedding(w, {1, 3, 1, 1, 0, 4}, {2, 3});
  EXPECT_TRUE(AllClose(y, {2, 3, 3}, {3, 4, 5, 9, 10, 11, 3, 4, 5, 3, 4, 5, 0, 1, 2, 12, 13, 14}));
  EXPECT_TRUE(AllClose(Embedding(w, {2}, {1}), {1, 3}, {6, 7, 8}));
}

TEST(EmbeddingTest, RepeatedIdsAccumulateIntoTheWeightGrad) {
  Tensor w = Param(Tensor::Zeros({5, 2}));
  Tensor g = Tensor::FromVector({1, 2, 10, 20, 100, 200, 1000, 2000}, {4, 2});
  Sum(Embedding(w, {1, 3, 1, 1}, {4}) * g).Backward();
  EXPECT_TRUE(AllClose(w.grad(), {5, 2}, {0, 0, 1101, 2202, 0, 0, 10, 20, 0, 0}));
}

TEST(EmbeddingTest, GradCheck) {
  Rng rng(44);
  Tensor w = Param(Tensor::Randn({5, 3}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return Embedding(in[0], {4, 0, 4, 2, 4, 1}, {3, 2});
      },
      {w}));
}

// --- CausalMask -----------------------------------------------------------------------

// x[..., i, j] stays where j <= i + offset, else -inf.
std::vector<float> ReferenceCausalMask(const Tensor& x, int64_t offset) {
  const int64_t t = x.size(-2), s = x.size(-1);
  std::vector<float> y = x.ToVector();
  for (int64_t idx = 0; idx < x.numel(); ++idx) {
    const int64_t i = (idx / s) % t, j = idx % s;
    if (j > i + offset) y[idx] = -kInf;
  }
  return y;
}

TEST(CausalMaskTest, MasksTheFutureWithMinusInfinity) {
  Rng rng(45);
  Tensor x = Tensor::Randn({2, 3, 3}, rng);
  Tensor y = CausalMask(x, 0);
  EXPECT_TRUE(AllClose(y, {2, 3, 3}, ReferenceCausalMask(x, 0), 0.0f, 0.0f));
  EXPECT_EQ(y.at({0, 0, 1}), -kInf);
  EXPECT_EQ(y.at({1, 1, 2}), -kInf);
  EXPECT_EQ(y.at({1, 2, 2}), x.at({1, 2, 2}));
  // Two new queries against five keys, three of them cached: offset = S - T = 3.
  Tensor q = Tensor::Randn({2, 5}, rng);
  Tensor m = CausalMask(q, 3);
  EXPECT_TRUE(AllClose(m, {2, 5}, ReferenceCausalMask(q, 3), 0.0f, 0.0f));
  EXPECT_EQ(m.at({0, 4}), -kInf);
  EXPECT_EQ(m.at({0, 3}), q.at({0, 3}));
  EXPECT_EQ(m.at({1, 4}), q.at({1, 4}));
  Tensor r = Tensor::Randn({2, 2, 3, 4}, rng);
  EXPECT_TRUE(AllClose(CausalMask(r, 1), r.shape(), ReferenceCausalMask(r, 1), 0.0f, 0.0f));
}

TEST(CausalMaskTest, GradientIsZeroWhereMasked) {
  Rng rng(46);
  Tensor x = Param(Tensor::Randn({2, 3, 4}, rng));
  Tensor g = Tensor::Randn({2, 3, 4}, rng);
  // The loss is -inf, but its gradient is well defined: g where kept, 0 where masked.
  Sum(CausalMask(x, 1) * g).Backward();
  std::vector<float> want = g.ToVector();
  for (int64_t idx = 0; idx < 24; ++idx) {
    if (idx % 4 > (idx / 4) % 3 + 1) want[idx] = 0.0f;
  }
  EXPECT_TRUE(AllClose(x.grad(), {2, 3, 4}, want, 0.0f, 0.0f));
}

TEST(CausalMaskTest, GradCheckThroughSoftmaxAsInAttention) {
  Rng rng(47);
  for (int64_t offset : {0, 2}) {
    Tensor x = Param(Tensor::Randn({2, 3, 3 + offset}, rng));
    EXPECT_TRUE(GradCheck(
        [offset](const std::vector<Tensor>& in) { return Softmax(CausalMask(in[0], offset)); },
        {x}))
        << "offset " << offset;
  }
}

// --- Dropout --------------------------------------------------------------------------

TEST(DropoutTest, ZeroProbabilityIsTheIdentity) {
  Rng rng(48);
  Tensor x = Param(Tensor::Randn({4, 5}, rng));
  Rng drop(1);
  Tensor y = Dropout(x, 0.0f, drop);
  EXPECT_TRUE(AllCloseTensor(y, x, 0.0f, 0.0f));
  Sum(y).Backward();
  EXPECT_TRUE(AllClose(x.grad(), {4, 5}, std::vector<float>(20, 1.0f)));
}

TEST(DropoutTest, HalfKeepsAboutHalfScaledByTwoAndTheGradientFollowsTheMask) {
  Rng rng(49);
  const int64_t n = 10000;
  Tensor x = Param(Tensor::Uniform({100, 100}, rng, 0.5f, 1.5f));  // no zeros of its own
  Rng drop(7);
  Tensor y = Dropout(x, 0.5f, drop);
  Sum(y).Backward();
  int64_t dropped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float xi = x.data()[i], yi = y.data()[i], gi = x.grad().data()[i];
    if (yi == 0.0f) {
      ++dropped;
      ASSERT_EQ(gi, 0.0f) << "element " << i << " was dropped but got gradient";
    } else {
      ASSERT_EQ(yi, 2.0f * xi) << "element " << i;
      ASSERT_EQ(gi, 2.0f) << "element " << i;
    }
  }
  // Binomial(10000, 0.5): stddev 0.005 in the fraction; 0.03 is 6 sigma.
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.5, 0.03);
}

TEST(DropoutTest, OtherProbabilityScalesByOneOverKeep) {
  Rng rng(50);
  Tensor x = Tensor::Uniform({100, 100}, rng, 0.5f, 1.5f);
  Rng drop(8);
  Tensor y = Dropout(x, 0.2f, drop);
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y.data()[i] == 0.0f) {
      ++dropped;
    } else {
      ASSERT_NEAR(y.data()[i], x.data()[i] / 0.8f, 1e-6f) << "element " << i;
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / x.numel(), 0.2, 0.03);
}

TEST(DropoutTest, SameSeedSameMaskOtherSeedOtherMask) {
  Tensor x = Tensor::Ones({1000});
  Rng a(3), b(3), c(4);
  std::vector<float> ya = Dropout(x, 0.5f, a).ToVector();
  EXPECT_EQ(ya, Dropout(x, 0.5f, b).ToVector());
  EXPECT_NE(ya, Dropout(x, 0.5f, c).ToVector());
  // The generator advances: a second call draws a new mask.
  EXPECT_NE(ya, Dropout(x, 0.5f, a).ToVector());
}

TEST(DropoutTest, GradCheckWithAFixedMask) {
  Rng rng(51);
  Tensor x = Param(Tensor::Randn({4, 6}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        Rng drop(11);  // the same mask on every call
        return Dropout(in[0], 0.5f, drop);
      },
      {x}));
}

// --- Losses ---------------------------------------------------------------------------

double ReferenceCrossEntropy(const Tensor& logits, const std::vector<int32_t>& labels) {
  const int64_t n = logits.size(0), c = logits.size(1);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    total += LogSumExp(row, c) - row[labels[i]];  // -log softmax[label]
  }
  return total / n;
}

TEST(CrossEntropyTest, IsTheMeanNegativeLogSoftmaxOfTheLabel) {
  Rng rng(52);
  Tensor logits = Tensor::Randn({4, 5}, rng, 0.0f, 2.0f);
  const std::vector<int32_t> labels = {0, 3, 4, 3};
  Tensor loss = CrossEntropy(logits, labels);
  EXPECT_EQ(loss.shape(), Shape{});
  EXPECT_NEAR(loss.item(), ReferenceCrossEntropy(logits, labels), 1e-5);
  // Uniform logits: log(C).
  EXPECT_NEAR(CrossEntropy(Tensor::Zeros({3, 7}), {0, 6, 2}).item(), std::log(7.0), 1e-6);
}

TEST(CrossEntropyTest, GradCheck) {
  Rng rng(53);
  Tensor logits = Param(Tensor::Randn({4, 5}, rng));
  EXPECT_TRUE(GradCheck(
      [](const std::vector<Tensor>& in) {
        return CrossEntropy(in[0], {0, 3, 4, 3});
      },
      {logits}));
}

TEST(CrossEntropyTest, StableAtHugeLogits) {
  Tensor logits = Param(Tensor::FromVector({1e4f, 1e4f - 1, 1e4f - 2, -1e4f, 0, 1e4f}, {2, 3}));
  const std::vector<int32_t> labels = {2, 0};
  Tensor loss = CrossEntropy(logits, labels);
  ASSERT_TRUE(std::isfinite(loss.item())) << loss.item();
  // Row 0: 2 + log(1 + e^-1 + e^-2); row 1: 2e4 (+ e^-1e4, nothing in float).
  const double row0 = 2.0 + std::log(1.0 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(loss.item(), (row0 + 2e4) / 2, 1e-2);
  loss.Backward();
  // (softmax - onehot) / N.
  const double z = 1.0 + std::exp(-1.0) + std::exp(-2.0);
  EXPECT_TRUE(AllClose(logits.grad(), {2, 3},
                       {static_cast<float>(1 / z / 2), static_cast<float>(std::exp(-1.0) / z / 2),
                        static_cast<float>((std::exp(-2.0) / z - 1) / 2), -0.5f, 0.0f, 0.5f},
                       1e-6f, 1e-5f));
}

TEST(CrossEntropyTest, ExactForTiedLogitsOfAnySize) {
  // Two equal logits: loss log(2) and gradient (-1/2, +1/2) whatever their size. float32
  // holds 1e4 and 1e7 exactly; only the shift by the row max keeps the result exact.
  for (float big : {0.0f, 1e4f, 1e7f}) {
    Tensor logits = Param(Tensor::Full({1, 2}, big));
    Tensor loss = CrossEntropy(logits, {0});
    EXPECT_NEAR(loss.item(), std::log(2.0), 1e-6) << "logits " << big;
    loss.Backward();
    EXPECT_TRUE(AllClose(logits.grad(), {1, 2}, {-0.5f, 0.5f}, 1e-6f, 0.0f)) << "logits " << big;
  }
}

TEST(CrossEntropyDeathTest, LabelOutOfRangeNamesOpAndLabel) {
  Tensor logits = Tensor::Zeros({2, 3});
  EXPECT_DEATH(CrossEntropy(logits, {0, 5}), "[Cc]ross_?[Ee]ntropy.*5");
  EXPECT_DEATH(CrossEntropy(logits, {-1, 0}), "[Cc]ross_?[Ee]ntropy.*-1");
}

TEST(MseLossTest, MeanOfSquaredDifferences) {
  Tensor p = Tensor::FromVector({1, 2, 3, 4}, {2, 2});
  Tensor t = Tensor::FromVector({1, 0, 5, 1}, {2, 2});
  EXPECT_TRUE(AllClose(MseLoss(p, t), {}, {(0 + 4 + 4 + 9) / 4.0f}));
}

TEST(MseLossTest, GradCheckBothSides) {
  Rng rng(54);
  Tensor p = Param(Tensor::Randn({3, 4}, rng));
  Tensor t = Param(Tensor::Randn({3, 4}, rng));
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return MseLoss(in[0], in[1]); }, {p, t}));
  Tensor target = Tensor::Randn({3, 4}, rng);  // the usual case: a constant target
  EXPECT_TRUE(
      GradCheck([](const std::vector<Tensor>& in) { return MseLoss(in[0], in[1]); }, {p, target}));
}

}  // namespace
}  // namespace tt::tensor
