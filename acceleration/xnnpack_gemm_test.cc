#include "acceleration/xnnpack_gemm.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace tt::accel {
namespace {

using tensor::Activation;
using tensor::Trans;
using ::testing::HasSubstr;

#define SKIP_WITHOUT_XNNPACK()                                                  \
  do {                                                                          \
    if (!XnnpackStatus().ok()) GTEST_SKIP() << XnnpackStatus().message();       \
  } while (0)

std::vector<float> RandomVector(int64_t size, uint64_t seed) {
  tensor::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(size));
  for (float& x : v) x = rng.Uniform(-1.0f, 1.0f);
  return v;
}

// y(B,N) = act(x(B,K) w + bias) in double, with w (K,N) or (N,K); also returns, per
// output, sum |x w| + |bias|, which scales the float rounding bound.
void ReferenceFc(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                 int64_t batch, int64_t k, int64_t n, WeightLayout layout, Activation act,
                 std::vector<double>* y, std::vector<double>* scale) {
  y->assign(static_cast<size_t>(batch * n), 0.0);
  scale->assign(static_cast<size_t>(batch * n), 0.0);
  for (int64_t i = 0; i < batch; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = bias != nullptr ? bias[j] : 0.0;
      double a = bias != nullptr ? std::fabs(bias[j]) : 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double wv = layout == WeightLayout::kKN ? w[p * n + j] : w[j * k + p];
        s += static_cast<double>(x[i * k + p]) * wv;
        a += std::fabs(static_cast<double>(x[i * k + p]) * wv);
      }
      if (act == Activation::kRelu && s < 0) s = 0;
      (*y)[i * n + j] = s;
      (*scale)[i * n + j] = a;
    }
  }
}

// Every output within the classical bound (K+2) eps sum|terms| of the exact value: a wrong
// layout or a missing bias is off by O(sum|terms|), far outside it.
void ExpectNear(const std::vector<float>& got, const std::vector<double>& want,
                const std::vector<double>& scale, int64_t k, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = (k + 2) * FLT_EPSILON * scale[i] + 1e-6;
    if (!(std::fabs(got[i] - want[i]) <= tol) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want[i]
                    << " (tolerance " << tol << ")";
    }
  }
}

