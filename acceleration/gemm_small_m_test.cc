// GemmSmallM (M = 1..7, no packing) on every ISA this CPU has, each forced in turn with
// ScopedIsa: against the double-precision oracle, tensor's reference and GemmNaive
// (gemm_testing.h) on the shape grid, every transpose, alpha/beta, strides and the fused
// bias + activation; long dot products (tb == kYes) across their K chunks; 1 and 2
// threads bitwise equal; GemmPacked / GemmThreaded / GemmFast route GemmUsesSmallM's
// shapes to it; nothing past the operands is read or written (guard pages).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/gemm_testing.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/thread_pool.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Trans;
using testing::CheckGemmAgainst;
using testing::GemmFn;
using testing::GemmCase;
using testing::RunGemm;

const GemmFn kNaive = [](const GemmArgs& g) { GemmNaive(g); };

class GemmSmallMTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
    force_ = std::make_unique<ScopedIsa>(GetParam());
  }
  void TearDown() override { force_.reset(); }

  // GemmSmallM on the forced ISA.
  static void Run(const GemmArgs& g) { GemmSmallM(g, ActiveIsa()); }

 private:
  std::unique_ptr<ScopedIsa> force_;
};

GemmCase Case(int64_t m, int64_t n, int64_t k, Trans ta = Trans::kNo, Trans tb = Trans::kNo) {
  GemmCase c;
  c.m = m;
  c.n = n;
  c.k = k;
  c.ta = ta;
  c.tb = tb;
  return c;
}

// N: below, at and past one vector (16 / 8 floats) and the wide blocks, and a whole
// 256-column block; K: one step, two, a masked tail (17) and the MLP's 784.
constexpr int64_t kNs[] = {1, 3, 15, 16, 17, 31, 33, 255, 256};
constexpr int64_t kKs[] = {1, 2, 17, 784};

TEST_P(GemmSmallMTest, ShapeGridMatchesReferenceAndNaive) {
  for (int64_t m = 1; m <= 7; ++m) {
    for (int64_t n : kNs) {
      for (int64_t k : kKs) EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, Case(m, n, k)));
    }
  }
}

TEST_P(GemmSmallMTest, EveryTransposeCombination) {
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      for (int64_t m = 1; m <= 7; ++m) {
        for (int64_t n : {1, 3, 17, 33, 256}) {
          for (int64_t k : {1, 17, 784}) {
            EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, Case(m, n, k, ta, tb)));
          }
        }
      }
    }
  }
}

TEST_P(GemmSmallMTest, AlphaBetaStridesBiasAndActivation) {
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
        for (auto [m, n, k] : {std::tuple{1, 256, 784}, std::tuple{3, 33, 17},
                               std::tuple{7, 130, 65}, std::tuple{1, 10, 128}}) {
          for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, std::pair{-0.5f, 1.0f},
                                     std::pair{2.0f, 0.75f}}) {
            GemmCase c = Case(m, n, k, ta, tb);
            c.alpha = alpha;
            c.beta = beta;
            c.bias = true;
            c.act = act;
            c.pad = beta == 1.0f ? 3 : 0;
            EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, c));
            c.bias = false;
            EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, c));
          }
        }
      }
    }
  }
}

TEST_P(GemmSmallMTest, ContractEdgeCases) {
  // The module's contract cases (zero sizes, K = 0 with an epilogue, K >> N, ...): any
  // M is correct, rows past 7 in further groups.
  testing::ExpectGemmPasses(Run, testing::EdgeCases());
  EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, Case(8, 40, 30)));
  EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, Case(17, 33, 20, Trans::kYes, Trans::kYes)));
}

