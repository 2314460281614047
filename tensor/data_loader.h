// DataLoader: mini-batches over an in-memory Dataset, in a fixed or shuffled order.
//
// Each batch is one contiguous (B, D) tensor (or (B, example_shape...)) whose rows are
// copied from the dataset and normalized as (x - mean) / stddev. The shuffled order of
// epoch e depends only on (seed, e), so a run is reproducible and any epoch can be
// replayed on its own.
//
//   TT_ASSIGN_OR_RETURN(Dataset train, LoadFashionMnist(FashionMnistDir(), Split::kTrain, {}));
//   DataLoader::Options options;
//   options.batch_size = 32;
//   options.order = DataLoader::Order::kShuffled;
//   options.seed = 42;
//   options.example_shape = {1, 28, 28};  // batches of (32, 1, 28, 28) for a CNN
//   TT_ASSIGN_OR_RETURN(DataLoader loader, DataLoader::Create(&train, options));
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//     loader.StartEpoch(epoch);
//     DataLoader::Batch batch;
//     while (loader.Next(&batch)) Train(batch.images, batch.labels);
//   }
#ifndef TT_TENSOR_DATA_LOADER_H_
#define TT_TENSOR_DATA_LOADER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/idx_reader.h"
#include "tensor/tensor.h"

namespace tt::tensor {

class DataLoader {
 public:
  enum class Order {
    kSequential,  // examples 0, 1, 2, ... every epoch
    kShuffled,    // a fresh permutation per epoch, determined by (seed, epoch)
  };
  enum class LastBatch {
    kKeep,  // the last batch of an epoch may be smaller than batch_size
    kDrop,  // every batch has exactly batch_size examples; the remainder is skipped
  };

  struct Options {
    int64_t batch_size = 64;  // > 0
    Order order = Order::kSequential;
    uint64_t seed = 0;  // used only by Order::kShuffled
    LastBatch last_batch = LastBatch::kKeep;
    // Every batch is (x - mean) / stddev; stddev > 0. The defaults leave it unchanged.
    float mean = 0.0f;
    float stddev = 1.0f;
    // The shape of one example inside a batch: empty keeps (D); otherwise its product
    // must equal D, e.g. {1, 28, 28} for D = 784.
    std::vector<int64_t> example_shape;
  };

  struct Batch {
    Tensor images;                // (B, D) or (B, example_shape...); B <= batch_size
    std::vector<int32_t> labels;  // B labels, aligned with the rows of images
  };

  // A loader over `data`, positioned at the start of epoch 0. `data` is not copied and
  // must outlive the loader. InvalidArgument when data is null, its images are not a
  // (N, D) tensor with N > 0, labels.size() != N, batch_size <= 0, stddev <= 0 or mean
  // or stddev is not finite, example_shape has a non-positive dim or does not multiply
  // to D, or LastBatch::kDrop with batch_size > N would yield no batch at all.
  static absl::StatusOr<DataLoader> Create(const Dataset* data, Options options);

  // Batches per epoch: ceil(N / batch_size) with kKeep, floor(N / batch_size) with kDrop.
  int64_t num_batches() const;
  int64_t num_examples() const { return static_cast<int64_t>(order_.size()); }
  int64_t epoch() const { return epoch_; }
  const Options& options() const { return options_; }

  // Rewinds to the first batch of `epoch` (>= 0). With kShuffled, the order is a
  // Fisher-Yates permutation from an Rng seeded by (seed, epoch) alone: the same on every
  // run and independent of which epochs came before.
  void StartEpoch(int64_t epoch);

  // Fills `batch` with the next batch of the current epoch and returns true, or returns
  // false when the epoch is over (and keeps doing so until StartEpoch). Each call makes
  // a new images tensor, so batches handed out earlier are never overwritten.
  bool Next(Batch* batch);

  // The dataset indices in the order the current epoch visits them (all N of them,
  // including a remainder that kDrop skips).
  const std::vector<int64_t>& epoch_order() const { return order_; }

 private:
  DataLoader(const Dataset* data, Options options, int64_t example_size);

  const Dataset* data_;
  Options options_;
  int64_t example_size_;  // D
  Shape batch_shape_;     // (B, example shape...); B is rewritten per batch
  std::vector<int64_t> order_;
  int64_t position_ = 0;  // index into order_ of the next example to hand out
  int64_t epoch_ = 0;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_DATA_LOADER_H_
