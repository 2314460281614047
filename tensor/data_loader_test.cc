#include "tensor/data_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/idx_reader.h"
#include "tensor/tensor.h"

namespace tt::tensor {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// n examples of d values; example i holds i * d + k at position k, so a batch row tells
// which example it came from. Label i % 10.
Dataset MakeDataset(int64_t n, int64_t d) {
  Dataset data;
  data.images = Tensor::Empty({n, d});
  float* p = data.images.data();
  for (int64_t k = 0; k < n * d; ++k) p[k] = static_cast<float>(k);
  for (int64_t i = 0; i < n; ++i) data.labels.push_back(static_cast<int32_t>(i % 10));
  return data;
}

DataLoader::Options WithBatch(int64_t batch_size) {
  DataLoader::Options options;
  options.batch_size = batch_size;
  return options;
}

DataLoader::Options Shuffled(int64_t batch_size, uint64_t seed) {
  DataLoader::Options options = WithBatch(batch_size);
  options.order = DataLoader::Order::kShuffled;
  options.seed = seed;
  return options;
}

// The dataset index of every row of every batch of the current epoch, in order; checks
// on the way that each row and label match that example.
std::vector<int64_t> DrainEpoch(DataLoader& loader, int64_t d,
                                std::vector<int64_t>* batch_sizes = nullptr) {
  std::vector<int64_t> seen;
  DataLoader::Batch batch;
  while (loader.Next(&batch)) {
    const int64_t b = batch.images.size(0);
    EXPECT_EQ(static_cast<int64_t>(batch.labels.size()), b);
    if (batch_sizes != nullptr) batch_sizes->push_back(b);
    const float* p = batch.images.data();
    for (int64_t row = 0; row < b; ++row) {
      const int64_t index = static_cast<int64_t>(p[row * d]) / d;
      for (int64_t k = 0; k < d; ++k) {
        EXPECT_EQ(p[row * d + k], static_cast<float>(index * d + k));
      }
      EXPECT_EQ(batch.labels[row], index % 10);
      seen.push_back(index);
    }
  }
  return seen;
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

TEST(DataLoaderTest, SequentialKeepsTheLastPartialBatch) {
  const Dataset data = MakeDataset(10, 3);
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, WithBatch(4));
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ(loader->num_batches(), 3);
  EXPECT_EQ(loader->num_examples(), 10);
  std::vector<int64_t> sizes;
  EXPECT_EQ(DrainEpoch(*loader, 3, &sizes), Iota(10));
  EXPECT_THAT(sizes, ElementsAre(4, 4, 2));
  DataLoader::Batch batch;
  EXPECT_FALSE(loader->Next(&batch));  // stays over until StartEpoch
  loader->StartEpoch(1);
  EXPECT_EQ(DrainEpoch(*loader, 3), Iota(10));  // sequential: every epoch the same
}

TEST(DataLoaderTest, DropSkipsTheLastPartialBatch) {
  const Dataset data = MakeDataset(10, 3);
  DataLoader::Options options = WithBatch(4);
  options.last_batch = DataLoader::LastBatch::kDrop;
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ(loader->num_batches(), 2);
  std::vector<int64_t> sizes;
  EXPECT_EQ(DrainEpoch(*loader, 3, &sizes), Iota(8));
  EXPECT_THAT(sizes, ElementsAre(4, 4));
}

TEST(DataLoaderTest, ExactMultipleHasNoPartialBatch) {
  const Dataset data = MakeDataset(12, 2);
  for (DataLoader::LastBatch last : {DataLoader::LastBatch::kKeep, DataLoader::LastBatch::kDrop}) {
    DataLoader::Options options = WithBatch(4);
    options.last_batch = last;
    absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, options);
    ASSERT_TRUE(loader.ok()) << loader.status();
    EXPECT_EQ(loader->num_batches(), 3);
    std::vector<int64_t> sizes;
    DrainEpoch(*loader, 2, &sizes);
    EXPECT_THAT(sizes, ElementsAre(4, 4, 4));
  }
}

