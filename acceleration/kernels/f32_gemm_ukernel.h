// The contract between GemmPacked's loops and its register-blocked micro-kernels, and
// the packing routines that prepare their operands. Internal to the acceleration module.
//
// A micro-kernel computes one MR x NR tile of C from two packed micro-panels:
//
//   a: kc groups of MR floats, a[p * MR + r] = alpha * op(A)(i0 + r, p0 + p)
//   b: kc groups of NR floats, b[p * NR + j] = op(B)(p0 + p, j0 + j)
//
//   for p < kc: for r < MR: for j < NR: acc[r][j] += a[p * MR + r] * b[p * NR + j]
//
// so each step p is one outer product: MR broadcasts of A times NR-wide vectors of B,
// all MR x NR partial sums living in registers for the whole kc loop. Packing puts the
// MR (resp. NR) values a step needs next to each other, in the order they are used, and
// zero-pads the edge panels, so the kernel never sees a transpose, a stride or an edge
// inside its loop. Then the kernel writes the tile:
//
//   C[r][j] = acc[r][j] + (beta == 0 ? 0 : beta * C[r][j])   (beta == 0: C not read)
//   C[r][j] = act(C[r][j] + bias[j])                          (only on the last K block)
//
// for r < m, j < n only (edge tiles: m <= MR, n <= NR).
#ifndef TT_ACCELERATION_KERNELS_F32_GEMM_UKERNEL_H_
#define TT_ACCELERATION_KERNELS_F32_GEMM_UKERNEL_H_

#include <cstdint>

#include "tensor/backend.h"

namespace tt::accel::internal {

struct GemmUkernelArgs {
  int64_t kc = 0;            // K steps, >= 1
  const float* a = nullptr;  // packed A micro-panel, 64-byte aligned
  const float* b = nullptr;  // packed B micro-panel, 64-byte aligned
  float* c = nullptr;        // the tile's top-left element
  int64_t ldc = 0;
  int m = 0, n = 0;  // valid rows and columns of the tile: 1..MR, 1..NR
  float beta = 0.0f;
  const float* bias = nullptr;  // n values, or nullptr
  tensor::Activation act = tensor::Activation::kNone;
};

using GemmUkernelFn = void (*)(const GemmUkernelArgs& args);

// Named <dtype>_<op>_<MR>x<NR>_<isa>, like their files. Call an ISA's kernel only when
// IsaSupported() says so: its library is compiled for that ISA.
void F32Gemm4x8Scalar(const GemmUkernelArgs& args);
void F32Gemm6x16Avx2Fma(const GemmUkernelArgs& args);
void F32Gemm14x32Avx512(const GemmUkernelArgs& args);

// Packs alpha * op(A)[i0 : i0+mc, p0 : p0+kc] as ceil(mc / mr) micro-panels of kc x mr
// floats, one after the other in `dst` (rows past mc are zeros).
// a, lda, trans: A as stored (the contract of GemmArgs).
void PackA(const float* a, int64_t lda, tensor::Trans trans, float alpha, int64_t i0,
           int64_t mc, int64_t p0, int64_t kc, int mr, float* dst);

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as micro-panels of kc x nr floats, panel q starting
// at dst + q * kc * nr (columns past nc are zeros). Only panels [panel_begin, panel_end)
// are written, so threads can share the packing of one block.
void PackB(const float* b, int64_t ldb, tensor::Trans trans, int64_t p0, int64_t kc,
           int64_t j0, int64_t nc, int nr, int64_t panel_begin, int64_t panel_end,
           float* dst);

using PackAFn = decltype(&PackA);
using PackBFn = decltype(&PackB);

// PackA / PackB with the transposes vectorized for the 14 x 32 AVX-512 kernel (mr = 14,
// nr = 32; other tiles fall back to PackA / PackB). Same output, bit for bit. dst must be
// 64-byte aligned for PackB14x32Avx512. AVX-512 only.
void PackA14x32Avx512(const float* a, int64_t lda, tensor::Trans trans, float alpha,
                      int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, float* dst);
void PackB14x32Avx512(const float* b, int64_t ldb, tensor::Trans trans, int64_t p0,
                      int64_t kc, int64_t j0, int64_t nc, int nr, int64_t panel_begin,
                      int64_t panel_end, float* dst);

}  // namespace tt::accel::internal

#endif  // TT_ACCELERATION_KERNELS_F32_GEMM_UKERNEL_H_
