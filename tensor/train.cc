#include "tensor/train.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t CountCorrect(const Tensor& logits, const std::vector<int32_t>& labels) {
  const std::vector<int32_t> predicted = ArgMaxRows(logits);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

std::string FormatEta(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

EvalResult Evaluate(Layer& model, DataLoader& loader) {
  const bool was_training = model.training();
  model.Eval();
  NoGradGuard no_grad;
  const auto start = Clock::now();
  EvalResult result;
  double loss_sum = 0.0;
  int64_t correct = 0;
  loader.StartEpoch(0);
  DataLoader::Batch batch;
  while (loader.Next(&batch)) {
    Tensor logits = model.Forward(batch.images);
    const int64_t n = static_cast<int64_t>(batch.labels.size());
    loss_sum += CrossEntropy(logits, batch.labels).item() * n;
    correct += CountCorrect(logits, batch.labels);
    result.examples += n;
  }
  if (result.examples > 0) {
    result.loss = loss_sum / result.examples;
    result.accuracy = static_cast<double>(correct) / result.examples;
  }
  result.seconds = SecondsSince(start);
  if (was_training) model.Train();
  return result;
}

std::vector<EpochStats> Fit(Layer& model, Optimizer& optimizer, DataLoader& train,
                            const FitOptions& options, DataLoader* validation) {
  FitOptions::Progress progress = options.progress;
  if (progress == FitOptions::Progress::kAuto) {
    progress = isatty(fileno(stderr)) ? FitOptions::Progress::kBar : FitOptions::Progress::kLines;
  }
  const int64_t batches = train.num_batches();
  const int64_t line_every =
      std::max<int64_t>(1, batches / std::max<int64_t>(1, options.lines_per_epoch));
  std::vector<EpochStats> history;
  int64_t step = optimizer.steps();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    model.Train();
    train.StartEpoch(epoch);
    EpochStats stats;
    stats.epoch = epoch;
    double loss_sum = 0.0;
    int64_t correct = 0, seen = 0, b = 0;
    const auto start = Clock::now();
    DataLoader::Batch batch;
    while (train.Next(&batch)) {
      if (options.schedule != nullptr) optimizer.set_lr(options.schedule->LrAt(step));
      Tensor logits = model.Forward(batch.images);
      Tensor loss = CrossEntropy(logits, batch.labels);
      optimizer.ZeroGrad();
      loss.Backward();
      optimizer.Step();
      if (options.after_step) options.after_step();
      ++step;
      ++b;
      const int64_t n = static_cast<int64_t>(batch.labels.size());
      loss_sum += loss.item();
      correct += CountCorrect(logits, batch.labels);
      seen += n;
      const double elapsed = SecondsSince(start);
      const double ips = seen / std::max(elapsed, 1e-9);
      const double eta = elapsed / b * (batches - b);
      if (progress == FitOptions::Progress::kBar) {
        constexpr int kWidth = 24;
        const int filled = static_cast<int>(kWidth * b / std::max<int64_t>(1, batches));
        std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %s ",
                     static_cast<long long>(epoch + 1), static_cast<long long>(options.epochs),
                     std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                     static_cast<long long>(b), static_cast<long long>(batches), loss_sum / b,
                     static_cast<double>(correct) / seen, ips, FormatEta(eta).c_str());
      } else if (progress == FitOptions::Progress::kLines && (b % line_every == 0 || b == batches)) {
        std::fprintf(stderr, "epoch %lld/%lld batch %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %s\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(options.epochs),
                     static_cast<long long>(b), static_cast<long long>(batches), loss_sum / b,
                     static_cast<double>(correct) / seen, ips, FormatEta(eta).c_str());
      }
    }
    stats.seconds = SecondsSince(start);
    stats.train_loss = b > 0 ? loss_sum / b : 0.0;
    stats.train_accuracy = seen > 0 ? static_cast<double>(correct) / seen : 0.0;
    stats.images_per_second = seen / std::max(stats.seconds, 1e-9);
    stats.learning_rate = optimizer.lr();
    if (progress == FitOptions::Progress::kBar) std::fprintf(stderr, "\n");
    if (validation != nullptr) {
      stats.validation = Evaluate(model, *validation);
      if (progress != FitOptions::Progress::kNone) {
        std::fprintf(stderr, "epoch %lld: train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s, %.0f img/s\n",
                     static_cast<long long>(epoch + 1), stats.train_loss, stats.train_accuracy,
                     stats.validation.loss, stats.validation.accuracy, stats.seconds,
                     stats.images_per_second);
      }
    }
    history.push_back(stats);
  }
  return history;
}

}  // namespace tt::tensor
