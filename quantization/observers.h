// Calibration observers: watch the float activations a layer produces on a few batches
// of real data, then choose the quantization parameters for them.
//
// Post-training static quantization fixes each activation's (scale, zero_point) before
// inference; an observer decides them from what it saw. Which range to cover is the whole
// question: covering every value ever seen (min-max) wastes the 255 steps on rare
// outliers, so the common values get a coarse grid; clipping the outliers saturates them
// but makes the step smaller for everything else. The observers here:
//
//   minmax          the exact [min, max] seen
//   ema[:m]         exponential moving average of each batch's min and max, momentum m
//                   (default 0.01): ema += m * (batch - ema); the first batch initializes
//   percentile[:p]  the (100 - p)th and pth percentiles (default 99.99): both tails clipped
//   mse             the range that minimizes the expected squared quantization error
//
//   TT_ASSIGN_OR_RETURN(std::unique_ptr<Observer> obs, MakeObserver("percentile:99.9"));
//   for (const Tensor& batch : calibration_activations) TT_RETURN_IF_ERROR(obs->Observe(batch));
//   TT_ASSIGN_OR_RETURN(QParams p, obs->Compute(QType::kUint8));
//
// Every observer chooses a clipping range [lo, hi] and returns
// ChooseAffineQParams(lo, hi, type): affine, because activations feed uint8 GEMMs and are
// often one-sided (after ReLU); the range is widened to include 0 there (qparams.h).
//
// Histograms (percentile, mse). Bins are fixed in value space, spaced logarithmically like
// the floats themselves: a value's bin is its sign, exponent and top 6 mantissa bits, so
// each bin spans 1/64 of a power of two (relative width <= 1.6%) at every magnitude, from
// denormals to FLT_MAX. A range that grows across batches therefore never needs re-binning
// (the count array only gets longer, at most 32,640 bins = 255 KiB), and the histogram is
// exact counting: the result is deterministic and independent of how the data was split
// into batches or in which order they came. Inside a bin, values are taken to be uniform.
//
// Errors: a NaN or Inf in a batch -> InvalidArgument naming the observer and the value's
// index, and the observer is left unchanged; Compute before any value was observed ->
// FailedPrecondition. Observers are not thread-safe (one per activation site).
#ifndef TT_QUANTIZATION_OBSERVERS_H_
#define TT_QUANTIZATION_OBSERVERS_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantization/qparams.h"
#include "tensor/tensor.h"

namespace tt::quant {

// A closed float interval [lo, hi], lo <= hi.
struct Range {
  float lo = 0.0f;
  float hi = 0.0f;
};

class Observer {
 public:
  virtual ~Observer() = default;

  // Records x[0..n). n == 0 records nothing. InvalidArgument for n < 0, null data or a
  // non-finite value; the observer is then unchanged.
  virtual absl::Status Observe(const float* x, int64_t n) = 0;
  // All of t's values (InvalidArgument for an undefined tensor).
  absl::Status Observe(const tensor::Tensor& t);

  // The range Compute quantizes, within [min(), max()]. FailedPrecondition before any
  // value was observed.
  virtual absl::StatusOr<Range> ClippingRange() const = 0;
  // ChooseAffineQParams(ClippingRange(), type).
  virtual absl::StatusOr<QParams> Compute(QType type) const;

  // The spec MakeObserver accepts to build an observer like this one, e.g. "ema:0.01".
  virtual std::string Name() const = 0;

  // The raw range of every value observed so far; +inf / -inf before the first one.
  float min() const { return min_; }
  float max() const { return max_; }
  int64_t count() const { return count_; }  // values observed

 protected:
  // Checks a batch (sizes, finiteness) and returns its [min, max]; changes nothing.
  // n must be > 0 here (callers return early for n == 0).
  absl::Status CheckBatch(const float* x, int64_t n, Range* range) const;
  // Adds a checked batch's range and size to min(), max() and count().
  void RecordBatch(Range range, int64_t n);
  // FailedPrecondition naming the observer when nothing was observed.
  absl::Status CheckObserved() const;

 private:
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
  int64_t count_ = 0;
};

// The exact range seen: [min(), max()].
std::unique_ptr<Observer> MakeMinMaxObserver();

// EMA of the per-batch min and max: lo += momentum * (batch_min - lo) (in double, stored
// as float), same for hi; the first non-empty batch sets lo and hi. momentum in (0, 1]
// (TT_CHECK; MakeObserver returns an error instead). Smooths batch-to-batch noise; with a
// small momentum, early batches dominate for a long time.
std::unique_ptr<Observer> MakeMovingAverageObserver(float momentum = 0.01f);

// [the (100 - p)th percentile, the pth percentile] of all observed values, from the
// histogram (linear inside a bin, so within 1.6% relative of the exact percentile),
// clamped to [min(), max()]. p in (50, 100] (TT_CHECK); p = 100 gives min-max exactly.
std::unique_ptr<Observer> MakePercentileObserver(double percentile = 99.99);

// The [lo, hi] (lo <= 0 <= hi) minimizing the expected squared error of quantizing every
// observed value with 255 steps over [lo, hi]:
//   E(lo, hi) = N_inside * step^2 / 12 + sum_{x < lo} (lo - x)^2 + sum_{x > hi} (x - hi)^2,
//   step = (hi - lo) / 255,
// i.e. uniform rounding noise inside the range plus the clipping error of the values
// outside it, summed over the histogram (each bin's values uniform in the bin). The
// candidates are 0 and the histogram's bin edges (every edge of an occupied bin when a
// side has <= 1024 of them; otherwise a grid of 1024, then every edge around the best
// pair); the first minimum in a fixed order wins, so the choice is deterministic. Then
// clamped to [min(), max()].
std::unique_ptr<Observer> MakeMseObserver();

// Builds an observer from a spec: "minmax", "ema", "ema:M", "percentile",
// "percentile:P", "mse" (see above for M and P). InvalidArgument listing the valid specs
// for anything else, or for an argument out of range.
absl::StatusOr<std::unique_ptr<Observer>> MakeObserver(std::string_view spec);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_OBSERVERS_H_
