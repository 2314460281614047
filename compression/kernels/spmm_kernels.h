// The per-ISA sparse x dense kernels behind compression/sparse_linear.h. Internal: call
// them through SparseLinear, which checks shapes, owns the scratch memory and picks the
// ISA with tt::accel::ActiveIsa() and the formulation by batch size.
//
// Naming: spmm_<isa>.cc, one ISA per file, each in its own library built with that
// ISA's -m flags only (spmm_pack.cc, plain C++, builds the AVX-512 GEMV's layout).
// Functions: Spmv<Isa> (the GEMV, for a few rows) and Spmm<Isa> (the batch-vectorized
// product).
//
// The weight layout: the Linear's weight W is (in, out) and y = x W + b, so output n is
// a dot product of x with column n of W. The kernels keep W^T in CSR, one row per output
// feature, holding that column's nonzeros:
//
//   W[k, n] = values[j] for j in [row_ptr[n], row_ptr[n+1]), k = col_idx[j]
//
// Two formulations of y[r, n] = bias[n] + sum_j values[j] * x[r, col_idx[j]]:
//
// 1. GEMV (Spmv, for few rows), in two forms:
//    - AVX2 and portable, gather: for each output n, load 8 of its nonzeros and their
//      columns, gather the x values at those columns (x is one row, a few KiB: it sits
//      in L1), multiply-add into a vector accumulator and sum the lanes at the end (the
//      portable version loads them one by one). Its speed is the gather's: the CPU
//      issues one load per lane, about 4.6 G lanes/s here (ymm or zmm alike).
//    - AVX-512, "window steps" (StepLayout below): outputs in slices of 16, one per lane
//      of a zmm accumulator. A step multiplies, in every lane, one nonzero of that
//      lane's output by its x value, fetched not by a gather but by vpermi2ps, a
//      register-to-register table lookup of 32 entries. The kernel copies x into
//      chunks of 16 floats, 15 inputs and a zero; a step's window is two consecutive
//      chunks, 30 inputs and two zeros in two zmm registers (aligned loads), and each
//      lane's byte says which of the 32 entries it wants. No gather and no lane sums:
//      the accumulator ends holding 16 finished outputs. The price is idle lanes: a
//      lane with no nonzero in the window picks a zero (value 0 times x 0, so an inf or
//      NaN in x cannot leak into an output that does not use it; a mask would do the
//      same but costs an instruction per step, measured 1.8x slower). The packer
//      slides the window like a sweep line (it starts at the chunk of the smallest
//      column any lane still has to do, so the lane furthest behind always advances),
//      which keeps about 57% of the lanes busy at 90% sparsity (a fixed grid of
//      32-input blocks keeps 50%). Two steps share one window (one load of x per two
//      steps) and four steps share one load of lane bytes (byte j of each 32-bit lane
//      is step j's; a shift right by 8 j exposes it, since vpermi2ps reads only the
//      low 5 bits), so a step costs one load of 16 values, a shift, a permute and an
//      FMA. Measured: 0.85 ns per step, 2.5x faster than the gather kernel, bound by
//      streaming the layout (82 bytes a step) from L2 at about 100 GB/s. (Tried and
//      slower: masked permutes 1.8x, values stored without the idle zeros and expanded
//      with vexpandps 1.9x, unaligned windows 1.07x.)
//    (The other formulation of a GEMV, scatter: for each input k with x[k] != 0, add
//    x[k] * W[k, :] into y at the nonzeros' columns, reads and writes y once per nonzero
//    and needs a scatter; it only pays when x itself is mostly zero.)
//
// 2. Batch (Spmm, for many rows): the rows of x are cut into panels of P rows (P = 64 on
//    AVX-512, 32 on AVX2, 16 portable) and each panel is transposed once into
//    xt: (in, P), so that one input feature's values for the whole panel are
//    consecutive. Then each nonzero is one broadcast and P/16 (or P/8) FMAs:
//
//      yt[n, 0:P] = bias[n] + sum_j values[j] * xt[col_idx[j], 0:P]
//
//    with no gather and no horizontal sum; yt: (out, P) is transposed back into y. The
//    two transposes cost O(P (in + out)), small next to the nnz * P multiply-adds.
//    A last panel of fewer than P rows is padded with zero rows up to the next multiple
//    of the vector width (the padding is computed and not stored). xt of a wide panel
//    does not fit in L1 (784 x 64 floats = 200 KB), so the inputs are taken in blocks
//    whose rows do, each output's partial sums waiting in yt between blocks.
//
// Rounding: every kernel sums the same products in its own order (and with FMA), so the
// results differ from a dense product by rounding only: |error| <= (K + 2) 2^-23
// (sum_k |x_k w_k| + |b|) with K the number of products, the classic summation bound.
#ifndef TT_COMPRESSION_KERNELS_SPMM_KERNELS_H_
#define TT_COMPRESSION_KERNELS_SPMM_KERNELS_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "tensor/check.h"

