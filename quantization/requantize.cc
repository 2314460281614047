#include "quantization/requantize.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::quant {

absl::StatusOr<FixedPointMultiplier> QuantizeMultiplier(double real) {
  if (!(std::isfinite(real) && real >= kMinRequantizeScale && real < kMaxRequantizeScale)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "QuantizeMultiplier: the requantization scale must be finite and in [2^-32, 2^15), "
        "got ",
        real));
  }
  // real = f * 2^e with f in [0.5, 1): multiplier = round(f * 2^31), shift = 31 - e.
  int e = 0;
  const double f = std::frexp(real, &e);
  int64_t m = std::llround(std::ldexp(f, 31));
  if (m == (int64_t{1} << 31)) {  // f rounded up to 1.0: renormalize
    m >>= 1;
    ++e;
  }
  FixedPointMultiplier out;
  out.multiplier = static_cast<int32_t>(m);
  out.shift = 31 - e;  // e in [-31, 16] -> shift in [15, 62]
  return out;
}

bool IsValidMultiplier(FixedPointMultiplier m) {
  return m.multiplier >= 1 && m.shift >= 1 && m.shift <= 62;
}

double MultiplierToDouble(FixedPointMultiplier m) {
  return std::ldexp(static_cast<double>(m.multiplier), -m.shift);
}

int32_t RequantizeRef(int32_t acc, FixedPointMultiplier m, int32_t zero_point, int32_t qmin,
                      int32_t qmax) {
  TT_CHECK(IsValidMultiplier(m), "RequantizeRef: invalid multiplier ", m.multiplier,
           " * 2^-", m.shift, " (need multiplier >= 1, shift in [1, 62])");
  TT_CHECK(qmin <= qmax, "RequantizeRef: qmin ", qmin, " > qmax ", qmax);
  const int64_t product = static_cast<int64_t>(acc) * m.multiplier;  // |.| < 2^62
  // >> of a negative int64 is an arithmetic shift (floor) in GCC and Clang, and in C++20.
  const int64_t rounded = (product + (int64_t{1} << (m.shift - 1))) >> m.shift;
  return static_cast<int32_t>(std::clamp<int64_t>(rounded + zero_point, qmin, qmax));
}

}  // namespace tt::quant
