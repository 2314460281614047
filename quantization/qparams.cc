#include "quantization/qparams.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "quantization/kernels/quantize_kernels.h"
#include "tensor/check.h"

namespace tt::quant {
namespace {

const char* NonFiniteKind(float v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+inf" : "-inf";
}

// double -> the smallest float >= d (d finite, |d| <= FLT_MAX): a scale rounded up never
// leaves the top of the range off the grid.
float RoundUpToFloat(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) < d) f = std::nextafter(f, HUGE_VALF);
  return f;
}

// The largest float <= d (d finite, positive, <= FLT_MAX).
float RoundDownToFloat(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) > d) f = std::nextafter(f, 0.0f);
  return f;
}

// Keeps every grid point scale * (q - zp), q in the type's range, finite: a range as wide
// as FLT_MAX would otherwise put the far end of the grid at +-inf (e.g. [-FLT_MAX,
// FLT_MAX] in int8: -128 * (2 FLT_MAX / 255) overflows).
float CapScaleForFiniteGrid(float scale, int32_t zp, QType type) {
  const double farthest = std::max(zp - QMin(type), QMax(type) - zp);
  if (static_cast<double>(scale) * farthest <= FLT_MAX) return scale;
  return RoundDownToFloat(FLT_MAX / farthest);
}

int32_t RoundHalfEvenToInt(double v) {
  // Ties to even: nearbyint in the default rounding mode. The value is within a few
  // hundred of 0 here (zero points), so the conversion cannot overflow.
  double r = std::floor(v);
  const double frac = v - r;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  return static_cast<int32_t>(r);
}

}  // namespace

int32_t QMin(QType type) { return type == QType::kInt8 ? -128 : 0; }
int32_t QMax(QType type) { return type == QType::kInt8 ? 127 : 255; }
const char* QTypeName(QType type) { return type == QType::kInt8 ? "int8" : "uint8"; }

absl::Status CheckFinite(const float* x, int64_t n, std::string_view what_view) {
  // This Abseil's string_view is its own type, not std::string_view.
  const absl::string_view what(what_view.data(), what_view.size());
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat(what, ": negative size ", n));
  if (n > 0 && x == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": null data for ", n, " values"));
  }
  // Blocks without an early exit vectorize (x - x is 0 for finite x, NaN otherwise); the
  // exact index is looked up only in a block that has a bad value.
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    bool bad = false;
    for (int64_t i = start; i < end; ++i) bad |= !(x[i] - x[i] == 0.0f);
    if (!bad) continue;
    for (int64_t i = start; i < end; ++i) {
      if (!std::isfinite(x[i])) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": value ", i, " of ", n, " is ",
                                                       NonFiniteKind(x[i]),
                                                       "; quantization needs finite values"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<QParams> ChooseAffineQParams(float min, float max, QType type) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ChooseAffineQParams: range [", min, ", ", max, "] is not finite"));
  }
  if (min > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("ChooseAffineQParams: empty range, min ", min, " > max ", max));
  }
  const double lo = std::min(static_cast<double>(min), 0.0);
  const double hi = std::max(static_cast<double>(max), 0.0);
  const int32_t qmin = QMin(type), qmax = QMax(type);
  QParams p;
  if (hi == lo) {
    p.scale = 1.0f;  // only 0 to represent: any scale does it exactly
  } else {
    // hi - lo <= 2 * FLT_MAX is exact enough in double; divided by 255 it fits a float.
    p.scale = std::max(RoundUpToFloat((hi - lo) / (qmax - qmin)), kMinScale);
  }
  const double qmid = 0.5 * (qmin + qmax);
  const double zp = qmid - 0.5 * (lo + hi) / p.scale;
  p.zero_point = std::clamp(RoundHalfEvenToInt(zp), qmin, qmax);
  p.scale = CapScaleForFiniteGrid(p.scale, p.zero_point, type);
  return p;
}

