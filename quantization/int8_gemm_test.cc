// The int8 GEMM on every kernel this CPU has (each forced in turn with ScopedIsa;
// unsupported ones skip), bit-exact against Int8GemmRef (+ RequantizeRef for the uint8
// output): random and edge shapes, zero points 0/128/255, strides, extreme values with
// the longest K, the output never written outside its (M, N) window, threads.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/thread_pool.h"
#include "gtest/gtest.h"
#include "quantization/int8_gemm.h"
#include "quantization/int8_isa.h"
#include "quantization/requantize.h"

namespace tt::quant {
namespace {

accel::Isa IsaFor(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kAvx512Vnni:
      return accel::Isa::kAvx512;
    case Int8Kernel::kAvx2:
      return accel::Isa::kAvx2Fma;
    case Int8Kernel::kScalar:
      break;
  }
  return accel::Isa::kScalar;
}

// Forces the kernel through ActiveIsa(), as every caller that packs with the default
// argument sees it.
class Int8GemmTest : public ::testing::TestWithParam<Int8Kernel> {
 protected:
  void SetUp() override {
    if (!Int8KernelSupported(GetParam())) {
      GTEST_SKIP() << Int8KernelName(GetParam()) << " not supported on this CPU";
    }
    force_.emplace(IsaFor(GetParam()));
    ASSERT_EQ(ActiveInt8Kernel(), GetParam());
  }
  std::optional<accel::ScopedIsa> force_;
};

struct Problem {
  int64_t m, n, k, lda, ldb, ldc;
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  std::vector<int32_t> bias;
};

enum class Fill { kRandom, kMax, kMin };

Problem MakeProblem(int64_t m, int64_t n, int64_t k, int64_t pad, std::mt19937_64& rng,
                    Fill fill_a = Fill::kRandom, Fill fill_b = Fill::kRandom) {
  Problem p{m, n, k, k + pad, n + pad, n + pad, {}, {}, {}};
  p.a.resize(static_cast<size_t>(std::max<int64_t>(1, m * p.lda)));
  p.b.resize(static_cast<size_t>(std::max<int64_t>(1, k * p.ldb)));
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), bias(-100000, 100000);
  for (uint8_t& v : p.a) v = fill_a == Fill::kRandom ? u8(rng) : fill_a == Fill::kMax ? 255 : 0;
  for (int8_t& v : p.b) {
    v = static_cast<int8_t>(fill_b == Fill::kRandom ? s8(rng) : fill_b == Fill::kMax ? 127 : -128);
  }
  p.bias.resize(static_cast<size_t>(n));
  for (int32_t& v : p.bias) v = bias(rng);
  return p;
}

std::vector<int32_t> Reference(const Problem& p, int32_t zp, bool with_bias) {
  std::vector<int32_t> c(static_cast<size_t>(std::max<int64_t>(1, p.m * p.ldc)), 0);
  Int8GemmRef(p.m, p.n, p.k, p.a.data(), p.lda, zp, p.b.data(), p.ldb, c.data(), p.ldc);
  if (with_bias) {
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) c[i * p.ldc + j] += p.bias[j];
    }
  }
  return c;
}

