// F32Gemm6x16Avx2Fma: the AVX2+FMA micro-kernel. Compiled with -mavx2 -mfma in its own
// library; called only when IsaSupported(Isa::kAvx2Fma).
//
// Register budget (16 ymm registers of 8 floats):
//   12  accumulators: the 6 x 16 tile of C, two ymm per row
//    2  the 16 values of B for step p
//    1  the broadcast A value of the current row
//    1  spare
// Per step p: 2 loads + 6 broadcasts feed 12 FMAs (0.67 loads per FMA). 12 accumulators
// cover the 2 ports x 4 cycles = 8 FMAs that must be in flight; a 6 x 16 tile is the
// largest that fits 16 registers with two B vectors (the classic Haswell BLIS shape).
// Edge columns use vmaskmovps with a lane mask; edge rows are computed and not stored.
#include <immintrin.h>

#include "acceleration/kernels/f32_gemm_ukernel.h"

namespace tt::accel::internal {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

// exp(t), t clamped to [-87, 88], ~2 ulp: t = n ln2 + r, Taylor series of degree 7 for
// exp(r), 2^n built in the exponent bits (n is in [-126, 127] after the clamp).
inline __m256 ExpAvx2(__m256 t) {
  t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), t);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// GELU as x / (1 + exp(-2z)) (see the AVX-512 kernel for why this form).
inline __m256 GeluAvx2(__m256 x) {
  const __m256 x2 = _mm256_mul_ps(x, x);
  const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(x2, _mm256_set1_ps(0.044715f)), x, x);
  const __m256 e = ExpAvx2(_mm256_mul_ps(inner, _mm256_set1_ps(-2.0f * 0.7978845608028654f)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 Activate(__m256 v, tensor::Activation act) {
  switch (act) {
    case tensor::Activation::kNone:
      return v;
    case tensor::Activation::kRelu:
      return _mm256_max_ps(v, _mm256_setzero_ps());
    case tensor::Activation::kGelu:
      return GeluAvx2(v);
  }
  return v;
}

// All-ones in lanes j < count, zero elsewhere (the mask vmaskmovps wants).
inline __m256i FirstLanes(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

void F32Gemm6x16Avx2Fma(const GemmUkernelArgs& u) {
  __m256 acc0[kMr], acc1[kMr];
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();

  const float* a = u.a;
  const float* b = u.b;
  for (int64_t p = 0; p < u.kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMr; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMr;
    b += kNr;
  }

  const __m256i k0 = FirstLanes(u.n), k1 = FirstLanes(u.n - 8);
  const bool has_bias = u.bias != nullptr;
  const __m256 bias0 = has_bias ? _mm256_maskload_ps(u.bias, k0) : _mm256_setzero_ps();
  const __m256 bias1 = has_bias ? _mm256_maskload_ps(u.bias + 8, k1) : _mm256_setzero_ps();
  const __m256 beta = _mm256_set1_ps(u.beta);
#pragma GCC unroll 6
  for (int r = 0; r < kMr; ++r) {
    if (r >= u.m) break;
    float* c = u.c + r * u.ldc;
    __m256 v0 = acc0[r], v1 = acc1[r];
    if (u.beta != 0.0f) {  // beta == 0: C is not read (it may hold NaN)
      v0 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c, k0), v0);
      v1 = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c + 8, k1), v1);
    }
    if (has_bias) {
      v0 = _mm256_add_ps(v0, bias0);
      v1 = _mm256_add_ps(v1, bias1);
    }
    _mm256_maskstore_ps(c, k0, Activate(v0, u.act));
    _mm256_maskstore_ps(c + 8, k1, Activate(v1, u.act));
  }
}

}  // namespace tt::accel::internal
