// Int8Gemm4x8Scalar: the portable micro-kernel (no ISA flags) and the scalar epilogue.
// The B panel is 8 int8 columns per k (KR = 1); A is read from its rows. The 4 x 8 int32
// tile lives in locals for the whole K loop, so the compiler keeps it in registers and
// may vectorize the 8-column inner loop with the SSE2 of every x86-64.
#include "quantization/kernels/int8_gemm_ukernel.h"

namespace tt::quant::internal {
namespace {
constexpr int kMr = 4;
constexpr int kNr = 8;
}  // namespace

void Int8Gemm4x8Scalar(const Int8UkernelArgs& u) {
  // Unsigned accumulators: the products are exact in int32, their sum may wrap
  // (K <= kInt8GemmMaxK keeps the corrected total exact), and unsigned wraps are defined.
  uint32_t acc[kMr][kNr] = {};
  const uint8_t* a = static_cast<const uint8_t*>(u.a);
  const int8_t* b = static_cast<const int8_t*>(u.b);
  for (int64_t p = 0; p < u.k; ++p) {
    for (int r = 0; r < kMr; ++r) {
      // Rows past m read row 0 again (always valid) and are never stored.
      const int32_t av = a[(r < u.m ? r : 0) * u.lda + p];
      for (int j = 0; j < kNr; ++j) {
        acc[r][j] += static_cast<uint32_t>(av * static_cast<int32_t>(b[j]));
      }
    }
    b += kNr;
  }
  const Int8OutputStage& s = u.stage;
  for (int r = 0; r < u.m; ++r) {
    for (int j = 0; j < u.n; ++j) {
      const int32_t x = WrapAdd(static_cast<int32_t>(acc[r][j]), s.bias[j]);
      if (u.c_u8 != nullptr) {
        const FixedPointMultiplier m = s.multipliers[s.per_channel ? j : 0];
        u.c_u8[r * u.ldc + j] =
            static_cast<uint8_t>(RequantizeUnchecked(x, m, s.zero_point, s.qmin, s.qmax));
      } else {
        u.c_s32[r * u.ldc + j] = x;
      }
    }
  }
}

void Int8RequantizeRowsScalar(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                              const Int8OutputStage& s, uint8_t* out, int64_t ldo) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const int32_t x = WrapAdd(acc[r * lda + j], s.bias == nullptr ? 0 : s.bias[j]);
      const FixedPointMultiplier mult = s.multipliers[s.per_channel ? j : 0];
      out[r * ldo + j] =
          static_cast<uint8_t>(RequantizeUnchecked(x, mult, s.zero_point, s.qmin, s.qmax));
    }
  }
}

}  // namespace tt::quant::internal