TEST_P(GemmSmallMTest, OneAndTwoThreadsGiveTheSameBits) {
  ThreadPool one(1), two(2);
  for (Trans tb : {Trans::kNo, Trans::kYes}) {
    for (auto [m, n, k] : {std::tuple{1, 1000, 300}, std::tuple{5, 700, 64},
                           std::tuple{7, 257, 33}, std::tuple{2, 65, 784},
                           std::tuple{3, 130, 1100}}) {
      GemmCase c = Case(m, n, k, Trans::kNo, tb);
      c.bias = true;
      c.act = Activation::kGelu;
      c.beta = 0.5f;
      const std::vector<float> single = RunGemm(Run, c);
      for (ThreadPool* pool : {&one, &two}) {
        // min_flops 0: always split (GemmThreaded routes M <= 7 to GemmSmallM).
        auto threaded = [pool](const GemmArgs& g) { GemmThreaded(g, ActiveIsa(), pool, 0.0); };
        EXPECT_TRUE(testing::CheckGemm(threaded, c));
        EXPECT_EQ(RunGemm(threaded, c), single) << c.ToString() << " threads " << pool->size();
      }
    }
  }
}

TEST_P(GemmSmallMTest, PackedThreadedAndFastRouteSmallMHere) {
  ThreadPool two(2);
  for (int64_t m : {1, 4, 7}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      const GemmCase c = Case(m, 100, 50, Trans::kNo, tb);
      const std::vector<float> small = RunGemm(Run, c);
      EXPECT_EQ(RunGemm([](const GemmArgs& g) { GemmPacked(g, ActiveIsa()); }, c), small);
      EXPECT_EQ(RunGemm([&](const GemmArgs& g) { GemmThreaded(g, ActiveIsa(), &two); }, c),
                small);
      EXPECT_EQ(RunGemm([](const GemmArgs& g) { GemmFast(g); }, c), small);
    }
  }
  // Past GemmUsesSmallM's shapes, the packed path (a different summation order: kc
  // blocks).
  const GemmCase c = Case(40, 100, 1000);
  const internal::Blocking bl = internal::DefaultBlocking(internal::UkernelFor(ActiveIsa()));
  auto packed = [&](const GemmArgs& g) { internal::GemmPackedWithBlocking(g, ActiveIsa(), bl); };
  EXPECT_EQ(RunGemm([](const GemmArgs& g) { GemmPacked(g, ActiveIsa()); }, c), RunGemm(packed, c));
}

TEST_P(GemmSmallMTest, LongDotProductsRunInKChunks) {
  // tb == kYes: K is cut into chunks of 512 whose partial sums C collects; the chunk
  // edges, beta, bias and activation (on the last chunk only) must all come out right.
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (int64_t m : {1, 9, 16, 33}) {
      for (int64_t n : {1, 9, 16}) {
        for (int64_t k : {511, 512, 513, 1500}) {
          GemmCase c = Case(m, n, k, ta, Trans::kYes);
          c.beta = m == 9 ? 0.5f : 0.0f;
          c.bias = n == 9;
          c.act = k == 513 ? Activation::kGelu : Activation::kRelu;
          EXPECT_TRUE(CheckGemmAgainst(Run, kNaive, c));
        }
      }
    }
  }
}

TEST_P(GemmSmallMTest, FewColumnDotProductsAreRoutedHere) {
  GemmArgs g;
  g.m = 16;
  g.n = 9;
  g.k = 50176;
  g.tb = Trans::kYes;
  EXPECT_TRUE(GemmUsesSmallM(g));  // a convolution's weight gradient
  g.k = 255;
  EXPECT_FALSE(GemmUsesSmallM(g));  // K too short for the dot products to pay
  g.k = 4000;
  g.n = 17;
  EXPECT_FALSE(GemmUsesSmallM(g));  // enough columns for the packed tile
  g.tb = Trans::kNo;
  g.n = 9;
  g.m = 16;
  EXPECT_TRUE(GemmUsesSmallM(g));  // up to 16 rows: B unpacked
  g.m = 32;
  g.n = 196;
  g.k = 144;
  EXPECT_TRUE(GemmUsesSmallM(g));  // 32 rows, B (110 KB) in L2
  g.n = 64 * 196;
  EXPECT_FALSE(GemmUsesSmallM(g));  // B (7 MB) beyond L2: packed
  g.m = 33;
  g.n = 196;
  EXPECT_FALSE(GemmUsesSmallM(g));
  g.m = 7;
  g.n = 64 * 196;
  EXPECT_TRUE(GemmUsesSmallM(g));

  ThreadPool two(2);
  const GemmCase c = Case(20, 9, 3000, Trans::kNo, Trans::kYes);
  const std::vector<float> small = RunGemm(Run, c);
  EXPECT_EQ(RunGemm([](const GemmArgs& g) { GemmPacked(g, ActiveIsa()); }, c), small);
  EXPECT_EQ(RunGemm([&](const GemmArgs& g) { GemmThreaded(g, ActiveIsa(), &two, 0.0); }, c),
            small);
}

