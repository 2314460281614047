#include "quantization/observers.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::quant {

// --- The base class -------------------------------------------------------------------

absl::Status Observer::Observe(const tensor::Tensor& t) {
  if (!t.defined()) {
    return absl::InvalidArgumentError(absl::StrCat(Name(), " observer: undefined tensor"));
  }
  return Observe(t.data(), t.numel());
}

absl::StatusOr<QParams> Observer::Compute(QType type) const {
  TT_ASSIGN_OR_RETURN(const Range r, ClippingRange());
  return ChooseAffineQParams(r.lo, r.hi, type);
}

absl::Status Observer::CheckBatch(const float* x, int64_t n, Range* range) const {
  TT_RETURN_IF_ERROR(CheckFinite(x, n, absl::StrCat(Name(), " observer")));
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  *range = {lo, hi};
  return absl::OkStatus();
}

void Observer::RecordBatch(Range range, int64_t n) {
  min_ = std::min(min_, range.lo);
  max_ = std::max(max_, range.hi);
  count_ += n;
}

absl::Status Observer::CheckObserved() const {
  if (count_ > 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(Name(), " observer: no values observed yet; call Observe first"));
}

namespace {

// --- min-max and EMA -------------------------------------------------------------------

class MinMaxObserver final : public Observer {
 public:
  using Observer::Observe;
  absl::Status Observe(const float* x, int64_t n) override {
    if (n == 0) return absl::OkStatus();
    Range r;
    TT_RETURN_IF_ERROR(CheckBatch(x, n, &r));
    RecordBatch(r, n);
    return absl::OkStatus();
  }
  absl::StatusOr<Range> ClippingRange() const override {
    TT_RETURN_IF_ERROR(CheckObserved());
    return Range{min(), max()};
  }
  std::string Name() const override { return "minmax"; }
};

class MovingAverageObserver final : public Observer {
 public:
  explicit MovingAverageObserver(float momentum) : momentum_(momentum) {}
  using Observer::Observe;
  absl::Status Observe(const float* x, int64_t n) override {
    if (n == 0) return absl::OkStatus();
    Range r;
    TT_RETURN_IF_ERROR(CheckBatch(x, n, &r));
    if (count() == 0) {
      ema_ = r;
    } else {
      // In double: batch - ema can exceed FLT_MAX (e.g. -3e38 - 3e38).
      auto step = [&](float ema, float batch) {
        const double e = ema;
        return static_cast<float>(e + momentum_ * (static_cast<double>(batch) - e));
      };
      ema_ = {step(ema_.lo, r.lo), step(ema_.hi, r.hi)};
    }
    RecordBatch(r, n);
    return absl::OkStatus();
  }
  absl::StatusOr<Range> ClippingRange() const override {
    TT_RETURN_IF_ERROR(CheckObserved());
    // Each is an average of values between the batches' extremes, so lo <= hi; the
    // min/max only guards against a last-bit rounding difference.
    return Range{std::min(ema_.lo, ema_.hi), std::max(ema_.lo, ema_.hi)};
  }
  std::string Name() const override { return absl::StrCat("ema:", momentum_); }

 private:
  float momentum_;
  Range ema_;
};

// --- The log-spaced histogram ----------------------------------------------------------

// A value's bin key: sign, exponent and the top kMantissaBits mantissa bits of its float
// encoding. For x >= +0 the key is the encoding's top bits (encodings of non-negative
// floats sort like their values); for x <= -0 it is -(the key of |x|) - 1. So keys are
// monotonic in the value, -0.0 and +0.0 get neighboring bins, and a bin spans
// [m, m * (1 + 1/64)) of a magnitude m (exactly 1/64 of a power of two).
constexpr int kMantissaBits = 6;
constexpr int kShift = 23 - kMantissaBits;
constexpr int32_t kMaxMagnitudeKey = 0x7F7FFFFF >> kShift;  // FLT_MAX's

int32_t BinKey(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof(u));
  const int32_t magnitude = static_cast<int32_t>((u & 0x7FFFFFFFu) >> kShift);
  return (u >> 31) != 0 ? -magnitude - 1 : magnitude;
}

