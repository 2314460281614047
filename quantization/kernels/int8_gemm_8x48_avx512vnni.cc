// Int8Gemm8x48Avx512Vnni: the AVX-512 VNNI micro-kernel, and the AVX-512 requantizing
// epilogue. Compiled with -mavx512f/bw/vl/vnni in its own library; called only when
// Int8KernelSupported(Int8Kernel::kAvx512Vnni).
//
// The instruction: vpdpbusd acc, a, b treats each 32-bit lane of a as 4 unsigned bytes
// and of b as 4 signed bytes, and adds the 4 products to the int32 lane of acc: 64
// multiply-adds in one instruction, no saturation. So B is packed with 4 consecutive k
// of a column in one lane (KR = 4), and A contributes 4 consecutive bytes of a row,
// broadcast to all 16 lanes (vpbroadcastd straight from A's row: no packing of A).
//
// Register budget (32 zmm): 24 accumulators (8 rows x 3 vectors of 16 columns), 3 B
// vectors per k-group, 1 broadcast A value, 4 spare. Why 8 x 48: this core (Sapphire
// Rapids) issues two vpdpbusd zmm per cycle with a 5-cycle latency, so >= 10 independent
// accumulators must be in flight; per k-group (4 k) the tile does 24 vpdpbusd for 3 + 8
// = 11 loads, under the two to three loads per cycle the core sustains beside them.
// Swept (the kernel alone over a ~1024 x 1024 x 1024 product, one thread, GOP/s; peak
// measured with register-only vpdpbusd: ~720): 8x48 620-750, 7x64 696, 6x64 691, 10x32
// 663, 12x32 663, 14x32 555. Runs vary by +-10% on the shared machine, so all but 14x32
// tie. 8x48 is kept: 48-column panels pad less than 64-column ones on N that is not a
// multiple of 64, and 8-row tiles waste less than 10-12 on small M.
//
// Code generation matters as much as the tile: the accumulators are an array, and GCC
// keeps them in registers only if every loop over them is fully unrolled (the unroll
// pragmas must cover MR) and, after the K loop, nothing but constant-index stores touch
// them. So the K tail (up to 3 bytes, masked loads) is done *before* the main loop,
// and the epilogue reads the tile back from a stack copy. Written the obvious way
// (tail after the loop, epilogue straight from the registers) GCC 12 spills all 24
// accumulators every iteration and the kernel runs at 300 GOP/s instead of 700.
//
// Edges: rows past m are not computed (the tile is a template instantiated for m = 1..8,
// picked from a table), columns past n are computed on B's zero padding and not stored
// (masked stores), the K tail (K % 4 bytes) is read with a masked byte load that never
// touches memory past the row.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "quantization/kernels/int8_gemm_ukernel.h"

