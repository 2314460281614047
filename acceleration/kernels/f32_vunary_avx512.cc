// f32 unary maps and their backward passes, AVX-512: 16 lanes per step, the last partial
// step under a mask, so every element goes through the same vector code (results do not
// depend on an element's position or on n).
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx512.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx512;
using tensor::UnaryOp;

// y[i] = f(x[i]). y may alias x: each block is loaded before it is stored.
template <typename F>
void Map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = v::TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

// out[i] = f(u[i], w[i]); out may alias u or w.
template <typename F>
void Map2(const float* u, const float* w, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(u + i), _mm512_loadu_ps(w + i)));
  }
  if (i < n) {
    const __mmask16 m = v::TailMask(n - i);
    _mm512_mask_storeu_ps(out + i, m,
                          f(_mm512_maskz_loadu_ps(m, u + i), _mm512_maskz_loadu_ps(m, w + i)));
  }
}

}  // namespace

void F32VUnaryAvx512(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::kExp:
      Map(x, y, n, [](__m512 a) { return v::Exp(a); });
      break;
    case UnaryOp::kLog:
      Map(x, y, n, [](__m512 a) { return v::Log(a); });
      break;
    case UnaryOp::kSqrt:  // correctly rounded, as std::sqrt
      Map(x, y, n, [](__m512 a) { return _mm512_sqrt_ps(a); });
      break;
    case UnaryOp::kTanh:
      Map(x, y, n, [](__m512 a) { return v::Tanh(a); });
      break;
    case UnaryOp::kSigmoid:
      Map(x, y, n, [](__m512 a) { return v::Sigmoid(a); });
      break;
    case UnaryOp::kRelu:
      // MAXPS returns its second operand for NaN and for (-0, +0): relu(NaN) = 0 and
      // relu(-0) = +0, exactly the reference's x > 0 ? x : 0.
      Map(x, y, n, [](__m512 a) { return _mm512_max_ps(a, _mm512_setzero_ps()); });
      break;
    case UnaryOp::kGelu:
      Map(x, y, n, [](__m512 a) { return v::Gelu(a); });
      break;
    case UnaryOp::kNeg:
      Map(x, y, n, [](__m512 a) { return _mm512_xor_ps(a, v::Splat(-0.0f)); });
      break;
  }
}

// The arithmetic is in the reference's order (e.g. (dy * 0.5) / y, dy * (1 - y * y)), so
// that these results equal the reference's bit for bit; only GELU's derivative differs.
void F32VUnaryBackwardAvx512(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                             int64_t n) {
  const __m512 one = v::Splat(1.0f);
  switch (op) {
    case UnaryOp::kExp:
      Map2(dy, y, dx, n, [](__m512 g, __m512 b) { return _mm512_mul_ps(g, b); });
      break;
    case UnaryOp::kLog:
      Map2(dy, x, dx, n, [](__m512 g, __m512 a) { return _mm512_div_ps(g, a); });
      break;
    case UnaryOp::kSqrt:
      Map2(dy, y, dx, n,
           [](__m512 g, __m512 b) { return _mm512_div_ps(_mm512_mul_ps(g, v::Splat(0.5f)), b); });
      break;
    case UnaryOp::kTanh:
      Map2(dy, y, dx, n, [one](__m512 g, __m512 b) {
        return _mm512_mul_ps(g, _mm512_sub_ps(one, _mm512_mul_ps(b, b)));
      });
      break;
    case UnaryOp::kSigmoid:
      Map2(dy, y, dx, n, [one](__m512 g, __m512 b) {
        return _mm512_mul_ps(_mm512_mul_ps(g, b), _mm512_sub_ps(one, b));
      });
      break;
    case UnaryOp::kRelu:  // dy where x > 0 (false for NaN), else 0
      Map2(dy, x, dx, n, [](__m512 g, __m512 a) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ), g);
      });
      break;
    case UnaryOp::kGelu:
      Map2(dy, x, dx, n, [](__m512 g, __m512 a) { return _mm512_mul_ps(g, v::GeluDerivative(a)); });
      break;
    case UnaryOp::kNeg:
      Map(dy, dx, n, [](__m512 g) { return _mm512_xor_ps(g, v::Splat(-0.0f)); });
      break;
  }
}

}  // namespace tt::accel::kernels