// The smallest magnitude of magnitude key k (k <= kMaxMagnitudeKey + 1; the edge after the
// last bin would be +inf and is FLT_MAX instead: no finite value lies beyond it).
double MagnitudeEdge(int32_t k) {
  if (k > kMaxMagnitudeKey) return FLT_MAX;
  const uint32_t u = static_cast<uint32_t>(k) << kShift;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

struct Bin {
  double lo, hi;  // edges, lo < hi
  double count;
};

class LogHistogram {
 public:
  // x: n finite values in [r.lo, r.hi].
  void Add(const float* x, int64_t n, Range r) {
    Cover(BinKey(r.lo), BinKey(r.hi));
    for (int64_t i = 0; i < n; ++i) ++counts_[BinKey(x[i]) - key_lo_];
    total_ += n;
  }

  int64_t total() const { return total_; }

  // The occupied bins, in increasing order of value.
  std::vector<Bin> Bins() const {
    std::vector<Bin> bins;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const int32_t key = key_lo_ + static_cast<int32_t>(i);
      Bin b;
      if (key >= 0) {
        b.lo = MagnitudeEdge(key);
        b.hi = MagnitudeEdge(key + 1);
      } else {
        b.lo = -MagnitudeEdge(-key);
        b.hi = -MagnitudeEdge(-key - 1);
      }
      b.count = static_cast<double>(counts_[i]);
      bins.push_back(b);
    }
    return bins;
  }

  // The value below which a fraction q in [0, 1] of the observed values lie, linear inside
  // the bin where the cumulative count reaches q * total.
  double Quantile(double q) const {
    const std::vector<Bin> bins = Bins();
    const double target = q * static_cast<double>(total_);
    double below = 0;
    for (const Bin& b : bins) {
      if (below + b.count >= target) {
        const double frac = std::clamp((target - below) / b.count, 0.0, 1.0);
        return b.lo + frac * (b.hi - b.lo);
      }
      below += b.count;
    }
    return bins.back().hi;  // q * total rounded above total
  }

 private:
  // Grows the count array to hold keys [lo, hi] (existing counts stay in their bins).
  void Cover(int32_t lo, int32_t hi) {
    if (counts_.empty()) {
      key_lo_ = lo;
      counts_.assign(hi - lo + 1, 0);
      return;
    }
    const int32_t key_hi = key_lo_ + static_cast<int32_t>(counts_.size()) - 1;
    if (lo < key_lo_) {
      counts_.insert(counts_.begin(), key_lo_ - lo, 0);
      key_lo_ = lo;
    }
    if (hi > key_hi) counts_.resize(counts_.size() + (hi - key_hi), 0);
  }

  std::vector<uint64_t> counts_;  // counts_[i]: values with key key_lo_ + i
  int32_t key_lo_ = 0;
  int64_t total_ = 0;
};

// Base of the histogram observers: records into a LogHistogram.
class HistogramObserver : public Observer {
 public:
  using Observer::Observe;
  absl::Status Observe(const float* x, int64_t n) override {
    if (n == 0) return absl::OkStatus();
    Range r;
    TT_RETURN_IF_ERROR(CheckBatch(x, n, &r));
    histogram_.Add(x, n, r);
    RecordBatch(r, n);
    return absl::OkStatus();
  }

 protected:
  const LogHistogram& histogram() const { return histogram_; }
  // [lo, hi] clamped into the observed range (lo <= hi stays true: clamping is monotonic).
  Range ClampToObserved(double lo, double hi) const {
    auto clamp = [&](double v) {
      return std::clamp(static_cast<float>(std::clamp(v, -double{FLT_MAX}, double{FLT_MAX})), min(),
                        max());
    };
    return {clamp(lo), clamp(hi)};
  }

 private:
  LogHistogram histogram_;
};

