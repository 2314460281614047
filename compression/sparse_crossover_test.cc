#include "compression/sparse_crossover.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::compress {
namespace {

using ::testing::HasSubstr;

TEST(SparseCrossoverTest, MeasuresEveryPairInOrder) {
  const std::vector<double> sparsities = {0.0, 0.9};
  const std::vector<int64_t> batches = {1, 3};
  const auto rows = MeasureSparseCrossover(20, 12, sparsities, batches, 0.002).value();
  ASSERT_EQ(rows.size(), 4u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].sparsity, sparsities[i / 2]);
    EXPECT_EQ(rows[i].batch, batches[i % 2]);
    EXPECT_GT(rows[i].dense_us, 0.0);
    EXPECT_GT(rows[i].sparse_us, 0.0);
  }
  const std::string table = FormatSparseCrossoverTable(rows);
  EXPECT_THAT(table, HasSubstr("sparsity"));
  EXPECT_THAT(table, HasSubstr("90.0%"));
}

TEST(SparseCrossoverTest, BadArgumentsAreErrors) {
  struct Case {
    int64_t in, out;
    std::vector<double> s;
    std::vector<int64_t> b;
    double seconds;
    const char* message;
  };
  const Case cases[] = {
      {0, 4, {0.5}, {1}, 0.01, "in and out must be >= 1"},
      {4, 4, {1.0}, {1}, 0.01, "sparsity 1 is outside [0, 1)"},
      {4, 4, {-0.1}, {1}, 0.01, "sparsity -0.1 is outside [0, 1)"},
      {4, 4, {0.5}, {0}, 0.01, "batch 0 must be >= 1"},
      {4, 4, {}, {1}, 0.01, "at least one sparsity"},
      {4, 4, {0.5}, {1}, 0.0, "min_seconds 0 is outside (0, 60]"},
  };
  for (const Case& c : cases) {
    const auto rows = MeasureSparseCrossover(c.in, c.out, c.s, c.b, c.seconds);
    ASSERT_FALSE(rows.ok()) << c.message;
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(rows.status().message()), HasSubstr(c.message));
  }
}

SparseCrossoverRow Row(double sparsity, int64_t batch, double dense_us, double sparse_us) {
  SparseCrossoverRow r;
  r.sparsity = sparsity;
  r.batch = batch;
  r.dense_us = dense_us;
  r.sparse_us = sparse_us;
  return r;
}

TEST(SparseCrossoverTest, CrossoverIsInterpolatedWhereSpeedupPassesOne) {
  const std::vector<SparseCrossoverRow> rows = {
      Row(0.9, 1, 10, 2),   Row(0.5, 1, 10, 20),  Row(0.7, 1, 10, 5),  // 0.5 -> 0.7: 0.5x to 2x
      Row(0.5, 64, 10, 5),  Row(0.9, 64, 10, 1),                        // wins everywhere
      Row(0.5, 8, 10, 50),  Row(0.9, 8, 10, 20),                        // never wins
  };
  // speedup 0.5 at 0.5, 2.0 at 0.7: crosses 1 a third of the way.
  EXPECT_NEAR(CrossoverSparsity(rows, 1), 0.5 + 0.2 / 3.0, 1e-12);
  EXPECT_EQ(CrossoverSparsity(rows, 64), 0.5);
  EXPECT_TRUE(std::isnan(CrossoverSparsity(rows, 8)));
  EXPECT_TRUE(std::isnan(CrossoverSparsity(rows, 2)));
}

}  // namespace
}  // namespace tt::compress
