// Distillation: the loss against a hand computation, its gradient against the closed
// form and finite differences, option checks, the teacher left untouched, and a short
// real run on Fashion-MNIST against the same student trained on labels only.
#include "compression/distill.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/idx_reader.h"
#include "tensor/models.h"
#include "tensor/ops.h"

namespace tt::compress {
namespace {

using ::testing::HasSubstr;
using tt::tensor::Adam;
using tt::tensor::DataLoader;
using tt::tensor::Dataset;
using tt::tensor::Linear;
using tt::tensor::Rng;
using tt::tensor::Tensor;

// Softmax of one row at temperature T, in double.
std::vector<double> SoftmaxRow(const std::vector<float>& z, double t) {
  double mx = -1e300;
  for (float v : z) mx = std::max(mx, v / t);
  std::vector<double> out;
  double sum = 0.0;
  for (float v : z) {
    out.push_back(std::exp(v / t - mx));
    sum += out.back();
  }
  for (double& v : out) v /= sum;
  return out;
}

struct Expected {
  double total, soft, hard;
  std::vector<double> grad;  // d total / d student logits, row-major
};

// The definition in distill.h, written out in double.
Expected HandLoss(const std::vector<std::vector<float>>& s, const std::vector<std::vector<float>>& t,
                  const std::vector<int32_t>& labels, double temp, double alpha) {
  const size_t n = s.size(), c = s[0].size();
  Expected e{0, 0, 0, {}};
  for (size_t i = 0; i < n; ++i) {
    const std::vector<double> p = SoftmaxRow(t[i], temp), q = SoftmaxRow(s[i], temp);
    const std::vector<double> q1 = SoftmaxRow(s[i], 1.0);
    for (size_t j = 0; j < c; ++j) e.soft += p[j] * (std::log(p[j]) - std::log(q[j]));
    e.hard -= std::log(q1[static_cast<size_t>(labels[i])]);
    for (size_t j = 0; j < c; ++j) {
      const double onehot = static_cast<int32_t>(j) == labels[i] ? 1.0 : 0.0;
      e.grad.push_back((alpha * temp * (q[j] - p[j]) + (1 - alpha) * (q1[j] - onehot)) / n);
    }
  }
  e.soft *= temp * temp / n;
  e.hard /= n;
  e.total = alpha * e.soft + (1 - alpha) * e.hard;
  return e;
}

Tensor FromRows(const std::vector<std::vector<float>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::FromVector(flat, {static_cast<int64_t>(rows.size()),
                                   static_cast<int64_t>(rows[0].size())});
}

TEST(DistillationLoss, MatchesAHandComputation) {
  const std::vector<std::vector<float>> s = {{1.0f, 2.0f, 0.5f}, {-1.0f, 0.0f, 3.0f}};
  const std::vector<std::vector<float>> t = {{2.0f, 1.0f, -1.0f}, {0.0f, 0.5f, 4.0f}};
  const std::vector<int32_t> labels = {1, 2};
  for (float temp : {1.0f, 2.0f, 4.0f}) {
    for (float alpha : {0.0f, 0.7f, 1.0f}) {
      const Expected e = HandLoss(s, t, labels, temp, alpha);
      Tensor student = FromRows(s).set_requires_grad(true);
      const DistillLoss loss = DistillationLoss(student, FromRows(t), labels, temp, alpha);
      EXPECT_EQ(loss.total.shape(), tt::tensor::Shape{});
      EXPECT_NEAR(loss.soft.item(), e.soft, 1e-5) << "T " << temp;
      EXPECT_NEAR(loss.hard.item(), e.hard, 1e-5);
      EXPECT_NEAR(loss.total.item(), e.total, 1e-5) << "T " << temp << " alpha " << alpha;
      loss.total.Backward();
      const std::vector<float> g = student.grad().ToVector();
      for (size_t i = 0; i < g.size(); ++i) {
        EXPECT_NEAR(g[i], e.grad[i], 1e-6) << "T " << temp << " alpha " << alpha << " i " << i;
      }
    }
  }
}

TEST(DistillationLoss, IsZeroSoftLossWhenStudentEqualsTeacherAndStableForHugeLogits) {
  const std::vector<std::vector<float>> z = {{1.0f, -2.0f, 0.5f}};
  const DistillLoss same = DistillationLoss(FromRows(z), FromRows(z), {0}, 3.0f, 0.5f);
  EXPECT_NEAR(same.soft.item(), 0.0, 1e-6);
  // p underflows to 0 for the small logits: p log p must be 0, not NaN.
  const std::vector<std::vector<float>> big_t = {{1000.0f, -1000.0f, 0.0f}};
  const std::vector<std::vector<float>> big_s = {{-500.0f, 700.0f, 20.0f}};
  const DistillLoss huge = DistillationLoss(FromRows(big_s), FromRows(big_t), {0}, 1.0f, 0.5f);
  EXPECT_TRUE(std::isfinite(huge.total.item()));
  EXPECT_NEAR(huge.soft.item(), 1200.0, 1e-2);  // p = (1, 0, 0), log q_0 = -500 - 700
}

// d total / d (student parameters), by central differences on a Linear student.
TEST(DistillationLoss, GradientThroughAStudentMatchesFiniteDifferences) {
  Rng rng(3);
  Linear student(5, 4, rng);
  const Tensor x = Tensor::Randn({3, 5}, rng);
  const Tensor teacher_logits = Tensor::Randn({3, 4}, rng, 0.0f, 2.0f);
  const std::vector<int32_t> labels = {0, 3, 1};
  auto loss_value = [&] {
    return DistillationLoss(student.Forward(x), teacher_logits, labels, 2.0f, 0.6f).total;
  };
  student.ZeroGrad();
  loss_value().Backward();
  for (Tensor* p : {&student.weight(), &student.bias()}) {
    const std::vector<float> analytic = p->grad().ToVector();
    tt::tensor::NoGradGuard no_grad;
    float* d = p->data();
    for (int64_t i = 0; i < p->numel(); ++i) {
      const float saved = d[i];
      const float eps = 1e-2f;
      d[i] = saved + eps;
      const double plus = loss_value().item();
      d[i] = saved - eps;
      const double minus = loss_value().item();
      d[i] = saved;
      const double numeric = (plus - minus) / (2.0 * eps);
      EXPECT_NEAR(analytic[static_cast<size_t>(i)], numeric, 2e-3 + 1e-2 * std::fabs(numeric))
          << "element " << i;
    }
  }
}

// --- Distill ----------------------------------------------------------------------

Dataset SyntheticData(int64_t n, int64_t d, int32_t classes, uint64_t seed) {
  Rng rng(seed);
  Dataset data;
  data.images = Tensor::Randn({n, d}, rng);
  for (int64_t i = 0; i < n; ++i) data.labels.push_back(static_cast<int32_t>(i % classes));
  return data;
}

TEST(Distill, RejectsBadOptionsAndMismatchedModels) {
  Dataset data = SyntheticData(64, 6, 3, 1);
  auto loader = DataLoader::Create(&data, {});
  ASSERT_TRUE(loader.ok());
  Rng rng(1);
  Linear teacher(6, 3, rng), student(6, 3, rng), wrong(6, 5, rng);
  Adam adam(student.Parameters(), {});
  auto run = [&](DistillOptions o, tt::tensor::Layer& s) {
    o.progress = DistillOptions::Progress::kNone;
    return Distill(teacher, s, adam, *loader, o).status();
  };
  DistillOptions o;
  o.temperature = 0.0f;
  EXPECT_THAT(run(o, student).message(), HasSubstr("DistillOptions.temperature is 0"));
  o.temperature = std::nanf("");
  EXPECT_THAT(run(o, student).message(), HasSubstr("temperature is nan"));
  o = {};
  o.alpha = 1.5f;
  EXPECT_THAT(run(o, student).message(), HasSubstr("DistillOptions.alpha is 1.5"));
  o = {};
  o.epochs = 0;
  EXPECT_THAT(run(o, student).message(), HasSubstr("DistillOptions.epochs is 0"));
  const absl::Status mismatch = run({}, wrong);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message(), HasSubstr("student logits (64, 5) and teacher logits (64, 3)"));
}

TEST(Distill, TrainsTheStudentOnlyAndRestoresTheTeacher) {
  Dataset data = SyntheticData(128, 6, 3, 2);
  DataLoader::Options lo;
  lo.batch_size = 32;
  auto loader = DataLoader::Create(&data, lo);
  ASSERT_TRUE(loader.ok());
  Rng rng(4);
  Linear teacher(6, 3, rng), student(6, 3, rng);
  const std::vector<float> teacher_w = teacher.weight().ToVector();
  const std::vector<float> student_w = student.weight().ToVector();
  teacher.Train();
  Adam adam(student.Parameters(), {});
  DistillOptions options;
  options.epochs = 2;
  options.progress = DistillOptions::Progress::kNone;
  int64_t calls = 0;
  options.after_step = [&] { ++calls; };
  auto history = Distill(teacher, student, adam, *loader, options);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(calls, 8);
  EXPECT_EQ(teacher.weight().ToVector(), teacher_w);
  EXPECT_FALSE(teacher.weight().grad().defined()) << "the teacher runs under NoGradGuard";
  EXPECT_TRUE(teacher.training()) << "mode restored";
  EXPECT_NE(student.weight().ToVector(), student_w);
  for (const DistillEpochStats& e : *history) {
    EXPECT_NEAR(e.train_loss, options.alpha * e.soft_loss + (1 - options.alpha) * e.hard_loss,
                1e-5);
  }
  EXPECT_LT((*history)[1].soft_loss, (*history)[0].soft_loss);
}

// --- Real data ------------------------------------------------------------------------

TEST(DistillFashionMnist, SmallStudentLearnsFromTheTeacher) {
  auto simd = tt::tensor::FindBackend("simd");
  ASSERT_TRUE(simd.ok()) << simd.status();
  tt::tensor::ScopedBackend backend(*simd);
  tt::tensor::LoadOptions train_opts, test_opts;
  train_opts.limit = 10000;
  test_opts.limit = 2000;
  auto train = tt::tensor::LoadFashionMnist(tt::tensor::FashionMnistDir(),
                                            tt::tensor::Split::kTrain, train_opts);
  auto test = tt::tensor::LoadFashionMnist(tt::tensor::FashionMnistDir(),
                                           tt::tensor::Split::kTest, test_opts);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_TRUE(test.ok()) << test.status();
  DataLoader::Options opts;
  opts.batch_size = 64;
  opts.mean = tt::tensor::kFashionMnistMean;
  opts.stddev = tt::tensor::kFashionMnistStddev;
  DataLoader::Options shuffled = opts;
  shuffled.order = DataLoader::Order::kShuffled;
  shuffled.seed = 3;
  auto train_loader = DataLoader::Create(&*train, shuffled);
  auto test_loader = DataLoader::Create(&*test, opts);
  ASSERT_TRUE(train_loader.ok() && test_loader.ok());

  auto teacher = tt::tensor::MakeMlp(tt::tensor::MlpConfig{}, 1);  // 784-256-128-10
  tt::tensor::FitOptions fit;
  fit.epochs = 3;
  fit.progress = tt::tensor::FitOptions::Progress::kNone;
  {
    Adam adam(teacher->Parameters(), {.lr = 1e-3f});
    tt::tensor::Fit(*teacher, adam, *train_loader, fit);
  }
  const double teacher_acc = tt::tensor::Evaluate(*teacher, *test_loader).accuracy;

  // Two students from the same initialization: 784-32-10, 2 epochs = 314 steps each.
  const tt::tensor::MlpConfig small{{784, 32, 10}};
  auto distilled = tt::tensor::MakeMlp(small, 2);
  auto labels_only = tt::tensor::MakeMlp(small, 2);
  DistillOptions options;
  options.epochs = 2;
  options.progress = DistillOptions::Progress::kNone;
  auto before = EvaluateDistillation(*teacher, *distilled, *test_loader, options);
  ASSERT_TRUE(before.ok()) << before.status();
  std::vector<DistillEpochStats> history;
  {
    Adam adam(distilled->Parameters(), {.lr = 1e-3f});
    auto h = Distill(*teacher, *distilled, adam, *train_loader, options, &*test_loader);
    ASSERT_TRUE(h.ok()) << h.status();
    history = *h;
  }
  auto after = EvaluateDistillation(*teacher, *distilled, *test_loader, options);
  ASSERT_TRUE(after.ok()) << after.status();
  {
    Adam adam(labels_only->Parameters(), {.lr = 1e-3f});
    fit.epochs = 2;
    tt::tensor::Fit(*labels_only, adam, *train_loader, fit);
  }
  const double labels_acc = tt::tensor::Evaluate(*labels_only, *test_loader).accuracy;

  std::printf("teacher 784-256-128-10 (3 epochs on 10k): test acc %.4f\n", teacher_acc);
  std::printf("student 784-32-10, 2 epochs, T %.0f alpha %.1f: distilled %.4f, labels only %.4f "
              "(%+.2f points)\n",
              options.temperature, options.alpha, after->student_accuracy, labels_acc,
              100.0 * (after->student_accuracy - labels_acc));
  std::printf("held-out soft loss %.4f -> %.4f, agreement with teacher %.4f -> %.4f\n",
              before->soft_loss, after->soft_loss, before->agreement, after->agreement);

  // Robust checks: it learns, it moves towards the teacher, and it is not clearly worse
  // than label training (2000 test images: one standard error is ~0.9 points).
  EXPECT_GT(after->student_accuracy, 0.75);
  EXPECT_LT(after->soft_loss, 0.5 * before->soft_loss);
  EXPECT_GT(after->agreement, before->agreement);
  EXPECT_LT(history[1].soft_loss, history[0].soft_loss);
  EXPECT_NEAR(history[1].validation.accuracy, after->student_accuracy, 1e-9);
  EXPECT_GT(after->student_accuracy, labels_acc - 0.03);
}

}  // namespace
}  // namespace tt::compress
