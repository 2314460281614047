// Int8Gemm6x16Avx2: the AVX2 micro-kernel, and the AVX2 requantizing epilogue. Compiled
// with -mavx2 in its own library; called only when Int8KernelSupported(Int8Kernel::kAvx2).
//
// Why not vpmaddubsw (the u8 x s8 instruction): it adds each pair of products into an
// int16 with saturation, and 255 * 127 + 255 * 127 = 64770 does not fit, so it is wrong
// for large activations and weights (libraries that use it restrict the weights to 7
// bits or accept the error). Here both operands are widened to int16 once, outside the
// loop (B when packed, A by the driver, per row block), and vpmaddwd multiplies int16
// pairs into int32 lanes: |255 * -128 * 2| < 2^31, exact. The price: twice the bytes of
// B, and vpmaddwd + vpaddd (two instructions) per 16 multiply-adds per ymm.
//
// Register budget (16 ymm): 12 accumulators (6 rows x 2 vectors of 8 columns), 2 B
// vectors, 1 broadcast A pair, 1 product. B panel: [K/2][16 columns][2 k] int16.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "quantization/kernels/int8_gemm_ukernel.h"

namespace tt::quant::internal {
namespace {

constexpr int kMr = 6;
constexpr int kNv = 2;  // ymm vectors of 8 int32 columns
constexpr int kNr = 8 * kNv;

inline int32_t LoadU32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// All-ones in the 64-bit lanes i < count.
inline __m256i FirstLanes64(int64_t count) {
  const __m256i index = _mm256_set_epi64x(3, 2, 1, 0);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), index);
}

inline __m256i FirstLanes32(int64_t count) {
  const __m256i index = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(count > 8 ? 8 : count)),
                            index);
}

// The requantization constants of 4 columns, one per 64-bit lane. AVX2 has no 64-bit
// arithmetic shift, so the product is offset by 2^62 to make it non-negative (it is
// above -2^62), shifted logically, and the offset, now 2^(62 - shift), is taken back
// out after the clamp (which compares against bounds offset the same way).
struct Requant4 {
  __m256i mult;   // multiplier in the low 32 bits
  __m256i shift;  // 64-bit
  __m256i round;  // 2^(shift-1) + 2^62
  __m256i lo, hi;  // qmin - zp + 2^(62-shift), qmax - zp + 2^(62-shift)
  __m256i out_offset;  // zp - 2^(62-shift)
};

inline Requant4 LoadRequant4(const Int8OutputStage& s, int64_t j0, int64_t n) {
  __m256i params;
  if (s.per_channel) {
    static_assert(sizeof(FixedPointMultiplier) == 8, "FixedPointMultiplier layout");
    params = _mm256_maskload_epi64(reinterpret_cast<const long long*>(s.multipliers + j0),
                                   FirstLanes64(n - j0));
  } else {
    const FixedPointMultiplier m = s.multipliers[0];
    params = _mm256_set1_epi64x((static_cast<int64_t>(m.shift) << 32) |
                                static_cast<uint32_t>(m.multiplier));
  }
  const __m256i one = _mm256_set1_epi64x(1);
  Requant4 r;
  r.mult = params;
  r.shift = _mm256_srli_epi64(params, 32);
  // Masked-off columns have shift 0; their lanes compute garbage that is never stored.
  r.round = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(r.shift, one)),
                             _mm256_set1_epi64x(int64_t{1} << 62));
  const __m256i offset = _mm256_sllv_epi64(one, _mm256_sub_epi64(_mm256_set1_epi64x(62), r.shift));
  r.lo = _mm256_add_epi64(_mm256_set1_epi64x(int64_t{s.qmin} - s.zero_point), offset);
  r.hi = _mm256_add_epi64(_mm256_set1_epi64x(int64_t{s.qmax} - s.zero_point), offset);
  r.out_offset = _mm256_sub_epi64(_mm256_set1_epi64x(s.zero_point), offset);
  return r;
}

// 4 int32 (sign-extended to 64-bit lanes) -> RequantizeRef's value in the low 32 bits.
inline __m256i Requantize4(__m256i x64, const Requant4& r) {
  const __m256i product = _mm256_mul_epi32(x64, r.mult);  // |.| < 2^62
  // (product + 2^(s-1) + 2^62) is in [0, 2^64): an unsigned shift is a floor.
  __m256i q = _mm256_srlv_epi64(_mm256_add_epi64(product, r.round), r.shift);
  q = _mm256_blendv_epi8(q, r.lo, _mm256_cmpgt_epi64(r.lo, q));
  q = _mm256_blendv_epi8(q, r.hi, _mm256_cmpgt_epi64(q, r.hi));
  return _mm256_add_epi64(q, r.out_offset);
}