TEST(XnnpackStatusTest, InitializesOnceAndNamesStatuses) {
  const absl::Status first = XnnpackStatus();
  EXPECT_EQ(first, XnnpackStatus());
  if (!first.ok()) {
    EXPECT_THAT(first.message(), HasSubstr("xnn_initialize failed: xnn_status_"));
  }
  EXPECT_STREQ(XnnStatusName(xnn_status_unsupported_hardware),
               "xnn_status_unsupported_hardware");
  EXPECT_TRUE(XnnStatusToStatus(xnn_status_success, "x").ok());
  const absl::Status bad = XnnStatusToStatus(xnn_status_invalid_parameter, "xnn_thing(K=0)");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "xnn_thing(K=0): xnn_status_invalid_parameter");
  EXPECT_EQ(XnnStatusToStatus(xnn_status_out_of_memory, "x").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(XnnStatusToStatus(xnn_status_unsupported_hardware, "x").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(XnnpackThreadPoolTest, OneThreadIsNoPoolAndZeroIsAnError) {
  auto one = XnnpackThreadPool::Create(1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*one)->get(), nullptr);
  auto two = XnnpackThreadPool::Create(2);
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_NE((*two)->get(), nullptr);
  EXPECT_EQ(pthreadpool_get_threads_count((*two)->get()), 2u);
  EXPECT_EQ(XnnpackThreadPool::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- XnnpackFullyConnected vs the reference ------------------------------------------

class FcSweepTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(FcSweepTest, MatchesReferenceWithAndWithoutBiasAndRelu) {
  SKIP_WITHOUT_XNNPACK();
  const auto [batch, k, n] = GetParam();
  const std::vector<float> x = RandomVector(batch * k, 1);
  const std::vector<float> w = RandomVector(k * n, 2);
  const std::vector<float> bias = RandomVector(n, 3);
  for (bool with_bias : {false, true}) {
    for (Activation act : {Activation::kNone, Activation::kRelu}) {
      const std::string what = absl::StrCat("batch ", batch, " K ", k, " N ", n,
                                            with_bias ? " bias" : "",
                                            act == Activation::kRelu ? " relu" : "");
      FullyConnectedOptions options;
      options.act = act;
      auto fc = XnnpackFullyConnected::Create(w.data(), with_bias ? bias.data() : nullptr,
                                              k, n, options);
      ASSERT_TRUE(fc.ok()) << what << ": " << fc.status();
      std::vector<float> y(static_cast<size_t>(batch * n), std::nanf(""));
      ASSERT_TRUE((*fc)->Run(x.data(), batch, y.data(), nullptr).ok()) << what;
      std::vector<double> want, scale;
      ReferenceFc(x, w, with_bias ? bias.data() : nullptr, batch, k, n, WeightLayout::kKN,
                  act, &want, &scale);
      ExpectNear(y, want, scale, k, what);
      if (act == Activation::kRelu) {
        for (float v : y) ASSERT_GE(v, 0.0f) << what;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FcSweepTest,
    ::testing::Combine(::testing::Values<int64_t>(1, 3, 17, 64),
                       ::testing::Values<int64_t>(1, 3, 17, 255, 256, 1024),
                       ::testing::Values<int64_t>(1, 3, 17, 255, 256, 1024)));

TEST(XnnpackFullyConnectedTest, NkLayoutIsXnnpacksNativeOne) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t batch = 5, k = 19, n = 7;
  const std::vector<float> x = RandomVector(batch * k, 4);
  const std::vector<float> w = RandomVector(n * k, 5);  // (N, K)
  FullyConnectedOptions options;
  options.layout = WeightLayout::kNK;
  auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, k, n, options);
  ASSERT_TRUE(fc.ok()) << fc.status();
  std::vector<float> y(batch * n);
  ASSERT_TRUE((*fc)->Run(x.data(), batch, y.data(), nullptr).ok());
  std::vector<double> want, scale;
  ReferenceFc(x, w, nullptr, batch, k, n, WeightLayout::kNK, Activation::kNone, &want, &scale);
  ExpectNear(y, want, scale, k, "(N,K) layout");
}

TEST(XnnpackFullyConnectedTest, WeightsArePackedAtCreation) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t batch = 4, k = 33, n = 9;
  const std::vector<float> x = RandomVector(batch * k, 6);
  std::vector<float> w = RandomVector(k * n, 7), bias = RandomVector(n, 8);
  std::vector<double> want, scale;
  ReferenceFc(x, w, bias.data(), batch, k, n, WeightLayout::kKN, Activation::kNone, &want,
              &scale);
  auto fc = XnnpackFullyConnected::Create(w.data(), bias.data(), k, n);
  ASSERT_TRUE(fc.ok()) << fc.status();
  // The operator owns a packed copy: the originals may change (or go away).
  std::fill(w.begin(), w.end(), std::nanf(""));
  std::fill(bias.begin(), bias.end(), std::nanf(""));
  std::vector<float> y(batch * n);
  ASSERT_TRUE((*fc)->Run(x.data(), batch, y.data(), nullptr).ok());
  ExpectNear(y, want, scale, k, "after overwriting the original weights");
}

TEST(XnnpackFullyConnectedTest, TwoThreadsMatchTheReference) {
  SKIP_WITHOUT_XNNPACK();
  auto pool = XnnpackThreadPool::Create(2);
  ASSERT_TRUE(pool.ok()) << pool.status();
  const int64_t batch = 64, k = 256, n = 255;
  const std::vector<float> x = RandomVector(batch * k, 9), w = RandomVector(k * n, 10);
  auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, k, n);
  ASSERT_TRUE(fc.ok()) << fc.status();
  std::vector<float> y(batch * n);
  ASSERT_TRUE((*fc)->Run(x.data(), batch, y.data(), (*pool)->get()).ok());
  std::vector<double> want, scale;
  ReferenceFc(x, w, nullptr, batch, k, n, WeightLayout::kKN, Activation::kNone, &want, &scale);
  ExpectNear(y, want, scale, k, "2 threads");
}

TEST(XnnpackFullyConnectedTest, BadArgumentsAreStatuses) {
  SKIP_WITHOUT_XNNPACK();
  const std::vector<float> w(12, 1.0f);
  EXPECT_EQ(XnnpackFullyConnected::Create(w.data(), nullptr, 0, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(XnnpackFullyConnected::Create(nullptr, nullptr, 4, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  FullyConnectedOptions gelu;
  gelu.act = Activation::kGelu;
  const absl::Status s = XnnpackFullyConnected::Create(w.data(), nullptr, 4, 3, gelu).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("GELU"));

  auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, 4, 3);
  ASSERT_TRUE(fc.ok());
  std::vector<float> x(4, 1.0f), y(3, -7.0f);
  EXPECT_EQ((*fc)->Run(x.data(), -1, y.data(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*fc)->Run(x.data(), 0, y.data(), nullptr).ok());
  EXPECT_EQ(y, std::vector<float>(3, -7.0f));  // batch 0 writes nothing
}

// XNNPACK may, by contract, read XNN_EXTRA_BYTES past an input. Tensor data is not
// padded for it, so this checks that this version's f32 FC kernels do not on this CPU:
// the input ends exactly at an inaccessible page, and any over-read would fault.
TEST(XnnpackFullyConnectedTest, DoesNotReadPastTheInputOnThisCpu) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t page = sysconf(_SC_PAGESIZE);
  const int64_t pages = 16;
  void* mem = mmap(nullptr, static_cast<size_t>(pages * page), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  char* guard = static_cast<char*>(mem) + (pages - 1) * page;
  ASSERT_EQ(mprotect(guard, static_cast<size_t>(page), PROT_NONE), 0);
  for (int64_t k : {1, 3, 5, 17, 255}) {
    for (int64_t batch : {1, 3, 7, 17}) {
      const int64_t n = 17;
      float* x = reinterpret_cast<float*>(guard) - batch * k;
      for (int64_t i = 0; i < batch * k; ++i) x[i] = 1.0f;
      const std::vector<float> w(static_cast<size_t>(k * n), 1.0f);
      auto fc = XnnpackFullyConnected::Create(w.data(), nullptr, k, n);
      ASSERT_TRUE(fc.ok());
      std::vector<float> y(batch * n);
      ASSERT_TRUE((*fc)->Run(x, batch, y.data(), nullptr).ok());
      for (float v : y) ASSERT_EQ(v, static_cast<float>(k));
    }
  }
  munmap(mem, static_cast<size_t>(pages * page));
}

// --- The cache ---------------------------------------------------------------------

TEST(XnnpackFullyConnectedCacheTest, ReusesThePackedOperatorWhileTheVersionHolds) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t k = 16, n = 8;
  const std::vector<float> w = RandomVector(k * n, 11), bias = RandomVector(n, 12);
  XnnpackFullyConnectedCache cache;
  auto a = cache.Lookup(w.data(), bias.data(), k, n, Activation::kRelu, /*version=*/7);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = cache.Lookup(w.data(), bias.data(), k, n, Activation::kRelu, 7);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(cache.creations(), 1);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.size(), 1);
}

TEST(XnnpackFullyConnectedCacheTest, RecreatesWhenTheVersionOrTheKeyChanges) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t k = 16, n = 8;
  std::vector<float> w = RandomVector(k * n, 13);
  const std::vector<float> x = RandomVector(k, 14);
  XnnpackFullyConnectedCache cache;
  auto v1 = cache.Lookup(w.data(), nullptr, k, n, Activation::kNone, 1);
  ASSERT_TRUE(v1.ok());

  // An in-place update (an optimizer step) without a version bump is served stale: that
  // is the contract the version exists for.
  for (float& v : w) v *= 2.0f;
  auto stale = cache.Lookup(w.data(), nullptr, k, n, Activation::kNone, 1);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->get(), v1->get());
  std::vector<double> want, scale;
  ReferenceFc(x, w, nullptr, 1, k, n, WeightLayout::kKN, Activation::kNone, &want, &scale);
  std::vector<float> y_stale(n), y_new(n);
  ASSERT_TRUE((*stale)->Run(x.data(), 1, y_stale.data(), nullptr).ok());
  EXPECT_NEAR(y_stale[0] * 2.0, want[0], 1e-4);

  // With the bump, the weights are re-packed and the result is the new one.
  auto v2 = cache.Lookup(w.data(), nullptr, k, n, Activation::kNone, 2);
  ASSERT_TRUE(v2.ok());
  EXPECT_NE(v2->get(), v1->get());
  ASSERT_TRUE((*v2)->Run(x.data(), 1, y_new.data(), nullptr).ok());
  ExpectNear(y_new, want, scale, k, "after the version bump");
  EXPECT_EQ(cache.creations(), 2);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.size(), 1);  // the old entry was replaced, not kept
  // The replaced operator lives on while someone holds it.
  EXPECT_TRUE((*v1)->Run(x.data(), 1, y_stale.data(), nullptr).ok());

  // Another shape, activation or layout over the same address is another entry.
  ASSERT_TRUE(cache.Lookup(w.data(), nullptr, n, k, Activation::kNone, 2).ok());
  ASSERT_TRUE(cache.Lookup(w.data(), nullptr, k, n, Activation::kRelu, 2).ok());
  ASSERT_TRUE(
      cache.Lookup(w.data(), nullptr, k, n, Activation::kNone, 2, WeightLayout::kNK).ok());
  EXPECT_EQ(cache.creations(), 5);
  EXPECT_EQ(cache.size(), 4);

  // A failed creation changes nothing.
  EXPECT_FALSE(cache.Lookup(w.data(), nullptr, 0, n, Activation::kNone, 2).ok());
  EXPECT_EQ(cache.creations(), 5);
  EXPECT_EQ(cache.size(), 4);

  cache.Clear();
  EXPECT_EQ(cache.size(), 0);
}

