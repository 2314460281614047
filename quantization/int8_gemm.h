// The int8 GEMM: uint8 activations times int8 weights, exact int32 accumulation, and a
// requantizing epilogue that writes uint8 activations for the next layer, or int32 for
// a last layer that goes back to float.
//
//   // Weights W (K, N) int8, packed once for the fastest kernel of this CPU.
//   tt::quant::PackedInt8Matrix w = tt::quant::PackedInt8Matrix::Pack(w_data, K, N, N);
//   // Per channel: real_j = s_x s_w[j] / s_y, bias in accumulator units (s_x s_w[j]).
//   std::vector<tt::quant::FixedPointMultiplier> mult(N);  // QuantizeMultiplier(real_j)
//   tt::quant::Int8Epilogue ep;
//   ep.bias = bias_q.data();
//   ep.multipliers = mult.data();
//   ep.output_zero_point = zy;
//   ep.output_min = zy;  // fused ReLU: nothing below the real value 0
//   tt::quant::Int8Gemm(w, M, x_q, K, zx, ep, y_q, N);   // y_q: (M, N) uint8
//
// The math. With x = s_x (X - zx) (X uint8) and w = s_w W (W int8, symmetric):
//   acc[m][n] = sum_k (X[m][k] - zx) W[k][n] + bias[n]                 (int32, exact)
//   Y[m][n]   = clamp(zy + Requantize(acc[m][n], mult[n]), out_min, out_max)
// (requantize.h defines Requantize and its rounding). The zero point never enters the
// inner loop: sum_k (X - zx) W = sum_k X W - zx * column_sum(W), and the column sums are
// computed once at packing time, so the kernels multiply raw uint8 by raw int8 (exactly
// what vpdpbusd does) and the correction joins the bias.
//
// Kernels (int8_isa.h): scalar 4x8, AVX2 6x16 (int16 vpmaddwd), AVX-512 VNNI 8x48
// (vpdpbusd); kernels/int8_gemm_<tile>_<isa>.cc. Every kernel gives bit-identical
// results: integer sums do not depend on their order, and the epilogues implement
// RequantizeRef exactly.
#ifndef TT_QUANTIZATION_INT8_GEMM_H_
#define TT_QUANTIZATION_INT8_GEMM_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "acceleration/thread_pool.h"
#include "quantization/int8_isa.h"
#include "quantization/requantize.h"

namespace tt::quant {

// The largest K accepted: then |sum_k (X - zx) W| <= 255 * 128 * K < 2^31, so every
// result of Int8GemmRef fits int32 and the kernels' int32 sums are exact.
inline constexpr int64_t kInt8GemmMaxK = 65536;

// The exact reference: C[m][n] = sum_k (A[m][k] - a_zero_point) * B[k][n], summed in
// int64 (then exact in int32, see kInt8GemmMaxK).
// A: uint8 (M, K) row stride lda >= K; B: int8 (K, N) row stride ldb >= N; C: int32
// (M, N) row stride ldc >= N. a_zero_point in [0, 255]. M, N, K >= 0 (K <= kInt8GemmMaxK);
// pointers may be null only for empty matrices. Violations: TT_CHECK.
void Int8GemmRef(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda,
                 int32_t a_zero_point, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc);

// The weights B (K, N), packed once into the panel layout of one kernel
// (kernels/int8_gemm_ukernel.h: panels of NR columns, K in groups of KR, zero-padded),
// with their column sums. Packing is plain C++, so any kernel's layout can be packed on
// any CPU; running it needs the CPU (Int8Gemm checks). Movable, not copyable; a
// default-constructed or moved-from matrix is 0 x 0.
class PackedInt8Matrix {
 public:
  PackedInt8Matrix() = default;
  PackedInt8Matrix(PackedInt8Matrix&& other) noexcept { *this = std::move(other); }
  PackedInt8Matrix& operator=(PackedInt8Matrix&& other) noexcept;
  PackedInt8Matrix(const PackedInt8Matrix&) = delete;
  PackedInt8Matrix& operator=(const PackedInt8Matrix&) = delete;

  // b: int8 (K, N) row-major with row stride ldb >= N. K in [0, kInt8GemmMaxK], N >= 0,
  // b non-null unless K * N == 0 (TT_CHECK). b is not referenced afterwards.
  static PackedInt8Matrix Pack(const int8_t* b, int64_t K, int64_t N, int64_t ldb,
                               Int8Kernel kernel = ActiveInt8Kernel());