// --- percentile ------------------------------------------------------------------------

class PercentileObserver final : public HistogramObserver {
 public:
  explicit PercentileObserver(double percentile) : percentile_(percentile) {}
  absl::StatusOr<Range> ClippingRange() const override {
    TT_RETURN_IF_ERROR(CheckObserved());
    const double q = percentile_ / 100.0;
    return ClampToObserved(histogram().Quantile(1.0 - q), histogram().Quantile(q));
  }
  std::string Name() const override { return absl::StrCat("percentile:", percentile_); }

 private:
  double percentile_;
};

// --- MSE -------------------------------------------------------------------------------

// One candidate clipping edge t with what lies beyond it: the count and the squared
// clipping error sum (x - t)^2 over those values.
struct Edge {
  double value;
  double count_beyond;
  double error_beyond;
};

// Sums over bins treated as uniform: for a bin [l, h] of c values entirely beyond t,
// sum (x - t)^2 = c ((m - t)^2 + w^2 / 12), m = (l + h) / 2, w = h - l. Accumulated as
// count, sum c m and sum c (m^2 + w^2 / 12), the error for any t is
// C t^2 - 2 t S1 + S2 (O(1) per candidate).
struct TailSums {
  double c = 0, s1 = 0, s2 = 0;
  void Add(const Bin& b) {
    const double m = 0.5 * (b.lo + b.hi), w = b.hi - b.lo;
    c += b.count;
    s1 += b.count * m;
    s2 += b.count * (m * m + w * w / 12.0);
  }
  Edge At(double t) const { return {t, c, std::max(0.0, c * t * t - 2.0 * t * s1 + s2)}; }
};

// Lower candidates in increasing order: each occupied negative bin's lower edge (clipping
// the bins below it), then 0 (clipping every negative value).
std::vector<Edge> LowerEdges(const std::vector<Bin>& bins) {
  std::vector<Edge> edges;
  TailSums below;
  for (const Bin& b : bins) {
    if (b.hi > 0) break;
    edges.push_back(below.At(b.lo));
    below.Add(b);
  }
  edges.push_back(below.At(0.0));
  return edges;
}

// Upper candidates in increasing order: 0 (clipping every positive value), then each
// occupied non-negative bin's upper edge (clipping the bins above it).
std::vector<Edge> UpperEdges(const std::vector<Bin>& bins) {
  std::vector<Edge> reversed;
  TailSums above;
  for (auto it = bins.rbegin(); it != bins.rend() && it->lo >= 0; ++it) {
    reversed.push_back(above.At(it->hi));
    above.Add(*it);
  }
  reversed.push_back(above.At(0.0));
  return {reversed.rbegin(), reversed.rend()};
}

// The indices 0, stride, 2 stride, ..., and the last one.
std::vector<int64_t> Grid(int64_t size, int64_t stride) {
  std::vector<int64_t> grid;
  for (int64_t i = 0; i < size; i += stride) grid.push_back(i);
  if (grid.back() != size - 1) grid.push_back(size - 1);
  return grid;
}

Range MseClipping(const std::vector<Bin>& bins, double total) {
  const std::vector<Edge> lower = LowerEdges(bins), upper = UpperEdges(bins);
  auto error = [&](int64_t i, int64_t j) {
    const Edge& a = lower[i];
    const Edge& b = upper[j];
    if (b.value <= a.value) return std::numeric_limits<double>::infinity();
    const double step = std::max((b.value - a.value) / 255.0, double{kMinScale});
    const double inside = std::max(0.0, total - a.count_beyond - b.count_beyond);
    return inside * step * step / 12.0 + a.error_beyond + b.error_beyond;
  };
  constexpr int64_t kMaxGrid = 1024;
  const int64_t nl = static_cast<int64_t>(lower.size()), nu = static_cast<int64_t>(upper.size());
  const int64_t sl = (nl + kMaxGrid - 1) / kMaxGrid, su = (nu + kMaxGrid - 1) / kMaxGrid;
  double best = std::numeric_limits<double>::infinity();
  int64_t bi = 0, bj = nu - 1;
  auto consider = [&](int64_t i, int64_t j) {
    const double e = error(i, j);
    if (e < best) {
      best = e;
      bi = i;
      bj = j;
    }
  };
  for (int64_t i : Grid(nl, sl)) {
    for (int64_t j : Grid(nu, su)) consider(i, j);
  }
  if (sl > 1 || su > 1) {  // every edge around the best grid pair
    const int64_t ci = bi, cj = bj;
    for (int64_t i = std::max<int64_t>(0, ci - sl); i <= std::min(nl - 1, ci + sl); ++i) {
      for (int64_t j = std::max<int64_t>(0, cj - su); j <= std::min(nu - 1, cj + su); ++j) {
        consider(i, j);
      }
    }
  }
  return {static_cast<float>(lower[bi].value), static_cast<float>(upper[bj].value)};
}