TEST(DataLoaderTest, ShuffleVisitsEveryExampleOncePerEpoch) {
  const Dataset data = MakeDataset(103, 5);
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, Shuffled(16, 7));
  ASSERT_TRUE(loader.ok()) << loader.status();
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader->StartEpoch(epoch);
    std::vector<int64_t> seen = DrainEpoch(*loader, 5);
    EXPECT_EQ(seen, loader->epoch_order());
    EXPECT_NE(seen, Iota(103)) << "epoch " << epoch << " was not shuffled";
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, Iota(103)) << "epoch " << epoch;
  }
}

TEST(DataLoaderTest, ShuffleIsDeterministic) {
  const Dataset data = MakeDataset(50, 2);
  absl::StatusOr<DataLoader> a = DataLoader::Create(&data, Shuffled(8, 42));
  absl::StatusOr<DataLoader> b = DataLoader::Create(&data, Shuffled(8, 42));
  absl::StatusOr<DataLoader> other_seed = DataLoader::Create(&data, Shuffled(8, 43));
  ASSERT_TRUE(a.ok() && b.ok() && other_seed.ok());

  const std::vector<int64_t> a0 = DrainEpoch(*a, 2);
  EXPECT_EQ(a0, DrainEpoch(*b, 2));           // same seed, same order
  EXPECT_NE(a0, DrainEpoch(*other_seed, 2));  // another seed, another order

  a->StartEpoch(1);
  const std::vector<int64_t> a1 = DrainEpoch(*a, 2);
  EXPECT_NE(a0, a1);  // each epoch its own order

  // Epoch 1 depends only on (seed, 1): jumping straight to it gives the same order,
  // and replaying epoch 0 afterwards gives epoch 0's order again.
  b->StartEpoch(5);
  b->StartEpoch(1);
  EXPECT_EQ(DrainEpoch(*b, 2), a1);
  a->StartEpoch(0);
  EXPECT_EQ(DrainEpoch(*a, 2), a0);
}

TEST(DataLoaderTest, ShuffledFirstOrderIsFixed) {
  // Pins the order itself, so a change to the shuffle or the seeding (which would change
  // every training run's results) shows up here.
  const Dataset data = MakeDataset(8, 1);
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, Shuffled(8, 1));
  ASSERT_TRUE(loader.ok()) << loader.status();
  const std::vector<int64_t> first = loader->epoch_order();
  absl::StatusOr<DataLoader> again = DataLoader::Create(&data, Shuffled(8, 1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->epoch_order(), first);
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, Iota(8));
}

TEST(DataLoaderTest, Normalization) {
  const Dataset data = MakeDataset(3, 4);
  DataLoader::Options options = WithBatch(3);
  options.mean = 2.5f;
  options.stddev = 0.5f;
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  DataLoader::Batch batch;
  ASSERT_TRUE(loader->Next(&batch));
  ASSERT_EQ(batch.images.shape(), (Shape{3, 4}));
  const std::vector<float> values = batch.images.ToVector();
  for (int64_t k = 0; k < 12; ++k) {
    EXPECT_FLOAT_EQ(values[k], (static_cast<float>(k) - 2.5f) / 0.5f) << k;
  }
  EXPECT_THAT(batch.labels, ElementsAre(0, 1, 2));
}

TEST(DataLoaderTest, ExampleShape) {
  const Dataset data = MakeDataset(5, 6);
  DataLoader::Options options = WithBatch(2);
  options.example_shape = {1, 2, 3};
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, options);
  ASSERT_TRUE(loader.ok()) << loader.status();
  DataLoader::Batch batch;
  ASSERT_TRUE(loader->Next(&batch));
  EXPECT_EQ(batch.images.shape(), (Shape{2, 1, 2, 3}));
  EXPECT_EQ(batch.images.at({1, 0, 1, 2}), 6.0f + 5.0f);  // example 1, value k = 5
  ASSERT_TRUE(loader->Next(&batch));
  ASSERT_TRUE(loader->Next(&batch));
  EXPECT_EQ(batch.images.shape(), (Shape{1, 1, 2, 3}));  // the partial last batch
  EXPECT_THAT(batch.images.ToVector(), ElementsAreArray({24.f, 25.f, 26.f, 27.f, 28.f, 29.f}));
}