  int64_t K() const { return k_; }
  int64_t N() const { return n_; }
  Int8Kernel kernel() const { return kernel_; }
  // sum_k B[k][n] for each n (|.| <= 128 K < 2^24).
  const std::vector<int32_t>& column_sums() const { return column_sums_; }
  // Bytes of the packed panels (not counting column_sums): e.g. N rounded up to 48 times
  // K rounded up to 4 for VNNI; twice that for AVX2, whose panels hold int16.
  int64_t PackedBytes() const { return panels_ * panel_bytes_; }

  // For the driver: panel q (NR columns starting at q * NR), 64-byte aligned.
  const void* panel(int64_t q) const { return data_.get() + q * panel_bytes_; }
  int64_t panels() const { return panels_; }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  int64_t k_ = 0, n_ = 0;
  Int8Kernel kernel_ = Int8Kernel::kScalar;
  int64_t panels_ = 0, panel_bytes_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> data_;
  std::vector<int32_t> column_sums_;
};

// The requantizing epilogue: out = clamp(zp + Requantize(acc + bias[n], mult[n or 0]),
// output_min, output_max), RequantizeRef bit for bit.
struct Int8Epilogue {
  const int32_t* bias = nullptr;  // N entries (int32, in accumulator units) or null
  const FixedPointMultiplier* multipliers = nullptr;  // N entries if per_channel else 1
  bool per_channel = true;
  int32_t output_zero_point = 0;
  int32_t output_min = 0, output_max = 255;  // uint8 output; fused ReLU: output_min = zp
};

// C (M, N) uint8, row stride ldc >= N: A (M, K) uint8 with row stride lda >= K, times the
// packed B, with a_zero_point (in [0, 255]) folded in and the epilogue applied.
// Contract (TT_CHECK): M >= 0; pointers non-null for non-empty matrices; the packed
// kernel supported by this CPU; multipliers non-null and IsValidMultiplier (N of them,
// or 1); 0 <= output_min <= output_max <= 255; output_zero_point in [0, 255]. C must
// not overlap A. acc + bias is computed in wrapping (two's complement) int32: exact
// whenever the true sum fits int32, as it does for any sensible quantized bias.
// M, N or K = 0 work (K = 0: acc = bias).
// One thread; the kernel is the one B was packed for.
void Int8Gemm(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
              int32_t a_zero_point, const Int8Epilogue& epilogue, uint8_t* c, int64_t ldc);

// The raw accumulators: C (M, N) int32 = sum_k (A - a_zero_point) B (+ bias[n] if bias is
// non-null, wrapping), for a last layer that dequantizes to float. Contract as Int8Gemm.
void Int8GemmS32(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
                 int32_t a_zero_point, const int32_t* bias, int32_t* c, int64_t ldc);

// Below this many operations (2 M N K) the threaded variants stay on the calling thread.
// Not measured (the shared 2-core machine was never quiet enough): derived from the f32
// GEMM's measured crossover, 12 MFLOP at ~150 GFLOP/s, i.e. ~80 us of work per call,
// which at the int8 GEMM's ~600 GOP/s is ~48 MOP (about 290^3).
inline constexpr double kInt8GemmThreadedMinOps = 48.0e6;

// Int8Gemm / Int8GemmS32 with the row tiles (or, for few rows, the column panels) split
// over `pool` when 2 M N K >= min_ops and the pool has >= 2 threads; otherwise exactly
// the one-thread call (pool may be null). Results are identical to the one-thread ones.
void Int8GemmThreaded(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
                      int32_t a_zero_point, const Int8Epilogue& epilogue, uint8_t* c,
                      int64_t ldc, accel::ThreadPool* pool,
                      double min_ops = kInt8GemmThreadedMinOps);
void Int8GemmS32Threaded(const PackedInt8Matrix& b, int64_t M, const uint8_t* a,
                         int64_t lda, int32_t a_zero_point, const int32_t* bias, int32_t* c,
                         int64_t ldc, accel::ThreadPool* pool,
                         double min_ops = kInt8GemmThreadedMinOps);

// The epilogue alone, vectorized with ActiveInt8Kernel()'s ISA: out (M, N) uint8 (row
// stride ldo) from acc (M, N) int32 (row stride lda). Same contract and bits as the GEMM
// epilogue.
void Int8Requantize(int64_t M, int64_t N, const int32_t* acc, int64_t lda,
                    const Int8Epilogue& epilogue, uint8_t* out, int64_t ldo);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_INT8_GEMM_H_