// Requantizes 8 int32 columns (x + bias) and stores the n (<= 8) first as bytes.
inline void Requantize8Store(__m256i x, const Requant4& r03, const Requant4& r47,
                             uint8_t* out, int64_t n) {
  const __m256i y03 = Requantize4(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(x)), r03);
  const __m256i y47 = Requantize4(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(x, 1)), r47);
  // Low halves of the 64-bit lanes: [y0 y1 y4 y5 | y2 y3 y6 y7], in [0, 255].
  const __m256i y = _mm256_castps_si256(_mm256_shuffle_ps(
      _mm256_castsi256_ps(y03), _mm256_castsi256_ps(y47), _MM_SHUFFLE(2, 0, 2, 0)));
  const __m256i y16 = _mm256_packus_epi32(y, y);     // words [0 1 4 5 . . . . | 2 3 6 7 ...]
  const __m256i y8 = _mm256_packus_epi16(y16, y16);  // bytes [0 1 4 5 ... | 2 3 6 7 ...]
  const __m128i bytes =
      _mm_unpacklo_epi16(_mm256_castsi256_si128(y8), _mm256_extracti128_si256(y8, 1));
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(out, tmp, static_cast<size_t>(n));
  }
}

// C[r][j] = epilogue(tile[r][j] + bias[j]) for r < m, j < n, 8 columns at a time.
void StoreTile(const int32_t* tile, int64_t ld_tile, int m, const Int8UkernelArgs& u) {
  for (int64_t j0 = 0; j0 < u.n; j0 += 8) {
    const __m256i cols = FirstLanes32(u.n - j0);
    const __m256i bias = _mm256_maskload_epi32(u.stage.bias + j0, cols);
    if (u.c_u8 != nullptr) {
      const Requant4 r03 = LoadRequant4(u.stage, j0, u.n);
      const Requant4 r47 = LoadRequant4(u.stage, j0 + 4, u.n);
      for (int r = 0; r < m; ++r) {
        const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(tile + r * ld_tile + j0));
        Requantize8Store(_mm256_add_epi32(x, bias), r03, r47, u.c_u8 + r * u.ldc + j0, u.n - j0);
      }
    } else {
      for (int r = 0; r < m; ++r) {
        const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(tile + r * ld_tile + j0));
        _mm256_maskstore_epi32(u.c_s32 + r * u.ldc + j0, cols, _mm256_add_epi32(x, bias));
      }
    }
  }
}

template <int kM>
void Tile(const Int8UkernelArgs& u) {
  __m256i acc[kM][kNv];
#pragma GCC unroll 6
  for (int r = 0; r < kM; ++r) {
    for (int v = 0; v < kNv; ++v) acc[r][v] = _mm256_setzero_si256();
  }
  const int16_t* a = static_cast<const int16_t*>(u.a);
  const int64_t lda = u.lda;
  const __m256i* b = static_cast<const __m256i*>(u.b);
  // The driver zero-pads A's rows to an even length, so the last pair is readable.
  for (int64_t p = (u.k + 1) >> 1; p > 0; --p) {
    const __m256i b0 = _mm256_load_si256(b);
    const __m256i b1 = _mm256_load_si256(b + 1);
#pragma GCC unroll 6
    for (int r = 0; r < kM; ++r) {
      const __m256i av = _mm256_set1_epi32(LoadU32(a + r * lda));
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
    a += 2;
    b += kNv;
  }

  // The epilogue reads the tile back from the stack: indexing `acc` with run-time
  // bounds (m, n) would make GCC keep the accumulators in memory inside the K loop.
  alignas(32) int32_t tile[kM][kNr];
#pragma GCC unroll 6
  for (int r = 0; r < kM; ++r) {
    for (int v = 0; v < kNv; ++v) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(&tile[r][8 * v]), acc[r][v]);
    }
  }
  StoreTile(&tile[0][0], kNr, kM, u);
}

template <int... kIndex>
constexpr std::array<Int8UkernelFn, sizeof...(kIndex)> MakeTileTable(
    std::integer_sequence<int, kIndex...>) {
  return {&Tile<kIndex + 1>...};
}

}  // namespace

void Int8Gemm6x16Avx2(const Int8UkernelArgs& u) {
  static constexpr auto kTiles = MakeTileTable(std::make_integer_sequence<int, kMr>{});
  kTiles[u.m - 1](u);
}

void Int8RequantizeRowsAvx2(int64_t m, int64_t n, const int32_t* acc, int64_t lda,
                            const Int8OutputStage& stage, uint8_t* out, int64_t ldo) {
  for (int64_t j0 = 0; j0 < n; j0 += 8) {
    const __m256i cols = FirstLanes32(n - j0);
    const __m256i bias = stage.bias == nullptr ? _mm256_setzero_si256()
                                               : _mm256_maskload_epi32(stage.bias + j0, cols);
    const Requant4 r03 = LoadRequant4(stage, j0, n);
    const Requant4 r47 = LoadRequant4(stage, j0 + 4, n);
    for (int64_t r = 0; r < m; ++r) {
      const __m256i x = _mm256_maskload_epi32(acc + r * lda + j0, cols);
      Requantize8Store(_mm256_add_epi32(x, bias), r03, r47, out + r * ldo + j0, n - j0);
    }
  }
}

}  // namespace tt::quant::internal