TEST(DataLoaderTest, BatchesDoNotShareMemory) {
  const Dataset data = MakeDataset(4, 2);
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, WithBatch(2));
  ASSERT_TRUE(loader.ok()) << loader.status();
  DataLoader::Batch first, second;
  ASSERT_TRUE(loader->Next(&first));
  const std::vector<float> first_values = first.images.ToVector();
  ASSERT_TRUE(loader->Next(&second));
  EXPECT_FALSE(first.images.SharesStorageWith(second.images));
  EXPECT_FALSE(first.images.SharesStorageWith(data.images));
  EXPECT_EQ(first.images.ToVector(), first_values);
}

// --- Errors ---------------------------------------------------------------------------

void ExpectInvalid(const Dataset* data, const DataLoader::Options& options,
                   const std::string& message) {
  absl::StatusOr<DataLoader> loader = DataLoader::Create(data, options);
  EXPECT_EQ(loader.status().code(), absl::StatusCode::kInvalidArgument) << message;
  EXPECT_THAT(loader.status().message(), HasSubstr(message));
}

TEST(DataLoaderTest, BadOptions) {
  const Dataset data = MakeDataset(10, 6);
  ExpectInvalid(&data, WithBatch(0), "batch_size must be positive, got 0");
  ExpectInvalid(&data, WithBatch(-3), "batch_size must be positive, got -3");

  DataLoader::Options options = WithBatch(2);
  options.stddev = 0.0f;
  ExpectInvalid(&data, options, "stddev > 0, got mean 0 stddev 0");
  options.stddev = -1.0f;
  ExpectInvalid(&data, options, "stddev > 0");
  options.stddev = std::numeric_limits<float>::quiet_NaN();
  ExpectInvalid(&data, options, "stddev > 0");
  options.stddev = 1.0f;
  options.mean = std::numeric_limits<float>::infinity();
  ExpectInvalid(&data, options, "finite mean");

  options = WithBatch(2);
  options.example_shape = {2, 2};
  ExpectInvalid(&data, options, "example_shape (2, 2) does not hold one example of 6");
  options.example_shape = {3, 0, 2};
  ExpectInvalid(&data, options, "has a non-positive dim");
  options.example_shape = {int64_t{1} << 40, int64_t{1} << 40};  // would overflow
  ExpectInvalid(&data, options, "does not hold one example of 6");

  options = WithBatch(11);
  options.last_batch = DataLoader::LastBatch::kDrop;
  ExpectInvalid(&data, options, "would yield no batch");
  options.last_batch = DataLoader::LastBatch::kKeep;
  absl::StatusOr<DataLoader> one_batch = DataLoader::Create(&data, options);
  ASSERT_TRUE(one_batch.ok()) << one_batch.status();
  EXPECT_EQ(one_batch->num_batches(), 1);
}

TEST(DataLoaderTest, BadDatasets) {
  ExpectInvalid(nullptr, WithBatch(2), "the dataset is null");

  const Dataset empty = MakeDataset(0, 4);
  ExpectInvalid(&empty, WithBatch(2), "empty dataset");

  Dataset undefined;
  ExpectInvalid(&undefined, WithBatch(2), "an undefined tensor");

  Dataset flat;
  flat.images = Tensor::Zeros({6});
  flat.labels = {0, 1, 2, 3, 4, 5};
  ExpectInvalid(&flat, WithBatch(2), "images must be a 2-D (N, D) tensor, got (6)");

  Dataset mismatched = MakeDataset(4, 2);
  mismatched.labels.pop_back();
  ExpectInvalid(&mismatched, WithBatch(2), "4 images but 3 labels");
}

TEST(DataLoaderDeathTest, NegativeEpoch) {
  const Dataset data = MakeDataset(4, 2);
  absl::StatusOr<DataLoader> loader = DataLoader::Create(&data, WithBatch(2));
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_DEATH(loader->StartEpoch(-1), "epoch must be >= 0, got -1");
}

}  // namespace
}  // namespace tt::tensor