TEST(XnnpackFullyConnectedCacheTest, PinnedTensorsAreKeptAlive) {
  XnnpackFullyConnectedCache cache;
  const float* address = nullptr;
  {
    tensor::Tensor w = tensor::Tensor::Ones({4, 4});
    address = w.data();
    cache.PinWeight(w);
    cache.PinWeight(w);
  }
  EXPECT_TRUE(cache.IsPinned(address));
  // The pinned storage is still owned by the cache, so a new tensor cannot get it.
  tensor::Tensor other = tensor::Tensor::Ones({4, 4});
  EXPECT_NE(other.data(), address);
  EXPECT_FALSE(cache.IsPinned(other.data()));
  cache.Clear();
  EXPECT_FALSE(cache.IsPinned(address));
}

TEST(XnnpackFullyConnectedCacheTest, ConcurrentLookupsAndRunsAgree) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t batch = 8, k = 64, n = 32;
  const std::vector<float> w = RandomVector(k * n, 15), x = RandomVector(batch * k, 16);
  std::vector<double> want, scale;
  ReferenceFc(x, w, nullptr, batch, k, n, WeightLayout::kKN, Activation::kNone, &want, &scale);
  XnnpackFullyConnectedCache cache;
  std::vector<std::vector<float>> results(4, std::vector<float>(batch * n));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto op = cache.Lookup(w.data(), nullptr, k, n, Activation::kNone, 1);
        if (!op.ok() || !(*op)->Run(x.data(), batch, results[t].data(), nullptr).ok()) {
          results[t].assign(results[t].size(), std::nanf(""));
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(cache.creations(), 1);
  EXPECT_EQ(cache.hits(), 199);
  for (const auto& y : results) ExpectNear(y, want, scale, k, "concurrent");
}

