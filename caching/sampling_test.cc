#include "caching/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace tt::cache {
namespace {

using Mode = SamplingOptions::Mode;

std::vector<float> RandomLogits(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> out(static_cast<size_t>(n));
  for (float& v : out) v = normal(rng);
  return out;
}

SamplingOptions Options(Mode mode, uint64_t seed = 1) {
  SamplingOptions o;
  o.mode = mode;
  o.seed = seed;
  return o;
}

TEST(SamplingTest, ValidateNamesTheBadField) {
  EXPECT_TRUE(SamplingOptions{}.Validate().ok());
  SamplingOptions o = Options(Mode::kTemperature);
  for (float t : {0.0f, -1.0f, std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN()}) {
    o.temperature = t;
    const absl::Status s = o.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("temperature"), std::string::npos);
  }
  o = Options(Mode::kTopK);
  o.top_k = 0;
  EXPECT_NE(o.Validate().message().find("top_k"), std::string::npos);
  o = Options(Mode::kTopP);
  for (float p : {0.0f, 1.5f, -0.1f}) {
    o.top_p = p;
    EXPECT_NE(o.Validate().message().find("top_p"), std::string::npos) << p;
  }
  o.top_p = 1.0f;
  EXPECT_TRUE(o.Validate().ok());
  // Greedy ignores the other fields.
  o = Options(Mode::kGreedy);
  o.temperature = -1.0f;
  EXPECT_TRUE(o.Validate().ok());
  o = Options(Mode::kTopK);
  o.top_k = -2;
  EXPECT_FALSE(Sampler::Create(o).ok());
}

TEST(SamplingTest, GreedyIsTheFirstArgmaxAndSkipsNaN) {
  Sampler sampler(Options(Mode::kGreedy));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits = {1.0f, nan, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(sampler.Next(logits.data(), 5), 2);
  const std::vector<float> first_nan = {nan, 0.5f, 0.25f};
  EXPECT_EQ(sampler.Next(first_nan.data(), 3), 1);
}

TEST(SamplingTest, DegenerateLogitsNeverDraw) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Mode mode : {Mode::kTemperature, Mode::kTopK, Mode::kTopP}) {
    Sampler sampler(Options(mode));
    const std::vector<float> all_excluded = {-inf, nan, -inf};
    EXPECT_EQ(sampler.Next(all_excluded.data(), 3), 0);
    const std::vector<float> one_inf = {1.0f, inf, 2.0f};
    EXPECT_EQ(sampler.Next(one_inf.data(), 3), 1);
    // -inf and NaN are never drawn while finite logits exist.
    const std::vector<float> mixed = {-inf, 0.0f, nan, 0.0f};
    for (int i = 0; i < 200; ++i) {
      const int32_t id = sampler.Next(mixed.data(), 4);
      EXPECT_TRUE(id == 1 || id == 3) << id;
    }
  }
}

TEST(SamplingTest, SeededSamplingIsReproducible) {
  const std::vector<float> logits = RandomLogits(96, 3);
  for (Mode mode : {Mode::kTemperature, Mode::kTopK, Mode::kTopP}) {
    Sampler a(Options(mode, 42)), b(Options(mode, 42)), c(Options(mode, 43));
    std::vector<int32_t> sa, sb, sc;
    for (int i = 0; i < 100; ++i) {
      sa.push_back(a.Next(logits.data(), 96));
      sb.push_back(b.Next(logits.data(), 96));
      sc.push_back(c.Next(logits.data(), 96));
    }
    EXPECT_EQ(sa, sb) << SamplingModeName(mode);
    EXPECT_NE(sa, sc) << SamplingModeName(mode);
  }
}

TEST(SamplingTest, TopKNeverPicksExcludedTokens) {
  for (int k : {1, 3, 10}) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      std::vector<float> logits = RandomLogits(50, seed);
      logits[7] = logits[8];  // a tie somewhere
      // The k largest, lower id first on ties.
      std::vector<int32_t> order(50);
      for (int i = 0; i < 50; ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
      const std::set<int32_t> allowed(order.begin(), order.begin() + k);
      SamplingOptions o = Options(Mode::kTopK, seed);
      o.top_k = k;
      o.temperature = 3.0f;  // flat: excluded tokens would be likely if not cut
      Sampler sampler(o);
      std::vector<double> probs;
      sampler.Distribution(logits.data(), 50, &probs);
      for (int i = 0; i < 50; ++i) EXPECT_EQ(probs[i] > 0.0, allowed.count(i) == 1) << i;
      for (int i = 0; i < 500; ++i) {
        EXPECT_EQ(allowed.count(sampler.Next(logits.data(), 50)), 1u);
      }
    }
  }
  // top_k beyond the vocabulary keeps everything.
  SamplingOptions o = Options(Mode::kTopK);
  o.top_k = 1000;
  Sampler sampler(o);
  const std::vector<float> logits = RandomLogits(20, 9);
  std::vector<double> probs;
  sampler.Distribution(logits.data(), 20, &probs);
  for (double p : probs) EXPECT_GT(p, 0.0);
}

