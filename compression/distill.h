// Knowledge distillation (Hinton, Vinyals & Dean 2015): train a small student to match a
// trained teacher's softened output distribution as well as the labels.
//
//   auto teacher = LoadClassifier("cnn.ttm").value().model;   // trained
//   auto student = MakeMlp(MlpConfig{{784, 64, 10}}, 1);
//   Adam opt(student->Parameters(), {.lr = 1e-3f});
//   DistillOptions options;                      // T = 4, alpha = 0.7
//   TT_ASSIGN_OR_RETURN(auto history,
//                       Distill(*teacher, *student, opt, train_loader, options, &test_loader));
//
// Why it helps: a label says only "this is a shirt"; the teacher's probabilities also say
// "and it looks a bit like a pullover, not at all like a boot". Those small probabilities
// ("dark knowledge") are invisible at T = 1, where the top class takes almost all the
// mass, so both logit vectors are divided by a temperature T > 1 before the softmax.
//
// The loss, for a batch of N examples with logits s (student) and t (teacher), (N, C):
//
//   p = softmax(t / T),  q = softmax(s / T)                    (rows, along C)
//   soft = T^2 * (1/N) * sum_n KL(p_n || q_n),   KL(p || q) = sum_c p_c (log p_c - log q_c)
//   hard = CrossEntropy(s, labels)                              (mean over the batch, T = 1)
//   loss = alpha * soft + (1 - alpha) * hard
//
// Why T^2: d KL / d s_c = (q_c - p_c) / T, and for large T, q - p ~ (s - t) / (C T), so
// the KL term's gradient fades like 1/T^2; the factor T^2 keeps it on the same scale as
// the hard term's whatever T is. log q comes from LogSoftmax (stable for any logits);
// p * log p is 0 where p underflows (LogSoftmax is finite there), never NaN. The loss is
// built from tensor's autograd ops (LogSoftmax, Softmax, Sub, Mul, Sum, CrossEntropy),
// so it backpropagates into the student; the teacher runs in eval mode under
// NoGradGuard and receives nothing.
#ifndef TT_COMPRESSION_DISTILL_H_
#define TT_COMPRESSION_DISTILL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/data_loader.h"
#include "tensor/nn.h"
#include "tensor/optim.h"
#include "tensor/tensor.h"
#include "tensor/train.h"

namespace tt::compress {

struct DistillOptions {
  float temperature = 4.0f;  // T > 0
  float alpha = 0.7f;        // weight of the soft loss, in [0, 1]; 0 = labels only
  int64_t epochs = 1;        // >= 1
  const tt::tensor::LrSchedule* schedule = nullptr;  // per step; nullptr keeps the lr
  // Called after every optimizer step, as in tensor::FitOptions (e.g. pruning masks, to
  // distill into a pruned student).
  std::function<void()> after_step;
  enum class Progress { kLines, kNone };
  Progress progress = Progress::kLines;  // kLines: a few lines per epoch on stderr
  int64_t lines_per_epoch = 10;
};

// The loss terms of one batch, each a scalar tensor (shape ()). total and soft record
// autograd history when the student logits require a gradient.
struct DistillLoss {
  tt::tensor::Tensor total;  // alpha * soft + (1 - alpha) * hard
  tt::tensor::Tensor soft;   // T^2 * mean KL(softmax(t/T) || softmax(s/T))
  tt::tensor::Tensor hard;   // mean cross-entropy of the student against the labels
};

// student_logits, teacher_logits: (N, C), N >= 1; labels: N values in [0, C). Shape
// mismatches and T <= 0 are contract violations (TT_CHECK). The teacher's logits are
// treated as constants (detached).
DistillLoss DistillationLoss(const tt::tensor::Tensor& student_logits,
                             const tt::tensor::Tensor& teacher_logits,
                             const std::vector<int32_t>& labels, float temperature, float alpha);

// tensor::EpochStats (train_loss = mean total loss, train_accuracy of the student on the
// batches as trained, validation = tensor::Evaluate of the student) plus the two terms.
struct DistillEpochStats : tt::tensor::EpochStats {
  double soft_loss = 0.0;  // mean over the epoch's batches
  double hard_loss = 0.0;
};

// Trains `student` with `optimizer` (which must hold the student's parameters) on the
// distillation loss, one step per batch of `train`, epochs as in tensor::Fit (epoch e
// replays the loader's epoch e). The teacher's mode is restored afterwards; the student
// is left in training mode. Errors (InvalidArgument): options out of range (named), or
// teacher and student logits of different shapes on the first batch.
absl::StatusOr<std::vector<DistillEpochStats>> Distill(tt::tensor::Layer& teacher,
                                                       tt::tensor::Layer& student,
                                                       tt::tensor::Optimizer& optimizer,
                                                       tt::tensor::DataLoader& train,
                                                       const DistillOptions& options,
                                                       tt::tensor::DataLoader* validation = nullptr);

// The loss terms averaged over one pass of `loader` (epoch 0 of its order) with both
// models in eval mode and no gradients; modes are restored. For measuring how closely a
// student follows its teacher on held-out data. Same errors as Distill.
struct DistillEval {
  double total_loss = 0.0;
  double soft_loss = 0.0;
  double hard_loss = 0.0;
  double student_accuracy = 0.0;
  double agreement = 0.0;  // fraction of examples where student and teacher pick the same class
  int64_t examples = 0;
};
absl::StatusOr<DistillEval> EvaluateDistillation(tt::tensor::Layer& teacher,
                                                 tt::tensor::Layer& student,
                                                 tt::tensor::DataLoader& loader,
                                                 const DistillOptions& options);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_DISTILL_H_
