#include "acceleration/thread_pool.h"

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tt::accel {
namespace {

// Runs ParallelFor(n) and checks that every index was visited exactly once, by
// contiguous non-empty ranges inside [0, n).
void ExpectCoversOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<bool> bad_range{false};
  pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
    if (begin < 0 || end > n || begin >= end) bad_range = true;
    for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
  });
  EXPECT_FALSE(bad_range) << "n = " << n;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n = " << n << ", i = " << i;
}

TEST(ThreadPoolTest, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(2).size(), 2);
  EXPECT_EQ(ThreadPool(5).size(), 5);
}

TEST(ThreadPoolTest, CoversEveryIndexOnceForAnyThreadCount) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 100, 1001}) ExpectCoversOnce(pool, n);
  }
}

TEST(ThreadPoolTest, ComputesTheSameSumWithOneAndTwoThreads) {
  std::vector<int64_t> values(100000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i * i % 977);
  int64_t expected = 0;
  for (int64_t v : values) expected += v;
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    std::atomic<int64_t> total{0};
    pool.ParallelFor(static_cast<int64_t>(values.size()), [&](int64_t begin, int64_t end) {
      int64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += values[i];
      total += s;
    });
    EXPECT_EQ(total.load(), expected) << threads << " threads";
  }
}

TEST(ThreadPoolTest, UsesTheWorkersWhenTheyAreFree) {
  // With 2 threads and chunks that wait for each other, both threads must take part:
  // the first chunk does not finish until a second thread has started one.
  ThreadPool pool(2);
  std::atomic<int> started{0};
  std::atomic<bool> two_threads_seen{false};
  pool.ParallelFor(2, [&](int64_t, int64_t) {
    started.fetch_add(1);
    for (int spin = 0; spin < 200000000 && started.load() < 2; ++spin) {
    }
    if (started.load() >= 2) two_threads_seen = true;
  });
  EXPECT_TRUE(two_threads_seen);
}

TEST(ThreadPoolTest, ManyBackToBackCallsStayCorrect) {
  // Exercises the hand-off between jobs (late workers, spinning, sleeping).
  ThreadPool pool(2);
  for (int round = 0; round < 20000; ++round) {
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(5, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) sum += i;
    });
    ASSERT_EQ(sum.load(), 10) << "round " << round;
  }
}

TEST(ThreadPoolTest, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(40);
  pool.ParallelFor(4, [&](int64_t begin, int64_t end) {
    for (int64_t outer = begin; outer < end; ++outer) {
      pool.ParallelFor(10, [&](int64_t b, int64_t e) {
        EXPECT_EQ(b, 0);  // inline: one range, the whole of it
        EXPECT_EQ(e, 10);
        for (int64_t i = b; i < e; ++i) hits[outer * 10 + i].fetch_add(1);
      });
    }
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, ConcurrentCallersBothFinish) {
  ThreadPool pool(2);
  auto run = [&] {
    for (int round = 0; round < 2000; ++round) ExpectCoversOnce(pool, 37);
  };
  std::thread other(run);
  run();
  other.join();
}

TEST(ThreadPoolTest, DestructorJoinsIdleAndBusyPools) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
    if (i % 2 == 0) ExpectCoversOnce(pool, 10);
  }  // each destructor must return (joining its workers), or the test hangs
  SUCCEED();
}

TEST(ThreadPoolDeathTest, RejectsZeroThreads) {
  EXPECT_DEATH(ThreadPool(0), "num_threads must be >= 1");
}

TEST(ThreadPoolDeathTest, DefaultPoolFollowsEnvironment) {
  // "threadsafe" re-runs this test alone in a fresh process, where the default pool has
  // not been created yet.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("TT_NUM_THREADS", "3", 1);
        std::exit(DefaultThreadPool().size() == 3 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("TT_NUM_THREADS", "zero", 1);
        const int expected = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
        std::exit(DefaultThreadPool().size() == expected ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace tt::accel