namespace tt::quant::internal {
namespace {

constexpr int kMr = 8;
constexpr int kNv = 3;  // zmm vectors of 16 int32 columns
constexpr int kNr = 16 * kNv;

inline __mmask16 FirstLanes16(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
         : count <= 0 ? static_cast<__mmask16>(0)
                      : static_cast<__mmask16>((1u << count) - 1);
}

inline __mmask8 FirstLanes8(int64_t count) {
  return count >= 8 ? static_cast<__mmask8>(0xFF)
         : count <= 0 ? static_cast<__mmask8>(0)
                      : static_cast<__mmask8>((1u << count) - 1);
}

inline int32_t LoadU32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The per-column constants of the requantization of 16 columns, as 64-bit lanes: even
// lanes of the accumulator (columns 0, 2, .., 14) go through the *_even vectors, odd
// ones (1, 3, .., 15) through *_odd. vpmuldq multiplies the low signed 32 bits of each
// 64-bit lane, so the accumulator's even columns are used in place and its odd columns
// after a 32-bit right shift.
struct Requant16 {
  __m512i mult_even, mult_odd;    // multiplier in the low 32 bits
  __m512i shift_even, shift_odd;  // shift, 64-bit
  __m512i round_even, round_odd;  // 2^(shift - 1), 64-bit
  __m512i lo, hi;                 // qmin - zero_point, qmax - zero_point, 64-bit
  __m512i zero_point;             // 32-bit
};

inline Requant16 LoadRequant16(const Int8OutputStage& s, int64_t j0, int64_t n) {
  __m512i even, odd;
  if (s.per_channel) {
    // FixedPointMultiplier is {multiplier, shift}: 8 of them fill a zmm as 64-bit lanes
    // (multiplier low, shift high). Gather columns 0,2,..,14 and 1,3,..,15 from the two.
    static_assert(sizeof(FixedPointMultiplier) == 8, "FixedPointMultiplier layout");
    const __m512i c0_7 = _mm512_maskz_loadu_epi64(FirstLanes8(n - j0), s.multipliers + j0);
    const __m512i c8_15 =
        _mm512_maskz_loadu_epi64(FirstLanes8(n - j0 - 8), s.multipliers + j0 + 8);
    const __m512i idx_even =
        _mm512_set_epi32(29, 28, 25, 24, 21, 20, 17, 16, 13, 12, 9, 8, 5, 4, 1, 0);
    const __m512i idx_odd =
        _mm512_set_epi32(31, 30, 27, 26, 23, 22, 19, 18, 15, 14, 11, 10, 7, 6, 3, 2);
    even = _mm512_permutex2var_epi32(c0_7, idx_even, c8_15);
    odd = _mm512_permutex2var_epi32(c0_7, idx_odd, c8_15);
  } else {
    const FixedPointMultiplier m = s.multipliers[0];
    even = odd = _mm512_set1_epi64((static_cast<int64_t>(m.shift) << 32) |
                                   static_cast<uint32_t>(m.multiplier));
  }
  Requant16 r;
  const __m512i one = _mm512_set1_epi64(1);
  r.mult_even = even;
  r.mult_odd = odd;
  r.shift_even = _mm512_srli_epi64(even, 32);
  r.shift_odd = _mm512_srli_epi64(odd, 32);
  // Masked-off columns have shift 0: 1 << -1 shifts everything out (0), harmlessly.
  r.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_even, one));
  r.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_odd, one));
  r.lo = _mm512_set1_epi64(static_cast<int64_t>(s.qmin) - s.zero_point);
  r.hi = _mm512_set1_epi64(static_cast<int64_t>(s.qmax) - s.zero_point);
  r.zero_point = _mm512_set1_epi32(s.zero_point);
  return r;
}

// clamp(zp + ((x * multiplier + 2^(shift-1)) >> shift), qmin, qmax) for 16 int32 lanes:
// exactly RequantizeRef.
inline __m512i Requantize16(__m512i x, const Requant16& r) {
  __m512i even = _mm512_mul_epi32(x, r.mult_even);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), r.mult_odd);
  even = _mm512_srav_epi64(_mm512_add_epi64(even, r.round_even), r.shift_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, r.round_odd), r.shift_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, r.lo), r.hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, r.lo), r.hi);
  // Odd results into the odd 32-bit lanes (their low halves, moved up by the shuffle).
  const __m512i y = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
  return _mm512_add_epi32(y, r.zero_point);
}

// C[r][j] = epilogue(tile[r][j] + bias[j]) for r < m, j < n, 16 columns at a time so
// that each column vector's constants are computed once.
void StoreTile(const int32_t* tile, int64_t ld_tile, int m, const Int8UkernelArgs& u) {
  for (int64_t j0 = 0; j0 < u.n; j0 += 16) {
    const __mmask16 cols = FirstLanes16(u.n - j0);
    const __m512i bias = _mm512_maskz_loadu_epi32(cols, u.stage.bias + j0);
    if (u.c_u8 != nullptr) {
      const Requant16 rq = LoadRequant16(u.stage, j0, u.n);
      for (int r = 0; r < m; ++r) {
        const __m512i x = _mm512_load_si512(tile + r * ld_tile + j0);
        _mm512_mask_cvtepi32_storeu_epi8(u.c_u8 + r * u.ldc + j0, cols,
                                         Requantize16(_mm512_add_epi32(x, bias), rq));
      }
    } else {
      for (int r = 0; r < m; ++r) {
        const __m512i x = _mm512_load_si512(tile + r * ld_tile + j0);
        _mm512_mask_storeu_epi32(u.c_s32 + r * u.ldc + j0, cols, _mm512_add_epi32(x, bias));
      }
    }
  }
}

