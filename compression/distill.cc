#include "compression/distill.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tensor/autograd.h"
#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::compress {
namespace {

// The ops the loss is built from (tensor/ops.h).
using tt::tensor::Add;
using tt::tensor::CrossEntropy;
using tt::tensor::LogSoftmax;
using tt::tensor::Mul;
using tt::tensor::MulScalar;
using tt::tensor::Softmax;
using tt::tensor::Sub;
using tt::tensor::Sum;

using tt::tensor::DataLoader;
using tt::tensor::Layer;
using tt::tensor::NoGradGuard;
using tt::tensor::ShapeToString;
using tt::tensor::Tensor;

using Clock = std::chrono::steady_clock;

absl::Status CheckOptions(const DistillOptions& options) {
  if (!std::isfinite(options.temperature) || options.temperature <= 0.0f) {
    return absl::InvalidArgumentError(absl::StrCat("DistillOptions.temperature is ",
                                                   options.temperature, "; it must be > 0"));
  }
  if (!std::isfinite(options.alpha) || options.alpha < 0.0f || options.alpha > 1.0f) {
    return absl::InvalidArgumentError(
        absl::StrCat("DistillOptions.alpha is ", options.alpha, "; it must be in [0, 1]"));
  }
  if (options.epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DistillOptions.epochs is ", options.epochs, "; it must be >= 1"));
  }
  return absl::OkStatus();
}

absl::Status CheckLogits(const Tensor& student, const Tensor& teacher) {
  if (student.dim() != 2 || student.shape() != teacher.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Distill: student logits ", ShapeToString(student.shape()),
        " and teacher logits ", ShapeToString(teacher.shape()),
        " must both be (N, C) with the same C"));
  }
  return absl::OkStatus();
}

int64_t CountEqual(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] == b[i];
  return n;
}

// Restores a module's train/eval mode when it goes out of scope.
class ModeRestorer {
 public:
  explicit ModeRestorer(Layer& layer) : layer_(layer), training_(layer.training()) {}
  ~ModeRestorer() { training_ ? layer_.Train() : layer_.Eval(); }

 private:
  Layer& layer_;
  bool training_;
};

Tensor TeacherLogits(Layer& teacher, const Tensor& images) {
  NoGradGuard no_grad;
  return teacher.Forward(images);
}

}  // namespace

DistillLoss DistillationLoss(const Tensor& student_logits, const Tensor& teacher_logits,
                             const std::vector<int32_t>& labels, float temperature, float alpha) {
  TT_CHECK(student_logits.dim() == 2 && student_logits.shape() == teacher_logits.shape(),
           "DistillationLoss: student logits ", ShapeToString(student_logits.shape()),
           " and teacher logits ", ShapeToString(teacher_logits.shape()),
           " must both be (N, C)");
  TT_CHECK(student_logits.size(0) >= 1, "DistillationLoss: empty batch");
  TT_CHECK(temperature > 0.0f && std::isfinite(temperature), "DistillationLoss: temperature ",
           temperature, " must be > 0");
  const int64_t n = student_logits.size(0);
  const float inv_t = 1.0f / temperature;

  // The teacher's side is a constant: p and log p, both (N, C).
  Tensor p, log_p;
  {
    NoGradGuard no_grad;
    Tensor scaled = MulScalar(teacher_logits.Detach(), inv_t);
    p = Softmax(scaled);
    log_p = LogSoftmax(scaled);
  }
  Tensor log_q = LogSoftmax(MulScalar(student_logits, inv_t));  // (N, C), recorded
  // T^2 / N * sum_{n,c} p (log p - log q): one scale folds T^2 and the batch mean.
  Tensor kl_sum = Sum(Mul(p, Sub(log_p, log_q)));
  DistillLoss loss;
  loss.soft = MulScalar(kl_sum, temperature * temperature / static_cast<float>(n));
  loss.hard = CrossEntropy(student_logits, labels);
  loss.total = Add(MulScalar(loss.soft, alpha), MulScalar(loss.hard, 1.0f - alpha));
  return loss;
}