namespace tt::compress::kernels {

// An owned array aligned to 64 bytes (a cache line, a zmm register), zero-initialized.
template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(int64_t n)
      : data_(static_cast<T*>(std::aligned_alloc(64, RoundedBytes(n)))), size_(n) {
    TT_CHECK(data_ != nullptr || n == 0, "AlignedArray: cannot allocate ", RoundedBytes(n),
             " bytes");
    if (n > 0) std::memset(static_cast<void*>(data_.get()), 0, RoundedBytes(n));
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  int64_t size() const { return size_; }
  T& operator[](int64_t i) { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  static size_t RoundedBytes(int64_t n) { return (n * sizeof(T) + 63) / 64 * 64; }
  std::unique_ptr<T, Free> data_;
  int64_t size_ = 0;
};

inline constexpr int64_t kStepLanes = 16;   // outputs per slice: one zmm of accumulators
inline constexpr int64_t kStepChunk = 15;   // inputs per 16-float chunk (+ a zero)
inline constexpr int64_t kStepWindow = 30;  // inputs per window: two chunks
inline constexpr uint8_t kStepIdle = 15;    // the byte of an idle lane: a zero
inline constexpr int64_t kQuadSteps = 4;    // steps per quad; 2 windows per quad

// The AVX-512 GEMV's weight layout, "window steps". The kernel reads x in chunks:
// chunk c is 16 floats, x[15 c .. 15 c + 15) and then 0, at float offset 16 c of a row
// of x_stride floats (all chunks past the end zero). Slice s holds outputs 16 s ..
// 16 s + 15 (lane i = output 16 s + i; lanes past `out` stay idle) and is a run of
// quads [slice_begin[s], slice_begin[s+1]). Quad q has 4 steps; steps 2h and 2h + 1
// (h = 0, 1) read the window of chunks c and c + 1, x_offset[2 q + h] = 16 c: table
// entry e < 15 is x[15 c + e], e = 16 + f is x[15 c + 15 + f], entries 15 and 31 are 0.
// In step j = 0..3 of quad q, lane i holds one nonzero W[k, n] of output n = 16 s + i,
// 15 c <= k < 15 c + 30:
//   values[64 q + 16 j + i] = W[k, n],   byte j of lanes[16 q + i] = e(k)
// or, when idle, value 0 and byte kStepIdle. Every nonzero of the slice is in exactly
// one step.
struct StepLayout {
  int64_t slices = 0;
  int64_t x_stride = 0;              // 16 * (chunks holding x + 1)
  std::vector<int32_t> slice_begin;  // slices + 1, in quads
  AlignedArray<uint32_t> lanes;      // 16 per quad: 4 steps' window positions, a byte each
  AlignedArray<float> values;        // 64 per quad
  std::vector<int32_t> x_offset;     // 2 per quad
  AlignedArray<float> bias;          // slices * 16: the bias, zero past `out`

  int64_t quads() const { return static_cast<int64_t>(x_offset.size() / 2); }
  int64_t Bytes() const;
};

// W^T in CSR (see above) and the bias. All pointers valid for their sizes; bias has
// `out` values (zeros for a layer without bias), never null. `steps` is the same weight
// in StepLayout form, for the AVX-512 GEMV (nullptr when the CPU has no AVX-512).
struct SparseWeight {
  int64_t in = 0, out = 0;
  const int32_t* row_ptr = nullptr;  // out + 1
  const int32_t* col_idx = nullptr;  // nnz, each in [0, in)
  const float* values = nullptr;     // nnz
  const float* bias = nullptr;       // out
  const StepLayout* steps = nullptr;
};

// The StepLayout of W^T given in CSR (out rows, in columns, columns increasing within a
// row) and its bias (out values). Plain C++ (spmm_pack.cc).
StepLayout PackSteps(const SparseWeight& w);

// The widest panel of any ISA: SparseLinear sizes the scratch with it.
inline constexpr int64_t kSpmmMaxPanel = 64;
// Rows the AVX-512 GEMV runs together (sharing each step's loads of values and bytes).
inline constexpr int64_t kSpmvMaxRows = 4;

// Floats of 64-byte aligned scratch that Spmv* and Spmm* need: for Spmm xt (in, P) and
// yt (out, P); for Spmv up to kSpmvMaxRows rows of x in chunks (StepXStride).
inline int64_t StepXStride(int64_t in) { return 16 * ((in + kStepChunk - 1) / kStepChunk + 1); }
inline int64_t SpmmScratchFloats(int64_t in, int64_t out) {
  const int64_t spmm = (in + out) * kSpmmMaxPanel;
  const int64_t spmv = kSpmvMaxRows * StepXStride(in);
  return spmm > spmv ? spmm : spmv;
}

// x: (rows, in) row-major -> y: (rows, out) row-major, y = x W + bias, then
// y = max(y, 0) when `relu` (NaN becomes 0, as tensor's ReLU does). rows >= 1, in >= 1,
// out >= 1. y must not overlap x. scratch: SpmmScratchFloats(in, out) floats, 64-byte
// aligned. SpmvAvx512 needs w.steps.
void SpmvScalar(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* scratch);
void SpmvAvx2(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
              float* scratch);
void SpmvAvx512(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* scratch);

// The same contract, batch-vectorized.
void SpmmScalar(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* scratch);
void SpmmAvx2(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
              float* scratch);
void SpmmAvx512(const SparseWeight& w, const float* x, int64_t rows, bool relu, float* y,
                float* scratch);

}  // namespace tt::compress::kernels

#endif  // TT_COMPRESSION_KERNELS_SPMM_KERNELS_H_
