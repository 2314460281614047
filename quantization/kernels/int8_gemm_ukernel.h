// The contract between the int8 GEMM driver (int8_gemm.cc) and its register-blocked
// micro-kernels, one per ISA. Internal to the quantization module.
//
// A micro-kernel computes one tile of C, m <= MR rows by n <= NR columns:
//
//   acc[r][j] = sum_{p < k} A[r][p] * B[p][j]          (int32; u8 x s8 products)
//   C[r][j]   = Requantize(acc[r][j] + bias[j])        (uint8 output), or
//   C[r][j]   = acc[r][j] + bias[j]                    (int32 output)
//
// where A is read straight from the caller's rows (no packing; the K tail is loaded with
// masks or from zero-padded rows, never past a row's end) and B from one packed panel:
// NR columns, K rounded up to a multiple of KR, zero-padded, stored as
//
//   panel[(p / KR) * NR * KR + j * KR + p % KR] = B[p][j]
//
// so one vector load brings KR consecutive k of NR / (vector width / KR) columns, the
// operand shape of the ISA's multiply-add:
//   scalar  4 x 8,  KR = 1, int8:  plain loops.
//   AVX2    6 x 16, KR = 2, int16: vpmaddwd multiplies int16 pairs and adds each pair
//           into an int32 lane: exact (|2 * 255 * 128| < 2^31). A is widened to int16 rows
//           (K padded to even with zeros) by the driver.
//   VNNI    MR x NR (see the kernel file), KR = 4, int8: vpdpbusd multiplies 4 u8 of A by
//           4 s8 of B and adds the 4 products into an int32 lane, without saturation.
// The a_zero_point correction is folded into bias by the driver:
//   sum_p (A - za) B + bias = sum_p A B + (bias - za * column_sum(B)).
// All int32 additions wrap (two's complement); for K <= kInt8GemmMaxK the true
// sum_p (A - za) B always fits, so the result is exact whatever the intermediate wraps.
#ifndef TT_QUANTIZATION_KERNELS_INT8_GEMM_UKERNEL_H_
#define TT_QUANTIZATION_KERNELS_INT8_GEMM_UKERNEL_H_

#include <algorithm>
#include <cstdint>

#include "quantization/requantize.h"

namespace tt::quant::internal {

// The requantizing output stage, already offset to the tile's first column.
struct Int8OutputStage {
  const int32_t* bias = nullptr;  // n values; null means 0 (RequantizeRows only)
  const FixedPointMultiplier* multipliers = nullptr;  // n values if per_channel, else 1
  bool per_channel = false;
  int32_t zero_point = 0, qmin = 0, qmax = 255;
};

struct Int8UkernelArgs {
  int64_t k = 0;            // K >= 0 (not rounded up)
  const void* a = nullptr;  // the tile's first A row: uint8 (scalar, VNNI), int16 (AVX2)
  int64_t lda = 0;          // A row stride, in elements
  const void* b = nullptr;  // the packed B panel, 64-byte aligned
  int m = 0, n = 0;         // valid rows 1..MR and columns 1..NR
  // Output: c_u8 (requantized through `stage`) or, when c_u8 is null, c_s32 with
  // stage.bias added. stage.bias is never null here.
  uint8_t* c_u8 = nullptr;
  int32_t* c_s32 = nullptr;
  int64_t ldc = 0;
  Int8OutputStage stage;
};

using Int8UkernelFn = void (*)(const Int8UkernelArgs& args);

// out[r][j] = Requantize(acc[r][j] + bias[j]) for r < m, j < n (bias may be null):
// the kernels' epilogue on its own, for Int8Requantize.
using Int8RequantizeRowsFn = void (*)(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                                      const Int8OutputStage& stage, uint8_t* out,
                                      int64_t ldo);

// Named <dtype>_<op>_<MR>x<NR>_<isa> like their files. Call an ISA's functions only when
// Int8KernelSupported() says so: their libraries are compiled for that ISA.
void Int8Gemm4x8Scalar(const Int8UkernelArgs& args);
void Int8Gemm6x16Avx2(const Int8UkernelArgs& args);
void Int8Gemm8x48Avx512Vnni(const Int8UkernelArgs& args);
void Int8RequantizeRowsScalar(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                              const Int8OutputStage& stage, uint8_t* out, int64_t ldo);
void Int8RequantizeRowsAvx2(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                            const Int8OutputStage& stage, uint8_t* out, int64_t ldo);
void Int8RequantizeRowsAvx512(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                              const Int8OutputStage& stage, uint8_t* out, int64_t ldo);

// RequantizeRef without its checks, for the scalar loops (the driver validated the stage).
inline int32_t RequantizeUnchecked(int32_t acc, FixedPointMultiplier m, int32_t zero_point,
                                   int32_t qmin, int32_t qmax) {
  const int64_t product = static_cast<int64_t>(acc) * m.multiplier;
  const int64_t rounded = (product + (int64_t{1} << (m.shift - 1))) >> m.shift;
  return static_cast<int32_t>(std::clamp<int64_t>(rounded + zero_point, qmin, qmax));
}

// a + b in two's complement (int32 overflow is undefined behaviour in C++; the SIMD
// kernels wrap, and so must the scalar ones).
inline int32_t WrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

}  // namespace tt::quant::internal

#endif  // TT_QUANTIZATION_KERNELS_INT8_GEMM_UKERNEL_H_