// Checks Int8GemmS32 (with and without bias) and Int8Gemm (per channel and per tensor,
// plain and ReLU) against the reference; the padding of C must stay untouched.
void ExpectMatchesReference(const Problem& p, int32_t zp, std::mt19937_64& rng,
                            const std::string& what) {
  const PackedInt8Matrix packed = PackedInt8Matrix::Pack(p.b.data(), p.k, p.n, p.ldb);
  ASSERT_EQ(packed.kernel(), ActiveInt8Kernel());
  const size_t c_size = static_cast<size_t>(std::max<int64_t>(1, p.m * p.ldc));
  constexpr int32_t kSentinel32 = 0x5A5A5A5A;
  constexpr uint8_t kSentinel8 = 0xA5;

  for (bool with_bias : {false, true}) {
    const std::vector<int32_t> want = Reference(p, zp, with_bias);
    std::vector<int32_t> got(c_size, kSentinel32);
    Int8GemmS32(packed, p.m, p.a.data(), p.lda, zp, with_bias ? p.bias.data() : nullptr,
                got.data(), p.ldc);
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.ldc; ++j) {
        const int32_t expected = j < p.n ? want[i * p.ldc + j] : kSentinel32;
        ASSERT_EQ(got[i * p.ldc + j], expected)
            << what << " S32 bias=" << with_bias << " at (" << i << ", " << j << ")";
      }
    }
  }

  const std::vector<int32_t> acc = Reference(p, zp, /*with_bias=*/true);
  // Scales around the accumulators' size so that outputs spread over the 8-bit range,
  // and a few extreme ones (shift 62, a scale > 1).
  std::uniform_real_distribution<double> log2_scale(-20.0, -8.0);
  std::vector<FixedPointMultiplier> mult(static_cast<size_t>(std::max<int64_t>(1, p.n)));
  for (size_t j = 0; j < mult.size(); ++j) {
    mult[j] = QuantizeMultiplier(std::exp2(log2_scale(rng))).value();
  }
  if (mult.size() > 2) mult[1] = QuantizeMultiplier(0x1p-32).value();
  if (mult.size() > 3) mult[2] = QuantizeMultiplier(3.7).value();
  std::uniform_int_distribution<int> u8(0, 255);
  for (bool per_channel : {true, false}) {
    for (bool relu : {false, true}) {
      Int8Epilogue ep;
      ep.bias = p.bias.data();
      ep.multipliers = mult.data();
      ep.per_channel = per_channel;
      ep.output_zero_point = u8(rng);
      ep.output_min = relu ? ep.output_zero_point : 0;
      ep.output_max = relu ? 255 : std::max(ep.output_zero_point, 200);
      std::vector<uint8_t> got(c_size, kSentinel8);
      Int8Gemm(packed, p.m, p.a.data(), p.lda, zp, ep, got.data(), p.ldc);
      for (int64_t i = 0; i < p.m; ++i) {
        for (int64_t j = 0; j < p.ldc; ++j) {
          const int32_t expected =
              j < p.n ? RequantizeRef(acc[i * p.ldc + j], mult[per_channel ? j : 0],
                                      ep.output_zero_point, ep.output_min, ep.output_max)
                      : kSentinel8;
          ASSERT_EQ(got[i * p.ldc + j], expected)
              << what << " per_channel=" << per_channel << " relu=" << relu << " at (" << i
              << ", " << j << ")";
        }
      }
    }
  }
}

TEST_P(Int8GemmTest, RandomShapesMatchReferenceExactly) {
  std::mt19937_64 rng(17);
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {
      {1, 1, 1},     {3, 3, 3},     {17, 17, 17},  {255, 255, 255}, {2, 5, 4},
      {8, 48, 4},    {9, 49, 5},    {7, 47, 3},    {16, 96, 8},     {6, 16, 2},
      {1, 100, 300}, {100, 1, 300}, {5, 200, 3},   {33, 97, 130},   {2, 3, 4099},
      {24, 64, 1},   {4, 8, 2},     {13, 31, 45},  {50, 130, 64},   {1, 1000, 17},
  };
  for (const Shape& s : shapes) {
    for (int32_t zp : {0, 128, 255}) {
      for (int64_t pad : {0, 3}) {
        const Problem p = MakeProblem(s.m, s.n, s.k, pad, rng);
        ExpectMatchesReference(p, zp, rng,
                               "M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) +
                                   " K=" + std::to_string(s.k) + " zp=" + std::to_string(zp) +
                                   " pad=" + std::to_string(pad));
        if (HasFailure()) return;
      }
    }
  }
}

