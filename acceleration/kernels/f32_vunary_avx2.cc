// f32 unary maps and their backward passes, AVX2 + FMA: 8 lanes per step, the last
// partial step through maskload/maskstore, so every element goes through the same vector
// code (results do not depend on an element's position or on n).
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx2.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx2;
using tensor::UnaryOp;

// y[i] = f(x[i]). y may alias x: each block is loaded before it is stored.
template <typename F>
void Map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = v::TailMask(n - i);
    _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

// out[i] = f(u[i], w[i]); out may alias u or w.
template <typename F>
void Map2(const float* u, const float* w, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(u + i), _mm256_loadu_ps(w + i)));
  }
  if (i < n) {
    const __m256i m = v::TailMask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(u + i, m), _mm256_maskload_ps(w + i, m)));
  }
}

}  // namespace

void F32VUnaryAvx2(UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case UnaryOp::kExp:
      Map(x, y, n, [](__m256 a) { return v::Exp(a); });
      break;
    case UnaryOp::kLog:
      Map(x, y, n, [](__m256 a) { return v::Log(a); });
      break;
    case UnaryOp::kSqrt:  // correctly rounded, as std::sqrt
      Map(x, y, n, [](__m256 a) { return _mm256_sqrt_ps(a); });
      break;
    case UnaryOp::kTanh:
      Map(x, y, n, [](__m256 a) { return v::Tanh(a); });
      break;
    case UnaryOp::kSigmoid:
      Map(x, y, n, [](__m256 a) { return v::Sigmoid(a); });
      break;
    case UnaryOp::kRelu:
      // MAXPS returns its second operand for NaN and for (-0, +0): relu(NaN) = 0 and
      // relu(-0) = +0, exactly the reference's x > 0 ? x : 0.
      Map(x, y, n, [](__m256 a) { return _mm256_max_ps(a, _mm256_setzero_ps()); });
      break;
    case UnaryOp::kGelu:
      Map(x, y, n, [](__m256 a) { return v::Gelu(a); });
      break;
    case UnaryOp::kNeg:
      Map(x, y, n, [](__m256 a) { return _mm256_xor_ps(a, v::Splat(-0.0f)); });
      break;
  }
}

// The arithmetic is in the reference's order (e.g. (dy * 0.5) / y, dy * (1 - y * y)), so
// that these results equal the reference's bit for bit; only GELU's derivative differs.
void F32VUnaryBackwardAvx2(UnaryOp op, const float* x, const float* y, const float* dy, float* dx,
                           int64_t n) {
  const __m256 one = v::Splat(1.0f);
  switch (op) {
    case UnaryOp::kExp:
      Map2(dy, y, dx, n, [](__m256 g, __m256 b) { return _mm256_mul_ps(g, b); });
      break;
    case UnaryOp::kLog:
      Map2(dy, x, dx, n, [](__m256 g, __m256 a) { return _mm256_div_ps(g, a); });
      break;
    case UnaryOp::kSqrt:
      Map2(dy, y, dx, n,
           [](__m256 g, __m256 b) { return _mm256_div_ps(_mm256_mul_ps(g, v::Splat(0.5f)), b); });
      break;
    case UnaryOp::kTanh:
      Map2(dy, y, dx, n, [one](__m256 g, __m256 b) {
        return _mm256_mul_ps(g, _mm256_sub_ps(one, _mm256_mul_ps(b, b)));
      });
      break;
    case UnaryOp::kSigmoid:
      Map2(dy, y, dx, n, [one](__m256 g, __m256 b) {
        return _mm256_mul_ps(_mm256_mul_ps(g, b), _mm256_sub_ps(one, b));
      });
      break;
    case UnaryOp::kRelu:  // dy where x > 0 (false for NaN), else 0
      Map2(dy, x, dx, n, [](__m256 g, __m256 a) {
        return _mm256_and_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ), g);
      });
      break;
    case UnaryOp::kGelu:
      Map2(dy, x, dx, n, [](__m256 g, __m256 a) { return _mm256_mul_ps(g, v::GeluDerivative(a)); });
      break;
    case UnaryOp::kNeg:
      Map(dy, dx, n, [](__m256 g) { return _mm256_xor_ps(g, v::Splat(-0.0f)); });
      break;
  }
}

}  // namespace tt::accel::kernels
