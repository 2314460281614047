// The allocator's block cache: large blocks are reused by exact size, small ones are not
// cached, the cap holds, and the memory hooks still see every logical allocation.
#include <set>

#include "gtest/gtest.h"
#include "tensor/tensor.h"

namespace tt::tensor {
namespace {

TEST(AllocatorCacheTest, ReusesAFreedLargeBlockOfTheSameSize) {
  ReleaseAllocatorCache();
  const int64_t n = (kCachedBlockMinBytes / sizeof(float)) * 2;  // 128 KiB
  const float* first;
  {
    Tensor t = Tensor::Zeros({n});
    first = t.data();
  }
  EXPECT_EQ(AllocatorCachedBytes(), n * sizeof(float));
  Tensor again = Tensor::Empty({n});
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(AllocatorCachedBytes(), 0u);
  Tensor other = Tensor::Empty({n + 16});  // a different size is not served from it
  EXPECT_NE(other.data(), first);
}

TEST(AllocatorCacheTest, SmallBlocksAreNotCachedAndTheCapHolds) {
  ReleaseAllocatorCache();
  { Tensor small = Tensor::Zeros({100}); }
  EXPECT_EQ(AllocatorCachedBytes(), 0u);
  const int64_t big = (64 << 20) / sizeof(float);  // 64 MiB each; the cap is 256 MiB
  {
    std::vector<Tensor> blocks;
    for (int i = 0; i < 6; ++i) blocks.push_back(Tensor::Empty({big}));
  }
  EXPECT_LE(AllocatorCachedBytes(), kAllocatorCacheMaxBytes);
  EXPECT_GE(AllocatorCachedBytes(), 4 * (size_t{64} << 20));
  ReleaseAllocatorCache();
  EXPECT_EQ(AllocatorCachedBytes(), 0u);
}

class CountingObserver : public AllocObserver {
 public:
  void OnAlloc(const void*, size_t bytes, const char*) override { allocated += bytes; }
  void OnFree(const void*, size_t bytes) override { freed += bytes; }
  size_t allocated = 0, freed = 0;
};

TEST(AllocatorCacheTest, ObserversSeeLogicalAllocationsEvenWhenCached) {
  const int64_t n = kCachedBlockMinBytes / sizeof(float);
  { Tensor warm = Tensor::Empty({n}); }  // now cached
  CountingObserver o;
  {
    ScopedAllocObserver listen(&o);
    Tensor t = Tensor::Empty({n});
  }
  EXPECT_EQ(o.allocated, n * sizeof(float));
  EXPECT_EQ(o.freed, n * sizeof(float));
}

// Caches of derived data (packed weights) key on ParameterVersion: in-place updates
// must move it, making new tensors must not.
TEST(ParameterVersionTest, MovesOnInPlaceUpdatesOnly) {
  const uint64_t start = ParameterVersion();
  Tensor t = Tensor::Zeros({4});
  Tensor u = Tensor::Full({4}, 2.0f);
  Tensor v = Tensor::Ones({4}).Clone();
  EXPECT_EQ(ParameterVersion(), start);
  t.Fill(1.0f);
  EXPECT_GT(ParameterVersion(), start);
  const uint64_t after_fill = ParameterVersion();
  t.CopyFrom(u);
  EXPECT_GT(ParameterVersion(), after_fill);
}

}  // namespace
}  // namespace tt::tensor