TEST(SamplingTest, TopPKeepsTheShortestNucleus) {
  for (float p : {0.1f, 0.5f, 0.9f, 0.99f}) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
      const std::vector<float> logits = RandomLogits(60, 100 + seed);
      SamplingOptions o = Options(Mode::kTopP, seed);
      o.top_p = p;
      o.temperature = 0.7f;
      Sampler sampler(o);
      // The full distribution at this temperature, to check the nucleus against.
      SamplingOptions t = o;
      t.mode = Mode::kTemperature;
      Sampler full(t);
      std::vector<double> all, nucleus;
      full.Distribution(logits.data(), 60, &all);
      sampler.Distribution(logits.data(), 60, &nucleus);
      double kept_mass = 0.0, smallest_kept = 1.0, largest_dropped = 0.0;
      std::set<int32_t> allowed;
      for (int i = 0; i < 60; ++i) {
        if (nucleus[i] > 0.0) {
          allowed.insert(i);
          kept_mass += all[i];
          smallest_kept = std::min(smallest_kept, all[i]);
        } else {
          largest_dropped = std::max(largest_dropped, all[i]);
        }
      }
      // Kept tokens are the most likely ones, they reach p, and dropping the least
      // likely kept one would fall below p (shortest prefix).
      EXPECT_GE(smallest_kept, largest_dropped);
      EXPECT_GE(kept_mass, p - 1e-9);
      EXPECT_LT(kept_mass - smallest_kept, p);
      for (int i = 0; i < 300; ++i) {
        EXPECT_EQ(allowed.count(sampler.Next(logits.data(), 60)), 1u);
      }
    }
  }
}

TEST(SamplingTest, DrawsFollowTheDistribution) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
  for (Mode mode : {Mode::kTemperature, Mode::kTopK, Mode::kTopP}) {
    SamplingOptions o = Options(mode, 5);
    o.temperature = 1.3f;
    o.top_k = 3;
    o.top_p = 0.8f;
    Sampler sampler(o);
    std::vector<double> probs;
    sampler.Distribution(logits.data(), 5, &probs);
    double total = 0.0;
    for (double p : probs) total += p;
    EXPECT_NEAR(total, 1.0, 1e-12);
    std::vector<int> counts(5, 0);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) ++counts[sampler.Next(logits.data(), 5)];
    for (int i = 0; i < 5; ++i) {
      // 5 standard deviations of a binomial count; exact zeros for excluded tokens.
      const double sd = std::sqrt(draws * probs[i] * (1.0 - probs[i]));
      EXPECT_NEAR(counts[i], draws * probs[i], 5.0 * sd + 1e-9)
          << SamplingModeName(mode) << " token " << i;
    }
  }
}

TEST(SamplingTest, TemperatureSharpensAndFlattens) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  std::vector<double> cold, warm;
  SamplingOptions o = Options(Mode::kTemperature);
  o.temperature = 0.25f;
  Sampler(o).Distribution(logits.data(), 3, &cold);
  o.temperature = 4.0f;
  Sampler(o).Distribution(logits.data(), 3, &warm);
  EXPECT_GT(cold[2], 0.98);
  EXPECT_LT(warm[2], 0.45);
  // p_i proportional to exp(l_i / T).
  EXPECT_NEAR(warm[2] / warm[1], std::exp(0.25), 1e-9);
}

TEST(SamplingDeathTest, ContractViolationsStop) {
  SamplingOptions o = Options(Mode::kTopP);
  o.top_p = 2.0f;
  EXPECT_DEATH(Sampler{o}, "top_p");
  Sampler sampler(Options(Mode::kGreedy));
  const float logit = 0.0f;
  EXPECT_DEATH(sampler.Next(&logit, 0), "vocab");
}

}  // namespace
}  // namespace tt::cache