absl::StatusOr<std::vector<DistillEpochStats>> Distill(Layer& teacher, Layer& student,
                                                       tt::tensor::Optimizer& optimizer,
                                                       DataLoader& train,
                                                       const DistillOptions& options,
                                                       DataLoader* validation) {
  TT_RETURN_IF_ERROR(CheckOptions(options));
  ModeRestorer restore_teacher(teacher);
  teacher.Eval();
  const int64_t batches = train.num_batches();
  const int64_t line_every =
      std::max<int64_t>(1, batches / std::max<int64_t>(1, options.lines_per_epoch));
  std::vector<DistillEpochStats> history;
  int64_t step = optimizer.steps();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    student.Train();
    train.StartEpoch(epoch);
    DistillEpochStats stats;
    stats.epoch = epoch;
    double total_sum = 0.0, soft_sum = 0.0, hard_sum = 0.0;
    int64_t correct = 0, seen = 0, b = 0;
    const auto start = Clock::now();
    DataLoader::Batch batch;
    while (train.Next(&batch)) {
      if (options.schedule != nullptr) optimizer.set_lr(options.schedule->LrAt(step));
      const Tensor teacher_logits = TeacherLogits(teacher, batch.images);
      Tensor logits = student.Forward(batch.images);
      if (seen == 0) TT_RETURN_IF_ERROR(CheckLogits(logits, teacher_logits));
      DistillLoss loss = DistillationLoss(logits, teacher_logits, batch.labels,
                                          options.temperature, options.alpha);
      optimizer.ZeroGrad();
      loss.total.Backward();
      optimizer.Step();
      if (options.after_step) options.after_step();
      ++step;
      ++b;
      total_sum += loss.total.item();
      soft_sum += loss.soft.item();
      hard_sum += loss.hard.item();
      correct += CountEqual(tt::tensor::ArgMaxRows(logits), batch.labels);
      seen += static_cast<int64_t>(batch.labels.size());
      if (options.progress == DistillOptions::Progress::kLines &&
          (b % line_every == 0 || b == batches)) {
        std::fprintf(stderr,
                     "distill epoch %lld/%lld batch %lld/%lld loss %.4f (soft %.4f hard %.4f) "
                     "acc %.3f\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(options.epochs),
                     static_cast<long long>(b), static_cast<long long>(batches), total_sum / b,
                     soft_sum / b, hard_sum / b, static_cast<double>(correct) / seen);
      }
    }
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (b > 0) {
      stats.train_loss = total_sum / b;
      stats.soft_loss = soft_sum / b;
      stats.hard_loss = hard_sum / b;
    }
    stats.train_accuracy = seen > 0 ? static_cast<double>(correct) / seen : 0.0;
    stats.images_per_second = seen / std::max(stats.seconds, 1e-9);
    stats.learning_rate = optimizer.lr();
    if (validation != nullptr) {
      stats.validation = tt::tensor::Evaluate(student, *validation);
      if (options.progress == DistillOptions::Progress::kLines) {
        std::fprintf(stderr, "distill epoch %lld: val loss %.4f acc %.4f | %.1f s\n",
                     static_cast<long long>(epoch + 1), stats.validation.loss,
                     stats.validation.accuracy, stats.seconds);
      }
    }
    history.push_back(stats);
  }
  return history;
}

absl::StatusOr<DistillEval> EvaluateDistillation(Layer& teacher, Layer& student,
                                                 DataLoader& loader,
                                                 const DistillOptions& options) {
  TT_RETURN_IF_ERROR(CheckOptions(options));
  ModeRestorer restore_teacher(teacher);
  ModeRestorer restore_student(student);
  teacher.Eval();
  student.Eval();
  NoGradGuard no_grad;
  DistillEval result;
  double total = 0.0, soft = 0.0, hard = 0.0;
  int64_t correct = 0, agree = 0;
  loader.StartEpoch(0);
  DataLoader::Batch batch;
  while (loader.Next(&batch)) {
    const Tensor t = teacher.Forward(batch.images);
    const Tensor s = student.Forward(batch.images);
    if (result.examples == 0) TT_RETURN_IF_ERROR(CheckLogits(s, t));
    const DistillLoss loss =
        DistillationLoss(s, t, batch.labels, options.temperature, options.alpha);
    const int64_t n = static_cast<int64_t>(batch.labels.size());
    // Batch means weighted by batch size: an exact mean over examples.
    total += loss.total.item() * n;
    soft += loss.soft.item() * n;
    hard += loss.hard.item() * n;
    const std::vector<int32_t> predicted = tt::tensor::ArgMaxRows(s);
    correct += CountEqual(predicted, batch.labels);
    agree += CountEqual(predicted, tt::tensor::ArgMaxRows(t));
    result.examples += n;
  }
  if (result.examples > 0) {
    const double n = static_cast<double>(result.examples);
    result.total_loss = total / n;
    result.soft_loss = soft / n;
    result.hard_loss = hard / n;
    result.student_accuracy = correct / n;
    result.agreement = agree / n;
  }
  return result;
}

}  // namespace tt::compress
