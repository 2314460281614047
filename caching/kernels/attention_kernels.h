// The two inner loops of single-query attention (one decode step of one head), per ISA.
// Private to the caching module: CachedGpt calls them through AttentionKernelsFor().
//
// One query q (d floats) against n cached keys and values (rows of d floats, row stride
// d, as KVCache stores them):
//
//   F32AttnScores:       s[j] = scale * sum_i q[i] k[j*d + i]           j < n
//   (softmax in between: acceleration's VSoftmaxRows)
//   F32AttnWeightedSum:  out[i] = sum_j p[j] v[j*d + i]                 i < d
//
// With an int8 cache (KVCache's KVDtype::kInt8: rows of d int8 values, one float scale
// per row), the same two loops convert each int8 value to float in registers:
//
//   F32AttnScoresQ8:       s[j] = scale * kscale[j] * sum_i q[i] k8[j*d + i]
//   F32AttnWeightedSumQ8:  out[i] = sum_j w[j] v8[j*d + i]
//                          (w[j] = p[j] * vscale[j]: the caller folds the value scales
//                          into the probabilities, n multiplies instead of n * d)
//
// Naming as in acceleration/kernels: <dtype>_<op>_<isa>. The scalar versions are the
// reference the SIMD ones are tested against (kernels/attention_test.cc); the SIMD ones
// sum in another order (FMA, several accumulators), so they differ by rounding only.
//
// AVX-512 / AVX2 scores: keys in blocks of 16 / 8. Each key's products go into its own
// vector accumulator (d / 16 FMAs), then the 16 (8) accumulators are transposed and added
// in one tree (unpack, shuffle, add: about 3 instructions per key) so that one vector
// holds the 16 (8) dot products, which are scaled and stored together. This is why the
// kernel exists: a generic dot-product GEMM reduces every key's accumulator on its own
// (a horizontal add and a scalar store per key). Weighted sum: each 16 (8)-float column
// chunk of out gets 4 accumulators over 4 interleaved keys (covering the FMA latency),
// one broadcast of p[j] per key. Widths that are not a multiple of the vector (any d, any
// n >= 0) use masked loads or scalar tails.
#ifndef TT_CACHING_KERNELS_ATTENTION_KERNELS_H_
#define TT_CACHING_KERNELS_ATTENTION_KERNELS_H_

#include <cstdint>

namespace tt::cache::kernels {

using AttnScoresFn = void (*)(const float* q, const float* k, int64_t n, int64_t d, float scale,
                              float* scores);
using AttnWeightedSumFn = void (*)(const float* p, const float* v, int64_t n, int64_t d,
                                   float* out);
using AttnScoresQ8Fn = void (*)(const float* q, const int8_t* k, const float* kscale, int64_t n,
                                int64_t d, float scale, float* scores);
using AttnWeightedSumQ8Fn = void (*)(const float* w, const int8_t* v, int64_t n, int64_t d,
                                     float* out);

void F32AttnScoresScalar(const float* q, const float* k, int64_t n, int64_t d, float scale,
                         float* scores);
void F32AttnWeightedSumScalar(const float* p, const float* v, int64_t n, int64_t d, float* out);
void F32AttnScoresQ8Scalar(const float* q, const int8_t* k, const float* kscale, int64_t n,
                           int64_t d, float scale, float* scores);
void F32AttnWeightedSumQ8Scalar(const float* w, const int8_t* v, int64_t n, int64_t d,
                                float* out);

void F32AttnScoresAvx2(const float* q, const float* k, int64_t n, int64_t d, float scale,
                       float* scores);
void F32AttnWeightedSumAvx2(const float* p, const float* v, int64_t n, int64_t d, float* out);
void F32AttnScoresQ8Avx2(const float* q, const int8_t* k, const float* kscale, int64_t n,
                         int64_t d, float scale, float* scores);
void F32AttnWeightedSumQ8Avx2(const float* w, const int8_t* v, int64_t n, int64_t d,
                              float* out);

void F32AttnScoresAvx512(const float* q, const float* k, int64_t n, int64_t d, float scale,
                         float* scores);
void F32AttnWeightedSumAvx512(const float* p, const float* v, int64_t n, int64_t d, float* out);
void F32AttnScoresQ8Avx512(const float* q, const int8_t* k, const float* kscale, int64_t n,
                           int64_t d, float scale, float* scores);
void F32AttnWeightedSumQ8Avx512(const float* w, const int8_t* v, int64_t n, int64_t d,
                                float* out);

}  // namespace tt::cache::kernels

#endif  // TT_CACHING_KERNELS_ATTENTION_KERNELS_H_