TEST_P(Int8GemmTest, EmptyDimensions) {
  std::mt19937_64 rng(3);
  for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{0, 5, 7},
                                {5, 0, 7},
                                {5, 7, 0},
                                {0, 0, 0},
                                {1, 1, 0},
                                {20, 50, 0}}) {
    const Problem p = MakeProblem(m, n, k, 1, rng);
    ExpectMatchesReference(p, 77, rng,
                           "M=" + std::to_string(m) + " N=" + std::to_string(n) +
                               " K=" + std::to_string(k));
  }
  // Null pointers are fine for empty matrices.
  const PackedInt8Matrix empty = PackedInt8Matrix::Pack(nullptr, 0, 0, 0);
  EXPECT_EQ(empty.PackedBytes(), 0);
  Int8GemmS32(empty, 0, nullptr, 0, 0, nullptr, nullptr, 0);
}

// The largest products, summed over the longest K: |sum| reaches 255 * 128 * 65536
// = 2139095040, just under 2^31. The kernels' raw sums and the zero-point correction
// must still come out exact.
TEST_P(Int8GemmTest, ExtremeValuesWithLongestKDoNotOverflow) {
  std::mt19937_64 rng(5);
  const int64_t k = kInt8GemmMaxK;
  struct Case {
    Fill a, b;
    int32_t zp;
  };
  for (const Case& c : {Case{Fill::kMax, Fill::kMin, 0}, Case{Fill::kMax, Fill::kMax, 0},
                        Case{Fill::kMin, Fill::kMin, 255}, Case{Fill::kMin, Fill::kMax, 255},
                        Case{Fill::kMax, Fill::kMin, 255}, Case{Fill::kRandom, Fill::kMin, 128}}) {
    Problem p = MakeProblem(3, 5, k, 0, rng, c.a, c.b);
    std::fill(p.bias.begin(), p.bias.end(), 0);
    const std::vector<int32_t> want = Reference(p, c.zp, false);
    if (c.a == Fill::kMax && c.b == Fill::kMin && c.zp == 0) {
      ASSERT_EQ(want[0], -2139095040);
    }
    ExpectMatchesReference(p, c.zp, rng, "extreme zp=" + std::to_string(c.zp));
  }
}

TEST_P(Int8GemmTest, RequantizeMatchesReference) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int32_t> any32(std::numeric_limits<int32_t>::min(),
                                               std::numeric_limits<int32_t>::max());
  std::uniform_int_distribution<int32_t> small(-70000, 70000);
  std::uniform_int_distribution<int32_t> mult_dist(1, std::numeric_limits<int32_t>::max());
  std::uniform_int_distribution<int32_t> shift_dist(1, 62);
  std::uniform_int_distribution<int> u8(0, 255);
  for (int64_t n : {1, 3, 8, 15, 16, 17, 33, 100}) {
    const int64_t m = 5, lda = n + 2, ldo = n + 3;
    std::vector<int32_t> acc(m * lda), bias(n);
    for (int32_t& v : acc) v = rng() % 4 == 0 ? any32(rng) : small(rng);
    acc[0] = std::numeric_limits<int32_t>::min();
    acc[lda - 1] = std::numeric_limits<int32_t>::max();
    for (int32_t& v : bias) v = small(rng);
    std::vector<FixedPointMultiplier> mult(n);
    for (FixedPointMultiplier& f : mult) f = {mult_dist(rng), shift_dist(rng)};
    mult[0] = {std::numeric_limits<int32_t>::max(), 1};  // |product| near 2^62
    for (bool per_channel : {true, false}) {
      for (bool with_bias : {true, false}) {
        Int8Epilogue ep;
        ep.bias = with_bias ? bias.data() : nullptr;
        ep.multipliers = mult.data();
        ep.per_channel = per_channel;
        ep.output_zero_point = u8(rng);
        ep.output_min = u8(rng) / 2;
        ep.output_max = std::max(ep.output_min, u8(rng));
        std::vector<uint8_t> got(m * ldo, 0xEE);
        Int8Requantize(m, n, acc.data(), lda, ep, got.data(), ldo);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < ldo; ++j) {
            int32_t want = 0xEE;
            if (j < n) {
              const int32_t x = static_cast<int32_t>(
                  static_cast<uint32_t>(acc[i * lda + j]) +
                  static_cast<uint32_t>(with_bias ? bias[j] : 0));
              want = RequantizeRef(x, mult[per_channel ? j : 0], ep.output_zero_point,
                                   ep.output_min, ep.output_max);
            }
            ASSERT_EQ(got[i * ldo + j], want) << "n=" << n << " (" << i << ", " << j << ")";
          }
        }
      }
    }
  }
}

