// The per-ISA GEMV kernels behind quantization/weight_only.h. Internal: call them
// through WeightOnlyLinear, which checks shapes, prepares the int4 activation products
// and picks the ISA with tt::accel::ActiveIsa().
//
// Naming: wo_<op>_<isa>.cc, one op and ISA per file, each ISA's files in their own
// library built with that ISA's -m flags only. Functions: Wo<Q8|Q4><Gemv|Dequant><Isa>.
//
// In-memory weight layout (the model file keeps the canonical row-major layout; see
// weight_only.h). W is (K, N) = (in, out). Columns are cut into panels of kWoPanel = 64;
// the last panel is rounded up to a multiple of kWoChunk = 32 columns and zero-padded,
// so a panel is 32 or 64 columns wide (width pw) and N_pad = round_up(N, 32). The panel
// that starts at column n0 (a multiple of 64) holds K rows of pw columns each:
//
//   int8: byte  n0 * K     + k * pw     + c                  q(k, n0 + c), two's complement
//   int4: byte  n0 * K / 2 + k * pw / 2 + 16 * (c / 32) + c % 16
//         low nibble: c % 32 < 16, high nibble: c % 32 >= 16; stored u = q + 8 in [0, 15]
//
// so one step of k reads pw (int8) or pw / 2 (int4) consecutive bytes, and 16 bytes of
// int4 hold 32 columns: zero-extending them to 16 lanes gives columns c..c+15 in the low
// nibbles and c+16..c+31 in the high nibbles (one AND or one shift each). Offset binary
// (q + 8) makes that zero extension exact; a 16-entry table (AVX-512) or a subtraction
// (AVX2, scalar) turns u into q.
#ifndef TT_QUANTIZATION_KERNELS_WO_KERNELS_H_
#define TT_QUANTIZATION_KERNELS_WO_KERNELS_H_

#include <cstdint>

namespace tt::quant::kernels {

inline constexpr int64_t kWoPanel = 64;  // columns per panel
inline constexpr int64_t kWoChunk = 32;  // panel widths are multiples of this

// Width of the panel that starts at column n0 of an N-column matrix: 32 or 64.
inline int64_t WoPanelWidth(int64_t n0, int64_t n) {
  const int64_t rest = n - n0;
  return rest >= kWoPanel ? kWoPanel : (rest + kWoChunk - 1) / kWoChunk * kWoChunk;
}

// int8, one scale per output column:
//   y[r, n] = scale[n] * sum_k x[r, k] q(k, n),   r < m, n < N
// x: (m, K) row stride ldx; w: the int8 panels; scale: N_pad values; y: (m, N) row stride
// ldy (only columns < N are written). m >= 1, K >= 1, N >= 1.
void WoQ8GemvScalar(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                    const int8_t* w, const float* scale, float* y, int64_t ldy);
void WoQ8GemvAvx2(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                  const int8_t* w, const float* scale, float* y, int64_t ldy);
void WoQ8GemvAvx512(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                    const int8_t* w, const float* scale, float* y, int64_t ldy);

// int4 in row-aligned blocks: each block of `bs` elements (bs % 16 == 0, N % bs == 0) is
// bs consecutive columns of one row, so a row has nb = N / bs blocks and every 16-column
// half of a 32-column chunk lies in one block. The caller folds the scales into the
// activations first, rows innermost so that one step of k reads them from one place:
//   xs[(k * nb + b) * m + r] = x[r, k] * scale[k * nb + b]        (K * nb * m floats)
// and the kernel computes
//   y[r, n] = sum_k xs[(k * nb + n / bs) * m + r] * q(k, n),   r < m, n < N
// so the inner loop multiplies each dequantized 16-column vector by one broadcast value.
void WoQ4GemvScalar(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                    const uint8_t* w, float* y, int64_t ldy);
void WoQ4GemvAvx2(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                  const uint8_t* w, float* y, int64_t ldy);
void WoQ4GemvAvx512(int64_t m, int64_t n, int64_t k, int64_t bs, const float* xs,
                    const uint8_t* w, float* y, int64_t ldy);

// Dequantization of one panel into float, for the dequantize-and-GEMM path: columns
// [0, cols) of the panel (width pw, K rows) -> out (K, cols) with row stride ldo.
//   int8: out[k, c] = scale[c] * q(k, c)   (scale: the panel's first column's scale)
//   int4 (row-aligned blocks): out[k, c] = scales[k * nb + block[c / 16]] * q(k, c), with
//   block[v] the block (within a row) of the panel's 16-column vector v.
void WoQ8DequantScalar(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                       const float* scale, float* out, int64_t ldo);
void WoQ8DequantAvx2(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                     const float* scale, float* out, int64_t ldo);
void WoQ8DequantAvx512(int64_t k, int64_t pw, int64_t cols, const int8_t* panel,
                       const float* scale, float* out, int64_t ldo);
void WoQ4DequantScalar(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                       const float* scales, const uint8_t* panel, float* out, int64_t ldo);
void WoQ4DequantAvx2(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                     const float* scales, const uint8_t* panel, float* out, int64_t ldo);
void WoQ4DequantAvx512(int64_t k, int64_t pw, int64_t cols, int64_t nb, const int64_t* block,
                       const float* scales, const uint8_t* panel, float* out, int64_t ldo);

}  // namespace tt::quant::kernels

#endif  // TT_QUANTIZATION_KERNELS_WO_KERNELS_H_
