// F32GemmSmallMAvx512: the small-M product (M = 1..7) with AVX-512, B streamed once
// from where it is stored (see f32_gemm_smallm.h for the loops). Compiled with
// -mavx512f -mfma in its own library; called only when IsaSupported(Isa::kAvx512).
//
// tb == kNo, register budget (32 zmm of 16 floats): an M x V block of accumulators,
// V vectors of B (one row segment of 16 V columns), 1 broadcast A value:
//   M = 1: V = 16 (256 columns: a whole 784x256 layer's output row stays in registers)
//   M = 2, 3: V = 8 (16, 24 accumulators);   M = 4..7: V = 4 (16..28 accumulators)
// Per step p: V loads + M broadcasts feed M x V FMAs, and at M >= 2 there are at least
// 8 independent accumulators, enough to cover the FMA latency (4 cycles x 2 ports). At
// M = 1 each B value feeds one FMA, so the kernel runs at the speed B arrives from the
// cache (the 784x256 weights, 0.8 MB, live in the 2 MiB L2 between calls); the wide
// block makes that one sequential stream, and software prefetches 8 rows ahead keep more
// of it in flight than the hardware prefetchers do (+10-20%). Narrower blocks cover the
// column tail (widths halve down to one vector), and the last vector of the last block
// is masked (__mmask16), so nothing past column N is read or written.
//
// tb == kYes: dot products. 4 rows of B (in L1) x up to 4 rows of A: 16 accumulators,
// 4 + 4 loads per 16 FMAs per 16 values of K, the K tail masked; then each accumulator's
// 16 lanes are summed (one horizontal add tree per C element, amortized over K / 16
// steps).
//
// The epilogue (beta * C, bias, ReLU/GELU) runs while the accumulators are in registers,
// with the same helpers as the 14x32 micro-kernel (f32_gemm_epilogue_avx512.h).
#include <immintrin.h>

#include <algorithm>

#include "acceleration/kernels/f32_gemm_epilogue_avx512.h"
#include "acceleration/kernels/f32_gemm_smallm.h"

namespace tt::accel::internal {
namespace {

using avx512::Activate;
using avx512::FirstLanes;

constexpr int kLanes = 16;
constexpr int kVectorsPerLine = 1;  // 64-byte cache lines
constexpr __mmask16 kAll = 0xFFFF;

// B rows are prefetched this many steps ahead: the hardware prefetchers alone leave the
// M = 1 loop waiting for L2 (77 GB/s measured without, 86-93 GB/s with 4..16 rows).
constexpr int64_t kPrefetchRows = 8;

// The widest column block (in vectors) for m rows: m x V <= 28 accumulators, V a power
// of two, at most 16.
constexpr int MaxVectors(int m) { return m == 1 ? 16 : m <= 3 ? 8 : 4; }

// C = act(acc + beta * C + bias) on the lanes of `mask`; c and bias point at lane 0.
// Not inlined: called once per output vector, and one copy of the GELU code serves all
// the unrolled call sites.
[[gnu::noinline]] void StoreLanes(__m512 acc, float* c, __mmask16 mask, float beta,
                                  const float* bias, tensor::Activation act) {
  if (beta != 0.0f) {  // beta == 0: C is not read (it may hold NaN)
    acc = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, c), acc);
  }
  if (bias != nullptr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, bias));
  _mm512_mask_storeu_ps(c, mask, Activate(acc, act));
}

// tb == kNo: C(0 : kM, j0 : j0 + 16 kV); the last vector holds only the columns of `last`.
template <int kM, int kV>
void RowsTimesB(const GemmSmallMArgs& u, int64_t j0, __mmask16 last) {
  __m512 acc[kM][kV];
#pragma GCC unroll 7
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  const float* a[kM];
#pragma GCC unroll 7
  for (int r = 0; r < kM; ++r) a[r] = u.a + r * u.lda;
  const float* b = u.b + j0;
  const int64_t k = u.k, ldb = u.ldb;
  for (int64_t p = 0; p < k; ++p, b += ldb) {
    // The row kPrefetchRows ahead, one prefetch per cache line (the current row near
    // the end: no pointer past B is formed).
    const float* ahead = p + kPrefetchRows < k ? b + kPrefetchRows * ldb : b;
#pragma GCC unroll 16
    for (int v = 0; v < kV; v += kVectorsPerLine) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + v * kLanes), _MM_HINT_T0);
    }
    __m512 bv[kV];
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) {
      bv[v] = v < kV - 1 ? _mm512_loadu_ps(b + v * kLanes)
                         : _mm512_maskz_loadu_ps(last, b + v * kLanes);
    }
#pragma GCC unroll 7
    for (int r = 0; r < kM; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r][p]);