// A ends exactly at a page boundary followed by an inaccessible page: a kernel that reads
// past the last row's end (e.g. a whole 4-byte group for a K tail) crashes.
TEST_P(Int8GemmTest, NeverReadsPastTheEndOfA) {
  const long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(mprotect(static_cast<char*>(mem) + page, page, PROT_NONE), 0);
  std::mt19937_64 rng(29);
  for (int64_t k : {1, 2, 3, 5, 6, 7, 9, 17, 33, 34, 35}) {
    for (int64_t m : {1, 2, 5, 8, 9}) {
      const int64_t n = 50;
      Problem p = MakeProblem(m, n, k, 0, rng);
      uint8_t* a = static_cast<uint8_t*>(mem) + page - m * k;  // last byte ends the page
      std::copy(p.a.begin(), p.a.begin() + m * k, a);
      const PackedInt8Matrix packed = PackedInt8Matrix::Pack(p.b.data(), k, n, n);
      std::vector<int32_t> got(m * n), want(m * n);
      Int8GemmS32(packed, m, a, k, 3, nullptr, got.data(), n);
      Int8GemmRef(m, n, k, a, k, 3, p.b.data(), n, want.data(), n);
      ASSERT_EQ(got, want) << "M=" << m << " K=" << k;
    }
  }
  munmap(mem, 2 * page);
}

TEST_P(Int8GemmTest, ThreadedEqualsOneThread) {
  std::mt19937_64 rng(23);
  accel::ThreadPool pool(2);
  // Many row tiles (split over rows) and a single row tile (split over panels).
  for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{97, 150, 70},
                                {3, 500, 64},
                                {1, 7, 9}}) {
    const Problem p = MakeProblem(m, n, k, 2, rng);
    const PackedInt8Matrix packed = PackedInt8Matrix::Pack(p.b.data(), k, n, p.ldb);
    std::vector<FixedPointMultiplier> mult(n, QuantizeMultiplier(1.0 / 5000).value());
    Int8Epilogue ep;
    ep.bias = p.bias.data();
    ep.multipliers = mult.data();
    ep.output_zero_point = 100;
    std::vector<uint8_t> one(m * p.ldc, 0), two(m * p.ldc, 0);
    Int8Gemm(packed, m, p.a.data(), p.lda, 9, ep, one.data(), p.ldc);
    Int8GemmThreaded(packed, m, p.a.data(), p.lda, 9, ep, two.data(), p.ldc, &pool,
                     /*min_ops=*/0);
    EXPECT_EQ(one, two) << "M=" << m;
    std::vector<int32_t> one32(m * p.ldc, 0), two32(m * p.ldc, 0);
    Int8GemmS32(packed, m, p.a.data(), p.lda, 9, p.bias.data(), one32.data(), p.ldc);
    Int8GemmS32Threaded(packed, m, p.a.data(), p.lda, 9, p.bias.data(), two32.data(), p.ldc,
                        &pool, /*min_ops=*/0);
    EXPECT_EQ(one32, two32) << "M=" << m;
    EXPECT_EQ(one32, Reference(p, 9, true)) << "M=" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, Int8GemmTest,
                         ::testing::Values(Int8Kernel::kScalar, Int8Kernel::kAvx2,
                                           Int8Kernel::kAvx512Vnni),
                         [](const ::testing::TestParamInfo<Int8Kernel>& info) {
                           return std::string(Int8KernelName(info.param));
                         });

