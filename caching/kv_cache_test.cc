#include "caching/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/tensor.h"

namespace tt::cache {
namespace {

KVCacheConfig SmallConfig(CacheFullPolicy policy = CacheFullPolicy::kError) {
  KVCacheConfig c;
  c.layers = 2;
  c.batch = 3;
  c.heads = 2;
  c.max_seq_len = 5;
  c.head_dim = 4;
  c.policy = policy;
  return c;
}

// k or v for `positions` positions in Append's (heads, positions, head_dim) layout whose
// values encode (tag, head, absolute position, d), so any misplaced row is caught.
std::vector<float> Rows(const KVCacheConfig& c, int64_t first_position, int64_t positions,
                        float tag) {
  std::vector<float> out;
  for (int64_t h = 0; h < c.heads; ++h) {
    for (int64_t t = 0; t < positions; ++t) {
      for (int64_t d = 0; d < c.head_dim; ++d) {
        out.push_back(tag + 1000.0f * h + 10.0f * (first_position + t) + 0.1f * d);
      }
    }
  }
  return out;
}

// Checks that every kept position p of (layer, seq) sits in row p % max_seq_len.
void ExpectHolds(const KVCache& cache, int64_t layer, int64_t seq, float k_tag, float v_tag) {
  const KVCacheConfig& c = cache.config();
  const int64_t first = cache.position_offset(seq);
  for (int64_t h = 0; h < c.heads; ++h) {
    for (int64_t p = first; p < first + cache.length(layer, seq); ++p) {
      const int64_t row = cache.RowOfPosition(layer, seq, p);
      for (int64_t d = 0; d < c.head_dim; ++d) {
        const float want = 1000.0f * h + 10.0f * p + 0.1f * d;
        EXPECT_FLOAT_EQ(cache.keys(layer, seq, h)[row * c.head_dim + d], k_tag + want)
            << "layer " << layer << " seq " << seq << " head " << h << " position " << p;
        EXPECT_FLOAT_EQ(cache.values(layer, seq, h)[row * c.head_dim + d], v_tag + want);
      }
    }
  }
}

TEST(KVCacheTest, CreateRejectsBadSizes) {
  for (int field = 0; field < 5; ++field) {
    for (int64_t bad : {int64_t{0}, int64_t{-3}}) {
      KVCacheConfig c = SmallConfig();
      int64_t* fields[] = {&c.layers, &c.batch, &c.heads, &c.max_seq_len, &c.head_dim};
      *fields[field] = bad;
      const auto cache = KVCache::Create(c);
      EXPECT_EQ(cache.status().code(), absl::StatusCode::kInvalidArgument) << field;
    }
  }
}

TEST(KVCacheTest, CreateRejectsOverflowAndOversizeBeforeAllocating) {
  KVCacheConfig c = SmallConfig();
  c.max_seq_len = std::numeric_limits<int64_t>::max() / 4;
  auto cache = KVCache::Create(c);
  EXPECT_EQ(cache.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(cache.status().message().find("overflow"), std::string::npos);

  c = SmallConfig();
  c.max_seq_len = int64_t{1} << 40;  // 2^40 * 2*4*2*3*2*4 bytes: no overflow, far too big
  cache = KVCache::Create(c);
  EXPECT_EQ(cache.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(cache.status().message().find("max_bytes"), std::string::npos);
}

TEST(KVCacheTest, MemoryAccounting) {
  auto cache = KVCache::Create(SmallConfig());
  ASSERT_TRUE(cache.ok()) << cache.status();
  // K and V, 4 bytes, 2 layers, 2 heads, head_dim 4.
  EXPECT_EQ(cache->BytesPerToken(), 2 * 4 * 2 * 2 * 4);
  EXPECT_EQ(cache->Bytes(), cache->BytesPerToken() * 3 * 5);
}

TEST(KVCacheTest, AppendGivesViewsOfTheFilledPrefixPerSequence) {
  const KVCacheConfig c = SmallConfig();
  auto made = KVCache::Create(c);
  ASSERT_TRUE(made.ok());
  KVCache& cache = *made;
  for (int64_t s = 0; s < c.batch; ++s) EXPECT_EQ(cache.length(s), 0);
  // Sequence 0 gets 2 + 1 positions, sequence 2 gets 4; sequence 1 nothing.
  for (int64_t l = 0; l < c.layers; ++l) {
    ASSERT_TRUE(cache.Append(l, 0, Rows(c, 0, 2, 0).data(), Rows(c, 0, 2, 0.5f).data(), 2).ok());
    ASSERT_TRUE(cache.Append(l, 0, Rows(c, 2, 1, 0).data(), Rows(c, 2, 1, 0.5f).data(), 1).ok());
    ASSERT_TRUE(cache.Append(l, 2, Rows(c, 0, 4, 0).data(), Rows(c, 0, 4, 0.5f).data(), 4).ok());
  }
  EXPECT_EQ(cache.length(0), 3);
  EXPECT_EQ(cache.length(1), 0);
  EXPECT_EQ(cache.length(2), 4);
  for (int64_t l = 0; l < c.layers; ++l) {
    ExpectHolds(cache, l, 0, 0, 0.5f);
    ExpectHolds(cache, l, 2, 0, 0.5f);
  }
  // The view is a pointer into the cache: no copy, stable across appends to other rows.
  const float* view = cache.keys(1, 0, 1);
  ASSERT_TRUE(cache.Append(1, 1, Rows(c, 0, 1, 0).data(), Rows(c, 0, 1, 0).data(), 1).ok());
  EXPECT_EQ(view, cache.keys(1, 0, 1));
  EXPECT_TRUE(cache.Append(0, 0, nullptr, nullptr, 0).ok());  // nothing to do
}

TEST(KVCacheTest, LengthsArePerLayerDuringAForwardPass) {
  const KVCacheConfig c = SmallConfig();
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(cache->Append(0, 1, Rows(c, 0, 2, 0).data(), Rows(c, 0, 2, 0).data(), 2).ok());
  EXPECT_EQ(cache->length(0, 1), 2);
  EXPECT_EQ(cache->length(1, 1), 0);
  EXPECT_EQ(cache->length(1), 0);  // what every layer holds
  ASSERT_TRUE(cache->Append(1, 1, Rows(c, 0, 2, 0).data(), Rows(c, 0, 2, 0).data(), 2).ok());
  EXPECT_EQ(cache->length(1), 2);
}

TEST(KVCacheTest, StridedAppendReadsAFusedQkvRow) {
  const KVCacheConfig c = SmallConfig();
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  // (positions, 3, heads, head_dim), as a fused QKV projection writes it.
  const int64_t positions = 3, width = c.heads * c.head_dim;
  std::vector<float> qkv(positions * 3 * width);
  for (int64_t t = 0; t < positions; ++t) {
    for (int64_t part = 0; part < 3; ++part) {
      for (int64_t h = 0; h < c.heads; ++h) {
        for (int64_t d = 0; d < c.head_dim; ++d) {
          qkv[((t * 3 + part) * c.heads + h) * c.head_dim + d] =
              (part == 2 ? 0.5f : 0.0f) + 1000.0f * h + 10.0f * t + 0.1f * d;
        }
      }
    }
  }
  ASSERT_TRUE(cache->AppendStrided(0, 0, qkv.data() + width, qkv.data() + 2 * width, positions,
                                   3 * width, c.head_dim)
                  .ok());
  ExpectHolds(*cache, 0, 0, 0, 0.5f);
}

TEST(KVCacheTest, FullUnderErrorPolicyIsAClearErrorAndChangesNothing) {
  const KVCacheConfig c = SmallConfig();
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(cache->Append(0, 1, Rows(c, 0, 4, 0).data(), Rows(c, 0, 4, 0.5f).data(), 4).ok());
  const absl::Status full =
      cache->Append(0, 1, Rows(c, 4, 2, 9).data(), Rows(c, 4, 2, 9).data(), 2);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("KV cache full"), std::string::npos) << full.message();
  EXPECT_EQ(cache->length(0, 1), 4);
  ExpectHolds(*cache, 0, 1, 0, 0.5f);
  // Exactly full is fine.
  ASSERT_TRUE(cache->Append(0, 1, Rows(c, 4, 1, 0).data(), Rows(c, 4, 1, 0.5f).data(), 1).ok());
  EXPECT_EQ(cache->length(0, 1), 5);
  EXPECT_EQ(cache->position_offset(1), 0);
}

TEST(KVCacheTest, SlidingWindowDropsTheOldestPositions) {
  const KVCacheConfig c = SmallConfig(CacheFullPolicy::kSlidingWindow);
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  int64_t next = 0;
  // One position at a time, past the capacity of 5, on both layers.
  for (int step = 0; step < 12; ++step) {
    for (int64_t l = 0; l < c.layers; ++l) {
      ASSERT_TRUE(
          cache->Append(l, 2, Rows(c, next, 1, 0).data(), Rows(c, next, 1, 0.5f).data(), 1).ok());
    }
    ++next;
    EXPECT_EQ(cache->length(2), std::min<int64_t>(next, 5));
    EXPECT_EQ(cache->position_offset(2), std::max<int64_t>(0, next - 5));
    for (int64_t l = 0; l < c.layers; ++l) ExpectHolds(*cache, l, 2, 0, 0.5f);
  }
  // Several at once, wrapping the ring in the middle of the call.
  for (int64_t l = 0; l < c.layers; ++l) {
    ASSERT_TRUE(
        cache->Append(l, 2, Rows(c, next, 3, 0).data(), Rows(c, next, 3, 0.5f).data(), 3).ok());
  }
  next += 3;
  EXPECT_EQ(cache->position_offset(2), next - 5);
  for (int64_t l = 0; l < c.layers; ++l) ExpectHolds(*cache, l, 2, 0, 0.5f);
  // More than the window in one call keeps the last max_seq_len.
  for (int64_t l = 0; l < c.layers; ++l) {
    ASSERT_TRUE(
        cache->Append(l, 2, Rows(c, next, 7, 0).data(), Rows(c, next, 7, 0.5f).data(), 7).ok());
  }
  next += 7;
  EXPECT_EQ(cache->length(2), 5);
  EXPECT_EQ(cache->position_offset(2), next - 5);
  for (int64_t l = 0; l < c.layers; ++l) ExpectHolds(*cache, l, 2, 0, 0.5f);
  // Other sequences are untouched.
  EXPECT_EQ(cache->length(0), 0);
}

TEST(KVCacheTest, ResetOneSequenceOrAll) {
  const KVCacheConfig c = SmallConfig(CacheFullPolicy::kSlidingWindow);
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  for (int64_t s = 0; s < c.batch; ++s) {
    for (int64_t l = 0; l < c.layers; ++l) {
      ASSERT_TRUE(cache->Append(l, s, Rows(c, 0, 5, 0).data(), Rows(c, 0, 5, 0).data(), 5).ok());
      ASSERT_TRUE(cache->Append(l, s, Rows(c, 5, 2, 0).data(), Rows(c, 5, 2, 0).data(), 2).ok());
    }
  }
  cache->Reset(1);
  EXPECT_EQ(cache->length(1), 0);
  EXPECT_EQ(cache->position_offset(1), 0);
  EXPECT_EQ(cache->length(0), 5);
  EXPECT_EQ(cache->position_offset(0), 2);
  cache->Reset();
  for (int64_t s = 0; s < c.batch; ++s) {
    EXPECT_EQ(cache->length(s), 0);
    EXPECT_EQ(cache->position_offset(s), 0);
  }
}

TEST(KVCacheTest, AppendRejectsBadArguments) {
  const KVCacheConfig c = SmallConfig();
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok());
  const std::vector<float> k = Rows(c, 0, 1, 0);
  EXPECT_EQ(cache->Append(2, 0, k.data(), k.data(), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Append(-1, 0, k.data(), k.data(), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Append(0, 3, k.data(), k.data(), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Append(0, 0, k.data(), k.data(), -1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->Append(0, 0, nullptr, k.data(), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache->length(0), 0);
}

TEST(KVCacheTest, Int8MemoryAccounting) {
  KVCacheConfig c = SmallConfig();
  c.dtype = KVDtype::kInt8;
  auto cache = KVCache::Create(c);
  ASSERT_TRUE(cache.ok()) << cache.status();
  // K and V, 2 layers, 2 heads, a row of 4 int8 values plus its 4-byte scale.
  EXPECT_EQ(cache->BytesPerToken(), 2 * 2 * 2 * (4 + 4));
  EXPECT_EQ(cache->Bytes(), cache->BytesPerToken() * 3 * 5);
  c.max_seq_len = std::numeric_limits<int64_t>::max() / 8;
  EXPECT_EQ(KVCache::Create(c).status().code(), absl::StatusCode::kResourceExhausted);
}

// Every kept row of an int8 cache holds round(x / scale) with scale = max|x| / 127.
void ExpectInt8Holds(const KVCache& cache, int64_t layer, int64_t seq,
                     const std::vector<std::vector<float>>& rows_k,
                     const std::vector<std::vector<float>>& rows_v) {
  const KVCacheConfig& c = cache.config();
  const int64_t first = cache.position_offset(layer, seq);
  EXPECT_EQ(first + cache.length(layer, seq), static_cast<int64_t>(rows_k.size()) / c.heads);
  for (int64_t h = 0; h < c.heads; ++h) {
    for (int64_t p = first; p < first + cache.length(layer, seq); ++p) {
      const int64_t row = cache.RowOfPosition(layer, seq, p);
      for (int kv = 0; kv < 2; ++kv) {
        const std::vector<float>& x = (kv == 0 ? rows_k : rows_v)[p * c.heads + h];
        const int8_t* q = (kv == 0 ? cache.keys_int8(layer, seq, h)
                                   : cache.values_int8(layer, seq, h)) + row * c.head_dim;
        const float scale = (kv == 0 ? cache.key_scales(layer, seq, h)
                                     : cache.value_scales(layer, seq, h))[row];
        float max_abs = 0.0f;
        for (float v : x) max_abs = std::max(max_abs, std::fabs(v));
        EXPECT_FLOAT_EQ(scale, max_abs > 0.0f ? max_abs / 127.0f : 1.0f);
        for (int64_t d = 0; d < c.head_dim; ++d) {
          EXPECT_GE(q[d], -127);
          EXPECT_LE(std::fabs(scale * q[d] - x[d]), 0.5f * scale * (1.0f + 1e-5f) + 1e-30f)
              << "position " << p << " head " << h << " d " << d;
        }
      }
    }
  }
}

TEST(KVCacheTest, Int8RowsRoundTripWithinHalfAStep) {
  for (CacheFullPolicy policy : {CacheFullPolicy::kError, CacheFullPolicy::kSlidingWindow}) {
    KVCacheConfig c = SmallConfig(policy);
    c.dtype = KVDtype::kInt8;
    c.head_dim = 7;
    auto cache = KVCache::Create(c);
    ASSERT_TRUE(cache.ok());
    tensor::Rng rng(5);
    // rows_k[p * heads + h]: the row given for position p of head h.
    std::vector<std::vector<float>> rows_k, rows_v;
    const int64_t total = policy == CacheFullPolicy::kError ? 5 : 12;
    for (int64_t p = 0; p < total; ++p) {
      std::vector<float> k, v;  // (heads, 1, head_dim)
      for (int64_t h = 0; h < c.heads; ++h) {
        std::vector<float> rk(c.head_dim), rv(c.head_dim);
        for (int64_t d = 0; d < c.head_dim; ++d) {
          rk[d] = rng.Uniform(-3.0f, 3.0f) * (p % 3 == 2 ? 0.0f : 1.0f);  // some zero rows
          rv[d] = rng.Uniform(-0.01f, 0.01f);
        }
        k.insert(k.end(), rk.begin(), rk.end());
        v.insert(v.end(), rv.begin(), rv.end());
        rows_k.push_back(rk);
        rows_v.push_back(rv);
      }
      ASSERT_TRUE(cache->Append(1, 2, k.data(), v.data(), 1).ok());
    }
    ExpectInt8Holds(*cache, 1, 2, rows_k, rows_v);
  }
}

TEST(KVCacheDeathTest, FloatAndInt8ViewsAreNotMixedUp) {
  auto f32 = KVCache::Create(SmallConfig());
  ASSERT_TRUE(f32.ok());
  EXPECT_DEATH(f32->keys_int8(0, 0, 0), "float32");
  EXPECT_DEATH(f32->value_scales(0, 0, 0), "float32");
  KVCacheConfig c = SmallConfig();
  c.dtype = KVDtype::kInt8;
  auto q8 = KVCache::Create(c);
  ASSERT_TRUE(q8.ok());
  EXPECT_DEATH(q8->keys(0, 0, 0), "int8");
  EXPECT_DEATH(q8->values(0, 0, 0), "int8");
}

TEST(KVCacheDeathTest, ViewsCheckTheirIndices) {
  auto cache = KVCache::Create(SmallConfig());
  ASSERT_TRUE(cache.ok());
  EXPECT_DEATH(cache->keys(0, 3, 0), "out of range");
  EXPECT_DEATH(cache->values(0, 0, 2), "out of range");
  EXPECT_DEATH(cache->length(5), "out of range");
  EXPECT_DEATH(cache->RowOfPosition(0, 0, 0), "not kept");
}

}  // namespace
}  // namespace tt::cache