// --- XnnpackGemm, the Backend::Gemm adapter ------------------------------------------

int g_fallback_calls = 0;

void CountingReferenceGemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
                           const float* a, int64_t lda, const float* b, int64_t ldb,
                           float beta, float* c, int64_t ldc) {
  ++g_fallback_calls;
  tensor::ReferenceBackend().Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// C = alpha op(A) op(B) + beta C in double, with the Backend::Gemm storage rules.
std::vector<double> ReferenceGemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k,
                                  float alpha, const std::vector<float>& a, int64_t lda,
                                  const std::vector<float>& b, int64_t ldb, float beta,
                                  const std::vector<float>& c, int64_t ldc,
                                  std::vector<double>* scale) {
  std::vector<double> out(c.begin(), c.end());
  scale->assign(c.size(), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0, abs = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta == Trans::kNo ? a[i * lda + p] : a[p * lda + i];
        const double bv = tb == Trans::kNo ? b[p * ldb + j] : b[j * ldb + p];
        s += av * bv;
        abs += std::fabs(av * bv);
      }
      const double old = beta == 0.0f ? 0.0 : beta * static_cast<double>(c[i * ldc + j]);
      out[i * ldc + j] = alpha * s + old;
      (*scale)[i * ldc + j] = std::fabs(alpha) * abs + std::fabs(old);
    }
  }
  return out;
}

