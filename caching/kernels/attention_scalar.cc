// The portable attention loops: the reference for the SIMD kernels (attention_kernels.h).
#include "caching/kernels/attention_kernels.h"

namespace tt::cache::kernels {

void F32AttnScoresScalar(const float* q, const float* k, int64_t n, int64_t d, float scale,
                         float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = k + j * d;
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s += q[i] * kj[i];
    scores[j] = scale * s;
  }
}

void F32AttnWeightedSumScalar(const float* p, const float* v, int64_t n, int64_t d,
                              float* out) {
  for (int64_t i = 0; i < d; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float pj = p[j];
    const float* vj = v + j * d;
    for (int64_t i = 0; i < d; ++i) out[i] += pj * vj[i];
  }
}

void F32AttnScoresQ8Scalar(const float* q, const int8_t* k, const float* kscale, int64_t n,
                           int64_t d, float scale, float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* kj = k + j * d;
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s += q[i] * static_cast<float>(kj[i]);
    scores[j] = scale * kscale[j] * s;
  }
}

void F32AttnWeightedSumQ8Scalar(const float* w, const int8_t* v, int64_t n, int64_t d,
                                float* out) {
  for (int64_t i = 0; i < d; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float wj = w[j];
    const int8_t* vj = v + j * d;
    for (int64_t i = 0; i < d; ++i) out[i] += wj * static_cast<float>(vj[i]);
  }
}

}  // namespace tt::cache::kernels