TEST(PackedInt8MatrixTest, ColumnSumsSizesAndMoves) {
  const int64_t k = 5, n = 50;
  std::vector<int8_t> b(k * n);
  for (int64_t i = 0; i < k * n; ++i) b[i] = static_cast<int8_t>(i * 37 % 256 - 128);
  for (Int8Kernel kernel : {Int8Kernel::kScalar, Int8Kernel::kAvx2, Int8Kernel::kAvx512Vnni}) {
    PackedInt8Matrix p = PackedInt8Matrix::Pack(b.data(), k, n, n, kernel);
    EXPECT_EQ(p.K(), k);
    EXPECT_EQ(p.N(), n);
    EXPECT_EQ(p.kernel(), kernel);
    ASSERT_EQ(p.column_sums().size(), static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      int32_t sum = 0;
      for (int64_t i = 0; i < k; ++i) sum += b[i * n + j];
      EXPECT_EQ(p.column_sums()[j], sum) << j;
    }
    // ceil(N / NR) panels of (K rounded up to KR) x NR elements, 64-byte aligned:
    // scalar 7 x 64 (5 x 8 bytes padded), AVX2 4 x (6 x 16 x 2), VNNI 2 x (8 x 48).
    const int64_t want = kernel == Int8Kernel::kScalar ? 7 * 64
                         : kernel == Int8Kernel::kAvx2 ? 4 * 6 * 16 * 2
                                                       : 2 * 8 * 48;
    EXPECT_EQ(p.PackedBytes(), want) << Int8KernelName(kernel);
    PackedInt8Matrix moved = std::move(p);
    EXPECT_EQ(moved.N(), n);
    EXPECT_EQ(p.N(), 0);  // NOLINT(bugprone-use-after-move): documented moved-from state
    EXPECT_EQ(p.PackedBytes(), 0);
  }
}

TEST(Int8GemmRefTest, KnownValues) {
  // A = [[1, 2], [3, 4]] - 1, B = [[1, -1], [2, 5]]: (A - 1) B = [[2, 5], [8, 13]].
  const uint8_t a[] = {1, 2, 3, 4};
  const int8_t b[] = {1, -1, 2, 5};
  int32_t c[4];
  Int8GemmRef(2, 2, 2, a, 2, 1, b, 2, c, 2);
  EXPECT_EQ(c[0], 2);
  EXPECT_EQ(c[1], 5);
  EXPECT_EQ(c[2], 8);
  EXPECT_EQ(c[3], 13);
}

TEST(Int8GemmDeathTest, ContractViolationsStop) {
  const int8_t b[6] = {};
  const uint8_t a[6] = {};
  uint8_t c[6];
  const PackedInt8Matrix packed = PackedInt8Matrix::Pack(b, 2, 3, 3, Int8Kernel::kScalar);
  FixedPointMultiplier good;
  Int8Epilogue ep;
  ep.multipliers = &good;
  ep.per_channel = false;
  EXPECT_DEATH(PackedInt8Matrix::Pack(b, kInt8GemmMaxK + 1, 3, 3), "K=65537");
  EXPECT_DEATH(PackedInt8Matrix::Pack(b, 2, 3, 2), "ldb = 2 < N = 3");
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 1, 0, ep, c, 3), "lda = 1 < K = 2");
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 2, 256, ep, c, 3), "a_zero_point = 256");
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 2, 0, ep, c, 2), "ldc = 2 < N = 3");
  FixedPointMultiplier bad{1 << 30, 0};
  Int8Epilogue bad_mult = ep;
  bad_mult.multipliers = &bad;
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 2, 0, bad_mult, c, 3), "multipliers\\[0\\]");
  Int8Epilogue bad_range = ep;
  bad_range.output_min = 10;
  bad_range.output_max = 5;
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 2, 0, bad_range, c, 3), "output_min");
  Int8Epilogue no_mult = ep;
  no_mult.multipliers = nullptr;
  EXPECT_DEATH(Int8Gemm(packed, 2, a, 2, 0, no_mult, c, 3), "multipliers is null");
}

}  // namespace
}  // namespace tt::quant
