#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "caching/kernels/attention_kernels.h"
#include "gtest/gtest.h"

namespace tt::cache::kernels {
namespace {

struct IsaKernels {
  accel::Isa isa;
  AttnScoresFn scores;
  AttnWeightedSumFn weighted_sum;
  AttnScoresQ8Fn scores_q8;
  AttnWeightedSumQ8Fn weighted_sum_q8;
};

const IsaKernels kSimd[] = {
    {accel::Isa::kAvx2Fma, &F32AttnScoresAvx2, &F32AttnWeightedSumAvx2, &F32AttnScoresQ8Avx2,
     &F32AttnWeightedSumQ8Avx2},
    {accel::Isa::kAvx512, &F32AttnScoresAvx512, &F32AttnWeightedSumAvx512,
     &F32AttnScoresQ8Avx512, &F32AttnWeightedSumQ8Avx512},
};

std::vector<int8_t> RandomQ8(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> out(static_cast<size_t>(n));
  for (int8_t& x : out) x = static_cast<int8_t>(dist(rng));
  return out;
}

std::vector<float> Random(int64_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(static_cast<size_t>(n));
  for (float& x : out) x = dist(rng);
  return out;
}

// Any summation order of d products is within (d + 2) * 2^-24 * sum |products| of the
// exact sum (the classic bound; +2 for the final scaling and rounding).
double Bound(int64_t terms, double abs_sum) {
  return (static_cast<double>(terms) + 2.0) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
}

class AttentionKernelsTest : public ::testing::TestWithParam<IsaKernels> {
 protected:
  void SetUp() override {
    if (!accel::IsaSupported(GetParam().isa)) {
      GTEST_SKIP() << accel::IsaName(GetParam().isa) << " is not supported on this CPU";
    }
  }
};

TEST_P(AttentionKernelsTest, ScoresMatchTheReference) {
  std::mt19937 rng(1);
  for (int64_t d : {1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100}) {
    for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100}) {
      const std::vector<float> q = Random(d, rng), k = Random(n * d, rng);
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      // One float past the end, to catch writes beyond n.
      std::vector<float> got(n + 1, -7.0f), want(n + 1, -7.0f);
      GetParam().scores(q.data(), k.data(), n, d, scale, got.data());
      F32AttnScoresScalar(q.data(), k.data(), n, d, scale, want.data());
      for (int64_t j = 0; j < n; ++j) {
        double abs_sum = 0.0;
        for (int64_t i = 0; i < d; ++i) abs_sum += std::fabs(q[i] * k[j * d + i]);
        ASSERT_NEAR(got[j], want[j], 2.0 * Bound(d, scale * abs_sum))
            << "d " << d << " n " << n << " key " << j;
      }
      EXPECT_EQ(got[n], -7.0f) << "wrote past n: d " << d << " n " << n;
    }
  }
}

TEST_P(AttentionKernelsTest, WeightedSumMatchesTheReference) {
  std::mt19937 rng(2);
  for (int64_t d : {1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100}) {
    for (int64_t n : {0, 1, 3, 4, 5, 7, 8, 17, 33, 100, 257}) {
      const std::vector<float> p = Random(n, rng, 0.0f, 1.0f), v = Random(n * d, rng);
      std::vector<float> got(d + 1, -7.0f), want(d + 1, -7.0f);
      GetParam().weighted_sum(p.data(), v.data(), n, d, got.data());
      F32AttnWeightedSumScalar(p.data(), v.data(), n, d, want.data());
      for (int64_t i = 0; i < d; ++i) {
        double abs_sum = 0.0;
        for (int64_t j = 0; j < n; ++j) abs_sum += std::fabs(p[j] * v[j * d + i]);
        ASSERT_NEAR(got[i], want[i], 2.0 * Bound(n, abs_sum))
            << "d " << d << " n " << n << " column " << i;
      }
      EXPECT_EQ(got[d], -7.0f) << "wrote past d: d " << d << " n " << n;
    }
  }
}

