// Training and evaluation loops for the image classifiers.
//
//   Adam opt(model->Parameters(), {.lr = 1e-3f});
//   FitOptions options;
//   options.epochs = 5;
//   std::vector<EpochStats> history = Fit(*model, opt, train_loader, options, &test_loader);
//   EvalResult test = Evaluate(*model, test_loader);   // accuracy in [0, 1]
//
// Progress goes to stderr: a live bar (epoch, batch, loss, accuracy, images/s, ETA) when
// stderr is a terminal, plain periodic lines otherwise (CI logs stay readable).
#ifndef TT_TENSOR_TRAIN_H_
#define TT_TENSOR_TRAIN_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/data_loader.h"
#include "tensor/nn.h"
#include "tensor/optim.h"

namespace tt::tensor {

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy
  double accuracy = 0.0;  // fraction correct, 0-1
  int64_t examples = 0;
  double seconds = 0.0;
};

// Runs the model in eval mode without recording gradients; restores the mode after.
EvalResult Evaluate(Layer& model, DataLoader& loader);

struct EpochStats {
  int64_t epoch = 0;
  double train_loss = 0.0;      // mean over the epoch's batches
  double train_accuracy = 0.0;  // on the batches as trained (dropout on)
  double seconds = 0.0;         // training time, evaluation excluded
  double images_per_second = 0.0;
  double learning_rate = 0.0;   // at the epoch's last step
  EvalResult validation;        // when a validation loader was given
};

struct FitOptions {
  enum class Progress { kAuto, kBar, kLines, kNone };
  int64_t epochs = 1;
  const LrSchedule* schedule = nullptr;  // per step; nullptr keeps the optimizer's lr
  Progress progress = Progress::kAuto;   // kAuto: a bar on a terminal, else lines
  int64_t lines_per_epoch = 10;          // with kLines
  // Called after every optimizer step, e.g. to re-apply pruning masks so that pruned
  // weights stay zero while the others train. Empty: nothing.
  std::function<void()> after_step;
};

// Trains with cross-entropy, one optimizer step per batch.
std::vector<EpochStats> Fit(Layer& model, Optimizer& optimizer, DataLoader& train,
                            const FitOptions& options, DataLoader* validation = nullptr);

}  // namespace tt::tensor

#endif  // TT_TENSOR_TRAIN_H_