absl::StatusOr<QParams> ChooseSymmetricQParams(float absmax, QType type) {
  if (!std::isfinite(absmax) || absmax < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ChooseSymmetricQParams: absmax must be finite and >= 0, got ", absmax));
  }
  QParams p;
  p.zero_point = type == QType::kInt8 ? 0 : 128;
  p.scale = absmax == 0 ? 1.0f : std::max(RoundUpToFloat(absmax / 127.0), kMinScale);
  p.scale = CapScaleForFiniteGrid(p.scale, p.zero_point, type);
  return p;
}

absl::StatusOr<ChannelQParams> ChoosePerChannelSymmetric(const float* w, int64_t rows, int64_t cols,
                                                         int axis) {
  if (rows < 0 || cols < 0) {
    return absl::InvalidArgumentError(absl::StrCat("ChoosePerChannelSymmetric: shape (", rows, ", ",
                                                   cols, ") has a negative size"));
  }
  if (axis != 0 && axis != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ChoosePerChannelSymmetric: axis must be 0 (rows) or 1 (columns), got ", axis));
  }
  const absl::Status finite = CheckFinite(w, rows * cols, "ChoosePerChannelSymmetric");
  if (!finite.ok()) {
    // Say where in the matrix: (row, column) is what the caller can act on.
    for (int64_t i = 0; i < rows * cols; ++i) {
      if (!std::isfinite(w[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ChoosePerChannelSymmetric: weight (", i / cols, ", ", i % cols, ") of (", rows, ", ",
            cols, ") is ", NonFiniteKind(w[i]), "; quantization needs finite values"));
      }
    }
    return finite;  // a size or null-pointer problem
  }
  const int64_t channels = axis == 1 ? cols : rows;
  std::vector<float> absmax(channels, 0.0f);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      float& m = absmax[axis == 1 ? j : i];
      m = std::max(m, std::fabs(w[i * cols + j]));
    }
  }
  ChannelQParams p;
  p.axis = axis;
  p.scale.resize(channels);
  p.zero_point.assign(channels, 0);
  for (int64_t c = 0; c < channels; ++c) {
    TT_ASSIGN_OR_RETURN(const QParams q, ChooseSymmetricQParams(absmax[c], QType::kInt8));
    p.scale[c] = q.scale;
  }
  return p;
}

void QuantizePerChannel(const float* w, int64_t rows, int64_t cols, const ChannelQParams& p,
                        int8_t* out) {
  TT_CHECK(rows >= 0 && cols >= 0, "QuantizePerChannel: bad shape (", rows, ", ", cols, ")");
  TT_CHECK(p.axis == 0 || p.axis == 1, "QuantizePerChannel: axis must be 0 or 1, got ", p.axis);
  const int64_t channels = p.axis == 1 ? cols : rows;
  TT_CHECK(p.size() == channels && static_cast<int64_t>(p.zero_point.size()) == channels,
           "QuantizePerChannel: ", p.size(), " scales and ", p.zero_point.size(),
           " zero points for ", channels, " channels of a (", rows, ", ", cols, ") matrix, axis ",
           p.axis);
  std::vector<float> inv_scale(channels);
  for (int64_t c = 0; c < channels; ++c) {
    TT_CHECK(std::isfinite(p.scale[c]) && p.scale[c] >= kMinScale, "QuantizePerChannel: channel ",
             c, " has scale ", p.scale[c], "; scales must be finite and >= kMinScale");
    TT_CHECK(p.zero_point[c] >= -128 && p.zero_point[c] <= 127, "QuantizePerChannel: channel ", c,
             " has zero point ", p.zero_point[c], ", outside int8");
    inv_scale[c] = 1.0f / p.scale[c];
  }
  // Weights are quantized once per model, so the plain element loop is fast enough; it is
  // the same element function as QuantizeInt8's, so the results are identical.
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t c = p.axis == 1 ? j : i;
      out[i * cols + j] = static_cast<int8_t>(
          kernels::QuantizeOne(w[i * cols + j], inv_scale[c], p.zero_point[c], -128, 127));
    }
  }
}

}  // namespace tt::quant