TEST_P(AttentionKernelsTest, Int8ScoresMatchTheReference) {
  std::mt19937 rng(3);
  for (int64_t d : {1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100}) {
    for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100}) {
      const std::vector<float> q = Random(d, rng), kscale = Random(n, rng, 0.001f, 0.02f);
      const std::vector<int8_t> k = RandomQ8(n * d, rng);
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      std::vector<float> got(n + 1, -7.0f), want(n + 1, -7.0f);
      GetParam().scores_q8(q.data(), k.data(), kscale.data(), n, d, scale, got.data());
      F32AttnScoresQ8Scalar(q.data(), k.data(), kscale.data(), n, d, scale, want.data());
      for (int64_t j = 0; j < n; ++j) {
        double abs_sum = 0.0;
        for (int64_t i = 0; i < d; ++i) abs_sum += std::fabs(q[i] * k[j * d + i]);
        ASSERT_NEAR(got[j], want[j], 2.0 * Bound(d + 1, scale * kscale[j] * abs_sum))
            << "d " << d << " n " << n << " key " << j;
      }
      EXPECT_EQ(got[n], -7.0f) << "wrote past n: d " << d << " n " << n;
    }
  }
}

TEST_P(AttentionKernelsTest, Int8WeightedSumMatchesTheReference) {
  std::mt19937 rng(4);
  for (int64_t d : {1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100}) {
    for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 8, 17, 33, 100, 257}) {
      const std::vector<float> w = Random(n, rng, 0.0f, 0.01f);
      const std::vector<int8_t> v = RandomQ8(n * d, rng);
      std::vector<float> got(d + 1, -7.0f), want(d + 1, -7.0f);
      GetParam().weighted_sum_q8(w.data(), v.data(), n, d, got.data());
      F32AttnWeightedSumQ8Scalar(w.data(), v.data(), n, d, want.data());
      for (int64_t i = 0; i < d; ++i) {
        double abs_sum = 0.0;
        for (int64_t j = 0; j < n; ++j) abs_sum += std::fabs(w[j] * v[j * d + i]);
        ASSERT_NEAR(got[i], want[i], 2.0 * Bound(n, abs_sum))
            << "d " << d << " n " << n << " column " << i;
      }
      EXPECT_EQ(got[d], -7.0f) << "wrote past d: d " << d << " n " << n;
    }
  }
}

TEST(AttentionKernelsScalarTest, ComputesTheFormula) {
  const float q[2] = {1.0f, 2.0f};
  const float k[6] = {1.0f, 0.0f, 0.0f, 1.0f, 3.0f, -1.0f};  // 3 keys of d = 2
  float s[3];
  F32AttnScoresScalar(q, k, 3, 2, 0.5f, s);
  EXPECT_FLOAT_EQ(s[0], 0.5f);
  EXPECT_FLOAT_EQ(s[1], 1.0f);
  EXPECT_FLOAT_EQ(s[2], 0.5f);
  const float p[3] = {0.25f, 0.5f, 0.25f};
  float out[2];
  F32AttnWeightedSumScalar(p, k, 3, 2, out);
  EXPECT_FLOAT_EQ(out[0], 0.25f + 0.75f);
  EXPECT_FLOAT_EQ(out[1], 0.5f - 0.25f);
  // int8 rows: value = row scale * q.
  const int8_t k8[4] = {2, -4, 10, 0};  // 2 keys of d = 2
  const float kscale[2] = {0.5f, 0.25f};
  F32AttnScoresQ8Scalar(q, k8, kscale, 2, 2, 2.0f, s);
  EXPECT_FLOAT_EQ(s[0], 2.0f * 0.5f * (2.0f - 8.0f));
  EXPECT_FLOAT_EQ(s[1], 2.0f * 0.25f * 10.0f);
  const float w[2] = {1.0f, 0.5f};
  F32AttnWeightedSumQ8Scalar(w, k8, 2, 2, out);
  EXPECT_FLOAT_EQ(out[0], 2.0f + 5.0f);
  EXPECT_FLOAT_EQ(out[1], -4.0f);
}

INSTANTIATE_TEST_SUITE_P(Simd, AttentionKernelsTest, ::testing::ValuesIn(kSimd),
                         [](const ::testing::TestParamInfo<IsaKernels>& info) {
                           return std::string(info.param.isa == accel::Isa::kAvx512 ? "avx512"
                                                                                     : "avx2");
                         });

}  // namespace
}  // namespace tt::cache::kernels
