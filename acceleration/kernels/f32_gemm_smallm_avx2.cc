// F32GemmSmallMAvx2Fma: the small-M product (M = 1..7) with AVX2+FMA, B streamed once
// from where it is stored (see f32_gemm_smallm.h for the loops, and the AVX-512 kernel
// for the reasoning; this is the same code with 8-float vectors). Compiled with -mavx2
// -mfma in its own library; called only when IsaSupported(Isa::kAvx2Fma).
//
// tb == kNo, register budget (16 ymm of 8 floats): M x V accumulators, at most 12, plus
// the B vectors and the broadcast A value:
//   M = 1: V = 8 (64 columns; B is a memory operand of the FMA, no B register needed)
//   M = 2, 3: V = 4 (8, 12 accumulators);  M = 4..6: V = 2 (8..12);  M = 7: V = 1 (7)
// The column tail uses halving widths and vmaskmovps on the last vector.
//
// tb == kYes: dot products, 4 rows of B x up to 2 rows of A (8 accumulators + 4 B + 1 A
// registers), the K tail masked, then a horizontal add per C element.
#include <immintrin.h>

#include <algorithm>

#include "acceleration/kernels/f32_gemm_epilogue_avx2.h"
#include "acceleration/kernels/f32_gemm_smallm.h"

namespace tt::accel::internal {
namespace {

using avx2::Activate;
using avx2::FirstLanes;

constexpr int kLanes = 8;
constexpr int kVectorsPerLine = 2;  // 64-byte cache lines

// B rows are prefetched this many steps ahead (see the AVX-512 kernel).
constexpr int64_t kPrefetchRows = 8;

// The widest column block (in vectors) for m rows: m x V <= 12 accumulators, V a power
// of two, at most 8.
constexpr int MaxVectors(int m) { return m == 1 ? 8 : m <= 3 ? 4 : m <= 6 ? 2 : 1; }

// C = act(acc + beta * C + bias) on the lanes of `mask`; c and bias point at lane 0.
// Not inlined: called once per output vector, and one copy of the GELU code serves all
// the unrolled call sites.
[[gnu::noinline]] void StoreLanes(__m256 acc, float* c, __m256i mask, float beta,
                                  const float* bias, tensor::Activation act) {
  if (beta != 0.0f) {  // beta == 0: C is not read (it may hold NaN)
    acc = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_maskload_ps(c, mask), acc);
  }
  if (bias != nullptr) acc = _mm256_add_ps(acc, _mm256_maskload_ps(bias, mask));
  _mm256_maskstore_ps(c, mask, Activate(acc, act));
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// tb == kNo: C(0 : kM, j0 : j0 + 8 kV); the last vector holds only the columns of `last`.
template <int kM, int kV>
void RowsTimesB(const GemmSmallMArgs& u, int64_t j0, __m256i last) {
  __m256 acc[kM][kV];
#pragma GCC unroll 7
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) acc[r][v] = _mm256_setzero_ps();
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
#pragma GCC unroll 8
    for (int v = 0; v < kV; v += kVectorsPerLine) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + v * kLanes), _MM_HINT_T0);
    }
    __m256 bv[kV];
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) {
      bv[v] = v < kV - 1 ? _mm256_loadu_ps(b + v * kLanes)
                         : _mm256_maskload_ps(b + v * kLanes, last);
    }
#pragma GCC unroll 7
    for (int r = 0; r < kM; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a[r] + p);
#pragma GCC unroll 8
      for (int v = 0; v < kV; ++v) acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  const __m256i all = _mm256_set1_epi32(-1);
  // Unrolled like the loop above, so that acc stays a set of registers (a loop over it
  // would make GCC keep a copy of the array in memory, stored on every step p).
#pragma GCC unroll 7
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < kV; ++v) {
      const int64_t j = j0 + v * kLanes;
      StoreLanes(acc[r][v], u.c + r * u.ldc + j, v < kV - 1 ? all : last, u.beta,
                 u.bias == nullptr ? nullptr : u.bias + j, u.act);
    }
  }
}

template <int kM, int kV>
void RowsTimesBIfFits(const GemmSmallMArgs& u, int64_t j0, __m256i last) {
  if constexpr (kV <= MaxVectors(kM)) RowsTimesB<kM, kV>(u, j0, last);
}

// All columns in blocks: the widest block while it is full, then halving widths.
template <int kM>
void RowsTimesBAllColumns(const GemmSmallMArgs& u) {
  for (int64_t j = 0; j < u.n;) {
    const int64_t vectors = (u.n - j + kLanes - 1) / kLanes;
    int v = MaxVectors(kM);
    while (v > vectors) v /= 2;
    const __m256i last = FirstLanes(u.n - j - (v - 1) * kLanes);
    switch (v) {
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
  __m256 acc[kM][kJ];
  const float* a[kM];
  const float* b[kJ];
#pragma GCC unroll 2
  for (int r = 0; r < kM; ++r) {
    a[r] = u.a + (r0 + r) * u.lda;
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) acc[r][q] = _mm256_setzero_ps();
  }
#pragma GCC unroll 4
  for (int q = 0; q < kJ; ++q) b[q] = u.b + (j0 + q) * u.ldb;
  // One step: 8 values of K (the lanes of `mask`; masked-off lanes load zeros).
  auto step = [&](int64_t p, __m256i mask, bool full) {
    __m256 bv[kJ];
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) {
      bv[q] = full ? _mm256_loadu_ps(b[q] + p) : _mm256_maskload_ps(b[q] + p, mask);
    }
#pragma GCC unroll 2
    for (int r = 0; r < kM; ++r) {
      const __m256 av = full ? _mm256_loadu_ps(a[r] + p) : _mm256_maskload_ps(a[r] + p, mask);
#pragma GCC unroll 4
      for (int q = 0; q < kJ; ++q) acc[r][q] = _mm256_fmadd_ps(av, bv[q], acc[r][q]);
    }
  };
  const int64_t k = u.k;
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes) step(p, _mm256_set1_epi32(-1), true);
  if (p < k) step(p, FirstLanes(k - p), false);
  const __m256i cols = FirstLanes(kJ);
#pragma GCC unroll 4
  for (int r = 0; r < kM; ++r) {
    alignas(32) float sums[kLanes] = {};
#pragma GCC unroll 4
    for (int q = 0; q < kJ; ++q) sums[q] = HorizontalSum(acc[r][q]);
    StoreLanes(_mm256_load_ps(sums), u.c + (r0 + r) * u.ldc + j0, cols, u.beta,
               u.bias == nullptr ? nullptr : u.bias + j0, u.act);
  }
}

template <int kJ>
void RowGroupsDotB(const GemmSmallMArgs& u, int64_t j0) {
  for (int r0 = 0; r0 < u.m; r0 += 2) {
    if (u.m - r0 >= 2) {
      RowsDotB<2, kJ>(u, r0, j0);
    } else {
      RowsDotB<1, kJ>(u, r0, j0);
    }
  }
}

}  // namespace

void F32GemmSmallMAvx2Fma(const GemmSmallMArgs& u) {
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