class MseObserver final : public HistogramObserver {
 public:
  absl::StatusOr<Range> ClippingRange() const override {
    TT_RETURN_IF_ERROR(CheckObserved());
    const Range r = MseClipping(histogram().Bins(), static_cast<double>(histogram().total()));
    return ClampToObserved(r.lo, r.hi);
  }
  std::string Name() const override { return "mse"; }
};

constexpr char kValidSpecs[] =
    "valid specs: minmax, ema, ema:M (momentum, 0 < M <= 1), percentile, percentile:P "
    "(50 < P <= 100), mse";

bool ValidMomentum(double m) { return m > 0 && m <= 1; }
bool ValidPercentile(double p) { return p > 50 && p <= 100; }

}  // namespace

std::unique_ptr<Observer> MakeMinMaxObserver() { return std::make_unique<MinMaxObserver>(); }

std::unique_ptr<Observer> MakeMovingAverageObserver(float momentum) {
  TT_CHECK(ValidMomentum(momentum), "MakeMovingAverageObserver: momentum must be in (0, 1], got ",
           momentum);
  return std::make_unique<MovingAverageObserver>(momentum);
}

std::unique_ptr<Observer> MakePercentileObserver(double percentile) {
  TT_CHECK(ValidPercentile(percentile),
           "MakePercentileObserver: percentile must be in (50, 100], got ", percentile);
  return std::make_unique<PercentileObserver>(percentile);
}

std::unique_ptr<Observer> MakeMseObserver() { return std::make_unique<MseObserver>(); }

absl::StatusOr<std::unique_ptr<Observer>> MakeObserver(std::string_view spec_view) {
  // This Abseil's string_view is its own type, not std::string_view.
  const absl::string_view spec(spec_view.data(), spec_view.size());
  const size_t colon = spec.find(':');
  const absl::string_view name = spec.substr(0, colon);
  const bool has_arg = colon != absl::string_view::npos;
  double arg = 0;
  if (has_arg && !absl::SimpleAtod(spec.substr(colon + 1), &arg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("observer spec '", spec, "': the argument is not a number; ", kValidSpecs));
  }
  if (name == "minmax" && !has_arg) return MakeMinMaxObserver();
  if (name == "mse" && !has_arg) return MakeMseObserver();
  if (name == "ema") {
    if (!has_arg) return MakeMovingAverageObserver();
    const float momentum = static_cast<float>(arg);
    if (ValidMomentum(momentum)) return MakeMovingAverageObserver(momentum);
    return absl::InvalidArgumentError(
        absl::StrCat("observer spec '", spec, "': momentum must be in (0, 1]; ", kValidSpecs));
  }
  if (name == "percentile") {
    if (!has_arg) return MakePercentileObserver();
    if (ValidPercentile(arg)) return MakePercentileObserver(arg);
    return absl::InvalidArgumentError(
        absl::StrCat("observer spec '", spec, "': percentile must be in (50, 100]; ", kValidSpecs));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown observer spec '", spec, "'; ", kValidSpecs));
}

}  // namespace tt::quant
