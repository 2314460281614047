// f32 binary maps with broadcasting (steps 0 or 1), AVX-512: a broadcast operand is
// splatted once, the last partial block runs under a mask. Plain IEEE add/sub/mul/div,
// so the results equal the reference's bit for bit.
#include <immintrin.h>

#include <cstdint>

#include "acceleration/kernels/elementwise_kernels.h"
#include "acceleration/kernels/f32_vmath_avx512.h"

namespace tt::accel::kernels {
namespace {

namespace v = avx512;
using tensor::BinaryOp;

// y[i] = f(a[i], b[i]), a broadcast operand splatted once. The broadcast choice is a
// template parameter so that the inner loop has no test in it.
template <bool kBroadcastA, bool kBroadcastB, typename F>
void Loop(const float* a, const float* b, float* y, int64_t n, F f) {
  const __m512 sa = kBroadcastA ? v::Splat(a[0]) : _mm512_setzero_ps();
  const __m512 sb = kBroadcastB ? v::Splat(b[0]) : _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 u = kBroadcastA ? sa : _mm512_loadu_ps(a + i);
    const __m512 w = kBroadcastB ? sb : _mm512_loadu_ps(b + i);
    _mm512_storeu_ps(y + i, f(u, w));
  }
  if (i < n) {
    const __mmask16 m = v::TailMask(n - i);
    const __m512 u = kBroadcastA ? sa : _mm512_maskz_loadu_ps(m, a + i);
    const __m512 w = kBroadcastB ? sb : _mm512_maskz_loadu_ps(m, b + i);
    _mm512_mask_storeu_ps(y + i, m, f(u, w));
  }
}

template <typename F>
void Dispatch(const float* a, int64_t a_step, const float* b, int64_t b_step, float* y, int64_t n,
              F f) {
  if (a_step == 1 && b_step == 1) {
    Loop<false, false>(a, b, y, n, f);
  } else if (a_step == 1) {
    Loop<false, true>(a, b, y, n, f);
  } else if (b_step == 1) {
    Loop<true, false>(a, b, y, n, f);
  } else {
    Loop<true, true>(a, b, y, n, f);
  }
}

}  // namespace

void F32VBinaryAvx512(BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step,
                      float* y, int64_t n) {
  if (n <= 0) return;  // a[0] / b[0] may not exist
  switch (op) {
    case BinaryOp::kAdd:
      Dispatch(a, a_step, b, b_step, y, n, [](__m512 u, __m512 w) { return _mm512_add_ps(u, w); });
      break;
    case BinaryOp::kSub:
      Dispatch(a, a_step, b, b_step, y, n, [](__m512 u, __m512 w) { return _mm512_sub_ps(u, w); });
      break;
    case BinaryOp::kMul:
      Dispatch(a, a_step, b, b_step, y, n, [](__m512 u, __m512 w) { return _mm512_mul_ps(u, w); });
      break;
    case BinaryOp::kDiv:
      Dispatch(a, a_step, b, b_step, y, n, [](__m512 u, __m512 w) { return _mm512_div_ps(u, w); });
      break;
  }
}

}  // namespace tt::accel::kernels