// Memory that ends where a PROT_NONE page starts: reading or writing past the end of
// an operand faults (the masked tails must not touch it).
class GuardedFloats {
 public:
  explicit GuardedFloats(size_t count) : count_(count) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (count * sizeof(float) + page - 1) / page * page;
    size_ = bytes + page;
    base_ = static_cast<char*>(
        mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return;
    }
    mprotect(base_ + bytes, page, PROT_NONE);
    data_ = reinterpret_cast<float*>(base_ + bytes) - count;
  }
  ~GuardedFloats() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  float* data() { return data_; }
  void CopyFrom(const std::vector<float>& v) { std::memcpy(data_, v.data(), count_ * 4); }

 private:
  size_t count_, size_ = 0;
  char* base_ = nullptr;
  float* data_ = nullptr;
};

TEST_P(GemmSmallMTest, TouchesNothingPastTheOperands) {
  for (Trans tb : {Trans::kNo, Trans::kYes}) {
    for (int64_t m : {1, 2, 5, 7}) {
      for (int64_t n : {1, 3, 17, 33}) {
        for (int64_t k : {1, 5, 17, 23}) {
          GuardedFloats a(m * k), b(k * n), c(m * n), bias(n);
          ASSERT_NE(a.data(), nullptr);
          std::vector<float> av(m * k), bv(k * n), biasv(n, 0.25f);
          for (size_t i = 0; i < av.size(); ++i) av[i] = 0.01f * static_cast<float>(i % 13);
          for (size_t i = 0; i < bv.size(); ++i) bv[i] = 0.02f * static_cast<float>(i % 7);
          a.CopyFrom(av);
          b.CopyFrom(bv);
          bias.CopyFrom(biasv);
          GemmArgs g;
          g.tb = tb;
          g.m = m;
          g.n = n;
          g.k = k;
          g.a = a.data();
          g.lda = k;
          g.b = b.data();
          g.ldb = tb == Trans::kNo ? n : k;
          g.c = c.data();
          g.ldc = n;
          g.beta = 1.0f;  // C is read too
          std::memset(c.data(), 0, m * n * sizeof(float));
          g.bias = bias.data();
          g.act = Activation::kRelu;
          Run(g);  // a fault ends the test
          std::vector<float> want(m * n, 0.0f);
          GemmArgs w = g;
          w.a = av.data();
          w.b = bv.data();
          w.bias = biasv.data();
          w.c = want.data();
          GemmNaive(w);
          for (int64_t i = 0; i < m * n; ++i) {
            ASSERT_NEAR(c.data()[i], want[i], 1e-5f) << "m=" << m << " n=" << n << " k=" << k;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GemmSmallMTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           switch (info.param) {
                             case Isa::kScalar:
                               return std::string("Scalar");
                             case Isa::kAvx2Fma:
                               return std::string("Avx2Fma");
                             case Isa::kAvx512:
                               return std::string("Avx512");
                           }
                           return std::string("Unknown");
                         });

TEST(GemmSmallMDeathTest, RejectsBadArguments) {
  GemmArgs g;
  g.k = -3;
  EXPECT_DEATH(GemmSmallM(g, Isa::kScalar), "GemmSmallM: negative size");
  float x[4] = {};
  g.m = g.n = g.k = 2;
  g.a = g.b = g.c = x;
  g.lda = 2;
  g.ldb = 1;  // shorter than a row of B (N = 2)
  g.ldc = 2;
  EXPECT_DEATH(GemmSmallM(g, Isa::kScalar), "ldb 1 < 2");
  EXPECT_DEATH(GemmPacked(g, Isa::kScalar), "GemmPacked: ldb 1 < 2");
}

}  // namespace
}  // namespace tt::accel