struct GemmCase {
  Trans ta, tb;
  float alpha, beta;
  int64_t pad;  // extra elements per row of every operand (0: contiguous)
};

TEST(XnnpackGemmTest, EveryFlagCombinationMatchesTheReferenceOnTheRightRoute) {
  SKIP_WITHOUT_XNNPACK();
  std::vector<GemmCase> cases;
  for (Trans ta : {Trans::kNo, Trans::kYes}) {
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      for (float alpha : {1.0f, 0.5f}) {
        for (float beta : {0.0f, 1.0f, -0.5f}) {
          for (int64_t pad : {0, 3}) cases.push_back({ta, tb, alpha, beta, pad});
        }
      }
    }
  }
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1}, {3, 17, 5}, {17, 3, 255}, {64, 256, 128}, {1, 10, 128}};
  for (UnpinnedB unpinned : {UnpinnedB::kFallback, UnpinnedB::kPackPerCall}) {
    for (bool pin : {false, true}) {
      for (const GemmCase& g : cases) {
        for (const auto& [m, n, k] : shapes) {
          const int64_t a_rows = g.ta == Trans::kNo ? m : k, a_cols = g.ta == Trans::kNo ? k : m;
          const int64_t b_rows = g.tb == Trans::kNo ? k : n, b_cols = g.tb == Trans::kNo ? n : k;
          const int64_t lda = a_cols + g.pad, ldb = b_cols + g.pad, ldc = n + g.pad;
          const std::vector<float> a = RandomVector(a_rows * lda, 17);
          tensor::Tensor b_tensor = tensor::Tensor::Empty({b_rows * ldb});
          const std::vector<float> b_values = RandomVector(b_rows * ldb, 18);
          std::copy(b_values.begin(), b_values.end(), b_tensor.data());
          std::vector<float> c = RandomVector(m * ldc, 19);
          if (g.beta == 0.0f) c.assign(c.size(), std::nanf(""));  // must not be read

          XnnpackFullyConnectedCache cache;
          if (pin) cache.PinWeight(b_tensor);
          XnnpackGemmOptions options;
          options.fallback = &CountingReferenceGemm;
          options.cache = &cache;
          options.unpinned = unpinned;
          std::vector<double> scale;
          const std::vector<double> want =
              ReferenceGemm(g.ta, g.tb, m, n, k, g.alpha, a, lda, b_values, ldb, g.beta, c,
                            ldc, &scale);
          g_fallback_calls = 0;
          const GemmRoute route =
              XnnpackGemm(options, g.ta, g.tb, m, n, k, g.alpha, a.data(), lda,
                          b_tensor.data(), ldb, g.beta, c.data(), ldc);

          const bool maps = g.ta == Trans::kNo && g.alpha == 1.0f && g.beta == 0.0f &&
                            g.pad == 0;
          const GemmRoute expected =
              !maps ? GemmRoute::kFallback
              : pin ? GemmRoute::kXnnpackCached
              : unpinned == UnpinnedB::kPackPerCall ? GemmRoute::kXnnpackPerCall
                                                    : GemmRoute::kFallback;
          const std::string what = absl::StrCat(
              "ta ", g.ta == Trans::kYes, " tb ", g.tb == Trans::kYes, " alpha ", g.alpha,
              " beta ", g.beta, " pad ", g.pad, " m ", m, " n ", n, " k ", k, " pinned ", pin,
              " per-call ", unpinned == UnpinnedB::kPackPerCall);
          EXPECT_EQ(route, expected) << what << ": went " << GemmRouteName(route);
          EXPECT_EQ(g_fallback_calls, route == GemmRoute::kFallback ? 1 : 0) << what;
          // Only the (M, N) block is compared; the padding of C is never written.
          std::vector<float> got_block;
          std::vector<double> want_block, scale_block;
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              got_block.push_back(c[i * ldc + j]);
              want_block.push_back(want[i * ldc + j]);
              scale_block.push_back(scale[i * ldc + j]);
            }
          }
          ExpectNear(got_block, want_block, scale_block, k, what);
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
}

TEST(XnnpackGemmTest, PinnedWeightsAreCachedUntilTheParameterVersionChanges) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t m = 4, k = 32, n = 16;
  tensor::Rng rng(20);
  tensor::Tensor w = tensor::Tensor::Randn({k, n}, rng);
  const std::vector<float> x = RandomVector(m * k, 21);
  XnnpackFullyConnectedCache cache;
  cache.PinWeight(w);
  XnnpackGemmOptions options;
  options.fallback = &CountingReferenceGemm;
  options.cache = &cache;
  std::vector<float> c(m * n);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(XnnpackGemm(options, Trans::kNo, Trans::kNo, m, n, k, 1.0f, x.data(), k,
                          w.data(), n, 0.0f, c.data(), n),
              GemmRoute::kXnnpackCached);
  }
  EXPECT_EQ(cache.creations(), 1);
  EXPECT_EQ(cache.hits(), 2);

  w.Fill(0.5f);  // bumps tensor::ParameterVersion()
  EXPECT_EQ(XnnpackGemm(options, Trans::kNo, Trans::kNo, m, n, k, 1.0f, x.data(), k, w.data(),
                        n, 0.0f, c.data(), n),
            GemmRoute::kXnnpackCached);
  EXPECT_EQ(cache.creations(), 2);
  for (int64_t i = 0; i < m; ++i) {
    double row = 0;
    for (int64_t p = 0; p < k; ++p) row += 0.5 * x[i * k + p];
    EXPECT_NEAR(c[i * n + 3], row, 1e-4);
  }
}