#pragma GCC unroll 16
      for (int v = 0; v < kV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  // Unrolled like the loop above, so that acc stays a set of registers (a loop over it
  // would make GCC keep a copy of the array in memory, stored on every step p).
#pragma GCC unroll 7
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < kV; ++v) {
      const int64_t j = j0 + v * kLanes;
      StoreLanes(acc[r][v], u.c + r * u.ldc + j, v < kV - 1 ? kAll : last, u.beta,
                 u.bias == nullptr ? nullptr : u.bias + j, u.act);
    }
  }
}

template <int kM, int kV>
void RowsTimesBIfFits(const GemmSmallMArgs& u, int64_t j0, __mmask16 last) {
  if constexpr (kV <= MaxVectors(kM)) RowsTimesB<kM, kV>(u, j0, last);
}

// All columns in blocks: the widest block while it is full, then halving widths for the
// tail (e.g. N = 33 at M = 1: 2 vectors, then 1 vector with one column).
template <int kM>
void RowsTimesBAllColumns(const GemmSmallMArgs& u) {
  for (int64_t j = 0; j < u.n;) {
    const int64_t vectors = (u.n - j + kLanes - 1) / kLanes;
    int v = MaxVectors(kM);
    while (v > vectors) v /= 2;
    const __mmask16 last = FirstLanes(u.n - j - (v - 1) * kLanes);
    switch (v) {
      case 16:
        RowsTimesBIfFits<kM, 16>(u, j, last);
        break;
      case 8:
        RowsTimesBIfFits<kM, 8>(u, j, last);
        break;
      case 4:
        RowsTimesBIfFits<kM, 4>(u, j, last);
        break;
      case 2:
        RowsTimesBIfFits<kM, 2>(u, j, last);
        break;
      default:
        RowsTimesBIfFits<kM, 1>(u, j, last);
        break;
    }
    j += v * kLanes;
  }
}

// tb == kYes: C(r0 : r0 + kM, j0 : j0 + kJ) as dot products of rows of A and rows of B.
template <int kM, int kJ>
void RowsDotB(const GemmSmallMArgs& u, int r0, int64_t j0) {
  __m512 acc[kM][kJ];
  const float* a[kM];
  const float* b[kJ];
#pragma GCC unroll 4
  for (int r = 0; r < kM; ++r) {
    a[r] = u.a + (r0 + r) * u.lda;
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) acc[r][q] = _mm512_setzero_ps();
  }
#pragma GCC unroll 4
  for (int q = 0; q < kJ; ++q) b[q] = u.b + (j0 + q) * u.ldb;
  // One step: 16 values of K (the lanes of `mask`; masked-off lanes load zeros).
  auto step = [&](int64_t p, __mmask16 mask) {
    __m512 bv[kJ];
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) bv[q] = _mm512_maskz_loadu_ps(mask, b[q] + p);
#pragma GCC unroll 4
    for (int r = 0; r < kM; ++r) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a[r] + p);
#pragma GCC unroll 4
      for (int q = 0; q < kJ; ++q) acc[r][q] = _mm512_fmadd_ps(av, bv[q], acc[r][q]);
    }
  };
  const int64_t k = u.k;
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes) step(p, kAll);
  if (p < k) step(p, FirstLanes(k - p));
  const __mmask16 cols = FirstLanes(kJ);
#pragma GCC unroll 4
  for (int r = 0; r < kM; ++r) {
    alignas(64) float sums[kLanes] = {};
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) sums[q] = _mm512_reduce_add_ps(acc[r][q]);
    StoreLanes(_mm512_load_ps(sums), u.c + (r0 + r) * u.ldc + j0, cols, u.beta,
               u.bias == nullptr ? nullptr : u.bias + j0, u.act);
  }
}

template <int kJ>
void RowGroupsDotB(const GemmSmallMArgs& u, int64_t j0) {
  for (int r0 = 0; r0 < u.m; r0 += 4) {
    switch (std::min(4, u.m - r0)) {
      case 4:
        RowsDotB<4, kJ>(u, r0, j0);
        break;
      case 3:
        RowsDotB<3, kJ>(u, r0, j0);
        break;
      case 2:
        RowsDotB<2, kJ>(u, r0, j0);
        break;
      default:
        RowsDotB<1, kJ>(u, r0, j0);
        break;
    }
  }
}

}  // namespace

void F32GemmSmallMAvx512(const GemmSmallMArgs& u) {
  if (u.tb == tensor::Trans::kYes) {
    int64_t j = 0;
    for (; j + 4 <= u.n; j += 4) RowGroupsDotB<4>(u, j);
    for (; j < u.n; ++j) RowGroupsDotB<1>(u, j);
    return;
  }
  switch (u.m) {
    case 1:
      return RowsTimesBAllColumns<1>(u);
    case 2:
      return RowsTimesBAllColumns<2>(u);
    case 3:
      return RowsTimesBAllColumns<3>(u);
    case 4:
      return RowsTimesBAllColumns<4>(u);
    case 5:
      return RowsTimesBAllColumns<5>(u);
    case 6:
      return RowsTimesBAllColumns<6>(u);
    default:
      return RowsTimesBAllColumns<7>(u);
  }
}

}  // namespace tt::accel::internal
