// A seeded short training run on real Fashion-MNIST data: the whole stack (reader,
// loader, model, ops, autograd, optimizer, Fit/Evaluate) must learn, reproducibly.
#include "tensor/train.h"

#include "gtest/gtest.h"
#include "tensor/data_loader.h"
#include "tensor/idx_reader.h"
#include "tensor/models.h"

namespace tt::tensor {
namespace {

struct RunResult {
  std::vector<EpochStats> history;
  EvalResult test;
};

RunResult TrainMlpOnSubset(uint64_t seed) {
  LoadOptions train_opts, test_opts;
  train_opts.limit = 10000;
  test_opts.limit = 2000;
  auto train = LoadFashionMnist(FashionMnistDir(), Split::kTrain, train_opts);
  auto test = LoadFashionMnist(FashionMnistDir(), Split::kTest, test_opts);
  EXPECT_TRUE(train.ok()) << train.status();
  EXPECT_TRUE(test.ok()) << test.status();
  DataLoader::Options opts;
  opts.batch_size = 64;
  opts.mean = kFashionMnistMean;
  opts.stddev = kFashionMnistStddev;
  DataLoader::Options shuffled = opts;
  shuffled.order = DataLoader::Order::kShuffled;
  shuffled.seed = seed;
  auto train_loader = DataLoader::Create(&*train, shuffled);
  auto test_loader = DataLoader::Create(&*test, opts);
  EXPECT_TRUE(train_loader.ok() && test_loader.ok());
  auto model = MakeMlp(MlpConfig{}, seed);
  Adam adam(model->Parameters(), {.lr = 1e-3f});
  FitOptions fit;
  fit.epochs = 2;
  fit.progress = FitOptions::Progress::kNone;
  RunResult r;
  r.history = Fit(*model, adam, *train_loader, fit);
  r.test = Evaluate(*model, *test_loader);
  return r;
}

TEST(TrainTest, SeededSubsetRunLearnsAndIsReproducible) {
  RunResult a = TrainMlpOnSubset(5);
  ASSERT_EQ(a.history.size(), 2u);
  EXPECT_LT(a.history[1].train_loss, a.history[0].train_loss);
  EXPECT_EQ(a.test.examples, 2000);
  EXPECT_GE(a.test.accuracy, 0.80) << "a 2-epoch MLP on 10k images should pass 80%";
  EXPECT_GT(a.history[0].images_per_second, 0.0);

  RunResult b = TrainMlpOnSubset(5);
  EXPECT_EQ(a.history[1].train_loss, b.history[1].train_loss) << "same seed, same run";
  EXPECT_EQ(a.test.accuracy, b.test.accuracy);
}

TEST(TrainTest, AfterStepRunsAfterEveryOptimizerStep) {
  Rng rng(1);
  Dataset d;
  d.images = Tensor::Randn({10, 4}, rng);
  d.labels = std::vector<int32_t>(10, 1);
  DataLoader::Options opts;
  opts.batch_size = 3;  // 4 batches per epoch
  auto loader = DataLoader::Create(&d, opts);
  ASSERT_TRUE(loader.ok());
  auto model = MakeMlp(MlpConfig{{4, 3, 2}}, 1);
  Sgd sgd(model->Parameters(), {.lr = 0.1f});
  Tensor w = (*model->NamedParameters().begin()).second;
  FitOptions fit;
  fit.epochs = 2;
  fit.progress = FitOptions::Progress::kNone;
  int calls = 0;
  fit.after_step = [&] {
    ++calls;
    w.data()[0] = 0.0f;  // e.g. a pruning mask: the weight must stay zero
  };
  Fit(*model, sgd, *loader, fit);
  EXPECT_EQ(calls, 8);
  EXPECT_EQ(w.data()[0], 0.0f);
}

}  // namespace
}  // namespace tt::tensor