// Conv2d hands the adapter its im2col buffer as B: one address, new values for every
// image, no version bump. Unpinned, it must never be served from a cache.
TEST(XnnpackGemmTest, AReusedUnpinnedBufferIsNeverServedStale) {
  SKIP_WITHOUT_XNNPACK();
  const int64_t m = 3, k = 8, n = 5;
  const std::vector<float> a = RandomVector(m * k, 22);
  std::vector<float> b(k * n);
  XnnpackFullyConnectedCache cache;
  XnnpackGemmOptions options;
  options.fallback = &CountingReferenceGemm;
  options.cache = &cache;
  options.unpinned = UnpinnedB::kPackPerCall;
  for (float value : {1.0f, 2.0f, -3.0f}) {
    b.assign(b.size(), value);
    std::vector<float> c(m * n);
    EXPECT_EQ(XnnpackGemm(options, Trans::kNo, Trans::kNo, m, n, k, 1.0f, a.data(), k,
                          b.data(), n, 0.0f, c.data(), n),
              GemmRoute::kXnnpackPerCall);
    double row0 = 0;
    for (int64_t p = 0; p < k; ++p) row0 += a[p] * value;
    EXPECT_NEAR(c[0], row0, 1e-4) << "B = " << value;
  }
  EXPECT_EQ(cache.creations(), 0);
}

TEST(XnnpackGemmDeathTest, NeedsAFallback) {
  XnnpackGemmOptions options;
  float a = 1, b = 1, c = 0;
  EXPECT_DEATH(XnnpackGemm(options, Trans::kNo, Trans::kNo, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f,
                           &c, 1),
               "fallback is required");
}

}  // namespace
}  // namespace tt::accel
