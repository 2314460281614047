#include "tensor/data_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::tensor {
namespace {

// SplitMix64's finalizer: spreads nearby inputs (seed 1 vs 2, epoch 3 vs 4) over
// unrelated 64-bit values before they seed the Mersenne Twister, which otherwise starts
// out correlated for similar seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t EpochSeed(uint64_t seed, int64_t epoch) {
  return Mix(Mix(seed) ^ static_cast<uint64_t>(epoch));
}

}  // namespace

absl::StatusOr<DataLoader> DataLoader::Create(const Dataset* data, Options options) {
  if (data == nullptr) {
    return absl::InvalidArgumentError("DataLoader: the dataset is null");
  }
  if (!data->images.defined() || data->images.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DataLoader: images must be a 2-D (N, D) tensor, got ",
        data->images.defined() ? ShapeToString(data->images.shape()) : "an undefined tensor"));
  }
  const int64_t n = data->images.size(0);
  const int64_t d = data->images.size(1);
  if (n == 0 || d == 0) {
    return absl::InvalidArgumentError(absl::StrCat("DataLoader: empty dataset: images have shape ",
                                                   ShapeToString(data->images.shape())));
  }
  if (static_cast<int64_t>(data->labels.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoader: ", n, " images but ", data->labels.size(), " labels"));
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoader: batch_size must be positive, got ", options.batch_size));
  }
  if (!std::isfinite(options.mean) || !std::isfinite(options.stddev) || options.stddev <= 0.0f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DataLoader: normalization needs a finite mean and a finite stddev > 0, got mean ",
        options.mean, " stddev ", options.stddev));
  }
  if (!options.example_shape.empty()) {
    int64_t product = 1;
    bool too_large = false;
    for (int64_t dim : options.example_shape) {
      if (dim <= 0) {
        return absl::InvalidArgumentError(absl::StrCat("DataLoader: example_shape ",
                                                       ShapeToString(options.example_shape),
                                                       " has a non-positive dim"));
      }
      // Compared by division so that a huge user-given dim cannot overflow the product.
      if (product > d / dim) too_large = true;
      if (!too_large) product *= dim;
    }
    if (too_large || product != d) {
      return absl::InvalidArgumentError(
          absl::StrCat("DataLoader: example_shape ", ShapeToString(options.example_shape),
                       " does not hold one example of ", d, " values (images ",
                       ShapeToString(data->images.shape()), ")"));
    }
  }
  if (options.last_batch == LastBatch::kDrop && options.batch_size > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoader: batch_size ", options.batch_size, " is larger than the ", n,
                     " examples, so LastBatch::kDrop would yield no batch"));
  }
  return DataLoader(data, std::move(options), d);
}

DataLoader::DataLoader(const Dataset* data, Options options, int64_t example_size)
    : data_(data), options_(std::move(options)), example_size_(example_size) {
  batch_shape_.push_back(options_.batch_size);
  if (options_.example_shape.empty()) {
    batch_shape_.push_back(example_size_);
  } else {
    batch_shape_.insert(batch_shape_.end(), options_.example_shape.begin(),
                        options_.example_shape.end());
  }
  order_.resize(data_->images.size(0));
  StartEpoch(0);
}

int64_t DataLoader::num_batches() const {
  const int64_t n = num_examples();
  const int64_t b = options_.batch_size;
  return options_.last_batch == LastBatch::kKeep ? (n + b - 1) / b : n / b;
}

void DataLoader::StartEpoch(int64_t epoch) {
  TT_CHECK(epoch >= 0, "DataLoader::StartEpoch: epoch must be >= 0, got ", epoch);
  epoch_ = epoch;
  position_ = 0;
  // Always from the identity, so epoch e's order does not depend on earlier epochs.
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.order == Order::kShuffled) {
    Rng rng(EpochSeed(options_.seed, epoch));
    for (int64_t i = static_cast<int64_t>(order_.size()) - 1; i > 0; --i) {
      std::swap(order_[i], order_[rng.UniformInt(i + 1)]);
    }
  }
}

bool DataLoader::Next(Batch* batch) {
  TT_CHECK(batch != nullptr, "DataLoader::Next: batch is null");
  const int64_t remaining = num_examples() - position_;
  const int64_t b = std::min(options_.batch_size, remaining);
  if (b <= 0 || (b < options_.batch_size && options_.last_batch == LastBatch::kDrop)) {
    position_ = num_examples();
    return false;
  }
  batch_shape_[0] = b;
  batch->images = Tensor::Empty(batch_shape_);
  batch->labels.resize(b);

  const float* images = data_->images.data();
  float* out = batch->images.data();
  const float mean = options_.mean;
  const float stddev = options_.stddev;
  for (int64_t row = 0; row < b; ++row) {
    const int64_t index = order_[position_ + row];
    const float* src = images + index * example_size_;
    float* dst = out + row * example_size_;
    for (int64_t k = 0; k < example_size_; ++k) dst[k] = (src[k] - mean) / stddev;
    batch->labels[row] = data_->labels[index];
  }
  position_ += b;
  return true;
}

}  // namespace tt::tensor