// kNu: how many of the panel's kNv column vectors are used. A panel narrower than 48
// columns (N = 16 or 32, as in small convolutions) skips the vectors that would only
// multiply B's zero padding: a third of the work at N = 16.
template <int kM, int kNu>
void Tile(const Int8UkernelArgs& u) {
  __m512i acc[kM][kNu];
#pragma GCC unroll 8
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < kNu; ++v) acc[r][v] = _mm512_setzero_si512();
  }

  const uint8_t* a = static_cast<const uint8_t*>(u.a);
  const int64_t lda = u.lda;
  const __m512i* b = static_cast<const __m512i*>(u.b);
  const int64_t groups = u.k >> 2;
  // The K tail first (see the top of the file for why not last): B's padding bytes are
  // zero, so the masked-off A bytes (zeros) add nothing.
  if (const int tail = static_cast<int>(u.k & 3)) {
    const __mmask16 bytes = static_cast<__mmask16>((1u << tail) - 1);
    const __m512i* bt = b + groups * kNv;
    __m512i bv[kNu];
#pragma GCC unroll 4
    for (int v = 0; v < kNu; ++v) bv[v] = _mm512_load_si512(bt + v);
#pragma GCC unroll 8
    for (int r = 0; r < kM; ++r) {
      const __m512i av =
          _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(bytes, a + r * lda + 4 * groups));
#pragma GCC unroll 4
      for (int v = 0; v < kNu; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
    }
  }
  for (int64_t g = groups; g > 0; --g) {
    __m512i bv[kNu];
#pragma GCC unroll 4
    for (int v = 0; v < kNu; ++v) bv[v] = _mm512_load_si512(b + v);
#pragma GCC unroll 8
    for (int r = 0; r < kM; ++r) {
      const __m512i av = _mm512_set1_epi32(LoadU32(a + r * lda));
#pragma GCC unroll 4
      for (int v = 0; v < kNu; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
    }
    a += 4;
    b += kNv;
  }

  // The epilogue reads the tile back from the stack: indexing `acc` with run-time
  // bounds (m, n) would make GCC keep the accumulators in memory inside the K loop.
  alignas(64) int32_t tile[kM][kNr];
#pragma GCC unroll 8
  for (int r = 0; r < kM; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < kNu; ++v) _mm512_store_si512(&tile[r][16 * v], acc[r][v]);
  }
  StoreTile(&tile[0][0], kNr, kM, u);
}

template <int kNu, int... kIndex>
constexpr std::array<Int8UkernelFn, sizeof...(kIndex)> MakeTileTable(
    std::integer_sequence<int, kIndex...>) {
  return {&Tile<kIndex + 1, kNu>...};
}

}  // namespace

void Int8Gemm8x48Avx512Vnni(const Int8UkernelArgs& u) {
  // Tile<1, nu> .. Tile<kMr, nu>, indexed by [nu - 1][m - 1], nu = used column vectors.
  static constexpr std::array<std::array<Int8UkernelFn, kMr>, kNv> kTiles = {
      MakeTileTable<1>(std::make_integer_sequence<int, kMr>{}),
      MakeTileTable<2>(std::make_integer_sequence<int, kMr>{}),
      MakeTileTable<3>(std::make_integer_sequence<int, kMr>{})};
  static_assert(kNv == 3, "one table per used vector count");
  kTiles[(u.n + 15) / 16 - 1][u.m - 1](u);
}

void Int8RequantizeRowsAvx512(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                              const Int8OutputStage& stage, uint8_t* out, int64_t ldo) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const __mmask16 cols = FirstLanes16(n - j0);
    const __m512i bias = stage.bias == nullptr ? _mm512_setzero_si512()
                                               : _mm512_maskz_loadu_epi32(cols, stage.bias + j0);
    const Requant16 rq = LoadRequant16(stage, j0, n);
    for (int64_t r = 0; r < m; ++r) {
      const __m512i x = _mm512_maskz_loadu_epi32(cols, acc + r * lda + j0);
      _mm512_mask_cvtepi32_storeu_epi8(out + r * ldo + j0, cols,
                                       Requantize16(_mm512_add_epi32(x, bias), rq));
    }
  }
}

}  // namespace tt::quant::internal
