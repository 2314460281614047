// Quantization parameters: how a float range maps onto 8-bit integers.
//
// Affine quantization represents a real value by an integer q of a small type:
//
//   real = scale * (q - zero_point)          q in [QMin(type), QMax(type)]
//
// so the representable reals are a grid of step `scale` that contains 0 exactly (at
// q = zero_point). Exact zero matters: zero padding, ReLU outputs and zero-initialized
// accumulators must come out as 0, not as a small bias that every layer adds up.
// Symmetric quantization is the special case zero_point = 0 (int8; 128 for uint8), which
// makes the integer GEMM cheaper (no zero-point correction terms for that operand), so it
// is used for weights; activations, often all >= 0 after ReLU, use affine uint8 to spend
// all 256 levels on the range they actually occupy.
//
//   TT_ASSIGN_OR_RETURN(QParams p, ChooseAffineQParams(-0.5f, 6.0f, QType::kUint8));
//   // p.scale = 6.5 / 255, p.zero_point = 20: -0.5 -> q = 0, 0 -> 20, 6.0 -> 255
//   TT_ASSIGN_OR_RETURN(ChannelQParams w, ChoosePerChannelSymmetric(w, rows, cols, 1));
//   QuantizePerChannel(w_f32, rows, cols, w, w_s8);
//
// Every Choose* function returns InvalidArgument for NaN/Inf or an empty range
// (min > max), and otherwise valid parameters for every input: scale is a positive
// normal float (FLT_MIN <= scale, so 1/scale is finite too), zero_point is inside the
// type's range, and every grid point scale * (q - zero_point) is finite. The last rule
// matters only for ranges about as wide as FLT_MAX (e.g. [-FLT_MAX, FLT_MAX]): the scale
// is then capped so that the far end of the grid stays <= FLT_MAX, and values within one
// step of +-FLT_MAX round-trip with an error up to one step instead of half a step.
#ifndef TT_QUANTIZATION_QPARAMS_H_
#define TT_QUANTIZATION_QPARAMS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tt::quant {

// The integer types of this module. Both have 256 levels.
enum class QType { kInt8, kUint8 };

int32_t QMin(QType type);           // -128 / 0
int32_t QMax(QType type);           //  127 / 255
const char* QTypeName(QType type);  // "int8" / "uint8"

// real = scale * (q - zero_point).
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// The smallest scale any Choose* function returns (FLT_MIN, ~1.18e-38). A smaller scale
// would be a denormal (slow on some CPUs, flushed to zero under FTZ) and its reciprocal,
// which the quantize kernels multiply by, would overflow to inf. Ranges narrower than
// about 255 * kMinScale (~3e-36) therefore get a coarser grid than they could: every value
// in them is within kMinScale / 2 of 0 anyway.
inline constexpr float kMinScale = 1.17549435e-38f;

// OK when all of x[0..n) are finite; else InvalidArgument naming `what` and the index
// and kind (NaN, +inf, -inf) of the first bad value, e.g.
//   "fc1.weight: value 12 of 100 is NaN; quantization needs finite values".
absl::Status CheckFinite(const float* x, int64_t n, std::string_view what);

// Affine parameters for values in [min, max], which must be finite with min <= max.
// 1. Widen the range to include 0: [min(min, 0), max(max, 0)], so that 0 is on the grid.
// 2. scale = (max - min) / (QMax - QMin), computed in double (max - min can exceed
//    FLT_MAX) and rounded up to float (so the grid never ends short of max), then raised to
//    kMinScale. A zero-width range (0 == min == max) gets scale 1.
// 3. zero_point = round_half_even(qmid - (min + max) / (2 scale)), qmid = (QMin + QMax) / 2,
//    clamped to the type's range: the range is centered on the integer grid. When scale is
//    exactly (max - min) / 255 this equals the textbook QMin - min / scale; when the scale
//    floor made the grid wider than the range, centering keeps both ends covered.
// Every x in [min, max] then quantizes with |x - dequantize(quantize(x))| <= scale / 2
// (plus float rounding in x / scale): rounding zero_point shifts the grid by at most half
// a step. Examples, (scale, zero_point) for uint8: [0, 0] -> (1, 128); [2, 5] -> (5/255, 0);
// [-3, -1] -> (3/255, 255); [-1e30, 1e30] -> (~7.8e27, 128). For int8 the zero points are
// 128 lower (0, -128, 127, 0).
absl::StatusOr<QParams> ChooseAffineQParams(float min, float max, QType type);

// Symmetric parameters for values in [-absmax, absmax] (absmax finite, >= 0):
//   int8:  scale = absmax / 127, zero_point = 0,   q in [-127, 127]
//   uint8: scale = absmax / 127, zero_point = 128, q in [1, 255] (the int8 grid shifted)
// Why 127 and not 128 levels on the negative side ("restricted range"): the grid is then
// symmetric, so q(-x) = -q(x) and a weight's sign never changes its precision; and the sum
// of two int8 x int8 products stays within int16 (2 * 127^2 = 32258 <= 32767, but
// 2 * 128^2 = 32768 does not), which int8 dot-product kernels that accumulate pairs in 16
// bits rely on. Values in [-absmax, absmax] land in [-127, 127]; the kernels saturate to
// the type's full range, so only a value below -absmax can give -128 (never a weight
// quantized with its own channel's absmax).
// absmax == 0 gives scale 1; tiny absmax gives kMinScale.
absl::StatusOr<QParams> ChooseSymmetricQParams(float absmax, QType type);

// Per-channel parameters: one (scale, zero_point) per channel of a weight matrix.
struct ChannelQParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int axis = 1;  // 1: channel j = column j (cols channels); 0: channel i = row i (rows)
  int64_t size() const { return static_cast<int64_t>(scale.size()); }
  QParams channel(int64_t c) const { return {scale[c], zero_point[c]}; }
};

// Symmetric int8 parameters for each channel of w: (rows, cols) row-major, axis 1 (one
// channel per column, e.g. a (in, out) Linear weight: one per output feature) or 0 (one
// per row, e.g. an (out, in) weight). Each channel gets ChooseSymmetricQParams(max |w| over
// that channel, kInt8), so an all-zero channel gets scale 1 (any positive scale
// represents it exactly). InvalidArgument for rows or cols < 0, an axis other than 0/1,
// or a non-finite weight (naming its row and column).
absl::StatusOr<ChannelQParams> ChoosePerChannelSymmetric(const float* w, int64_t rows, int64_t cols,
                                                         int axis);

// w: (rows, cols) -> out: (rows, cols) int8, element (i, j) quantized with its channel's
// parameters (channel j for axis 1, i for axis 0), rounding and saturating exactly as
// QuantizeInt8 does (quantize.h). p must match: p.axis 0/1, p.size() == cols (axis 1)
// or rows (axis 0), valid scales (TT_CHECK).
void QuantizePerChannel(const float* w, int64_t rows, int64_t cols, const ChannelQParams& p,
                        int8_t* out);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_QPARAMS_H_
