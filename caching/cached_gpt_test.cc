#include "caching/cached_gpt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "compression/sparse_linear.h"
#include "gtest/gtest.h"
#include "quantization/gpt_quantize.h"
#include "quantization/weight_only.h"
#include "tensor/autograd.h"
#include "tensor/check.h"
#include "tensor/models.h"
#include "tensor/nn.h"
#include "tensor/ops.h"

namespace tt::cache {
namespace {

using tensor::Gpt;
using tensor::GptConfig;
using tensor::Tensor;

// Cached and uncached logits must agree to this (absolute; the logits are O(1)). They
// differ only by float rounding in different summation orders and by acceleration's
// exp/GELU approximations (~1e-6).
constexpr float kTol = 1e-4f;

GptConfig SmallConfig(int64_t context = 48) {
  GptConfig c;
  c.vocab_size = 23;
  c.d_model = 32;
  c.num_heads = 4;
  c.num_layers = 2;
  c.context_length = context;
  return c;
}

std::vector<int32_t> RandomIds(int64_t n, int64_t vocab, uint64_t seed) {
  tensor::Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng.UniformInt(vocab));
  return ids;
}

// Gpt::Forward's logits of the last position of `ids` (the reference).
std::vector<float> ForwardLast(Gpt& gpt, const std::vector<int32_t>& ids) {
  tensor::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size()), v = gpt.config().vocab_size;
  Tensor logits = gpt.Forward(ids, 1, n).logits;
  const float* last = logits.data() + (n - 1) * v;
  return std::vector<float>(last, last + v);
}

float MaxAbsDiff(const float* a, const float* b, int64_t n) {
  float worst = 0.0f;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

std::unique_ptr<CachedGpt> MakeEngine(Gpt& gpt, int64_t batch, int64_t max_seq_len,
                                      CacheFullPolicy policy = CacheFullPolicy::kError) {
  auto engine = CachedGpt::Create(gpt, batch, max_seq_len, policy);
  TT_CHECK(engine.ok(), engine.status().ToString());
  return std::move(engine).value();
}

// --- Every test below with each ISA forced in turn -----------------------------------

class CachedGptIsaTest : public ::testing::TestWithParam<accel::Isa> {
 protected:
  void SetUp() override {
    if (!accel::IsaSupported(GetParam())) {
      GTEST_SKIP() << accel::IsaName(GetParam()) << " is not supported on this CPU";
    }
    force_ = std::make_unique<accel::ScopedIsa>(GetParam());
  }
  void TearDown() override { force_.reset(); }

 private:
  std::unique_ptr<accel::ScopedIsa> force_;
};

TEST_P(CachedGptIsaTest, PrefillMatchesForward) {
  Gpt gpt(SmallConfig(), 1);
  auto engine = MakeEngine(gpt, 1, 48);
  for (int64_t n : {1, 2, 5, 17, 48}) {
    engine->Reset();
    const std::vector<int32_t> prompt = RandomIds(n, 23, n);
    auto logits = engine->Prefill(0, prompt);
    ASSERT_TRUE(logits.ok()) << logits.status();
    const std::vector<float> want = ForwardLast(gpt, prompt);
    EXPECT_LE(MaxAbsDiff(logits->data(), want.data(), 23), kTol) << "prompt of " << n;
    EXPECT_EQ(engine->length(0), n);
    EXPECT_EQ(engine->tokens(0), prompt);
  }
}

TEST_P(CachedGptIsaTest, DecodeMatchesForwardAtEveryStep) {
  Gpt gpt(SmallConfig(), 2);
  auto engine = MakeEngine(gpt, 1, 48);
  std::vector<int32_t> ids = RandomIds(7, 23, 3);
  ASSERT_TRUE(engine->Prefill(0, ids).ok());
  const std::vector<int32_t> next = RandomIds(41, 23, 4);  // up to the full context
  float worst = 0.0f;
  for (int32_t token : next) {
    auto logits = engine->Decode({0}, {token});
    ASSERT_TRUE(logits.ok()) << logits.status();
    ids.push_back(token);
    const std::vector<float> want = ForwardLast(gpt, ids);
    const float diff = MaxAbsDiff(logits->data(), want.data(), 23);
    ASSERT_LE(diff, kTol) << "position " << ids.size() - 1;
    worst = std::max(worst, diff);
  }
  EXPECT_EQ(engine->length(0), 48);
  std::printf("%s: largest |cached - Forward| logit difference %.3g\n",
              accel::IsaName(GetParam()), worst);
}

TEST_P(CachedGptIsaTest, BatchOfDifferentLengthsEqualsEachSequenceAlone) {
  Gpt gpt(SmallConfig(), 3);
  const std::vector<std::vector<int32_t>> prompts = {
      RandomIds(3, 23, 10), RandomIds(11, 23, 11), RandomIds(1, 23, 12)};
  auto batched = MakeEngine(gpt, 3, 40);
  std::vector<std::unique_ptr<CachedGpt>> alone;
  for (int s = 0; s < 3; ++s) {
    alone.push_back(MakeEngine(gpt, 1, 40));
    auto a = batched->Prefill(s, prompts[s]);
    auto b = alone[s]->Prefill(0, prompts[s]);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LE(MaxAbsDiff(a->data(), b->data(), 23), 1e-5f);
  }
  const std::vector<int32_t> tokens = RandomIds(30, 23, 13);
  for (int step = 0; step < 10; ++step) {
    // Every third step only sequences 2 and 0 (in that order) advance.
    const std::vector<int64_t> seqs =
        step % 3 == 2 ? std::vector<int64_t>{2, 0} : std::vector<int64_t>{0, 1, 2};
    std::vector<int32_t> feed;
    for (int64_t s : seqs) feed.push_back(tokens[step * 3 + s]);
    auto got = batched->Decode(seqs, feed);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t r = 0; r < seqs.size(); ++r) {
      auto want = alone[seqs[r]]->Decode({0}, {feed[r]});
      ASSERT_TRUE(want.ok());
      EXPECT_LE(MaxAbsDiff(got->data() + r * 23, want->data(), 23), 1e-5f)
          << "step " << step << " sequence " << seqs[r];
    }
  }
  for (int s = 0; s < 3; ++s) EXPECT_EQ(batched->length(s), alone[s]->length(0));
}

TEST_P(CachedGptIsaTest, SlidingWindowRebasesAndEqualsForwardOnTheKeptTokens) {
  for (int64_t window : {8, 48}) {  // smaller than the context, and the whole context
    Gpt gpt(SmallConfig(), 4);
    auto engine = MakeEngine(gpt, 2, window, CacheFullPolicy::kSlidingWindow);
    ASSERT_TRUE(engine->Prefill(1, RandomIds(6, 23, 20)).ok());
    const std::vector<int32_t> tokens = RandomIds(3 * window, 23, 21);
    int64_t fed = 6;
    for (int32_t token : tokens) {
      const int64_t before = engine->length(1);
      auto logits = engine->Decode({1}, {token});
      ASSERT_TRUE(logits.ok()) << logits.status();
      ++fed;
      // Full: the last window/2 tokens were kept and recomputed from position 0.
      const int64_t expected = before == window ? window / 2 + 1 : before + 1;
      ASSERT_EQ(engine->length(1), expected);
      EXPECT_EQ(engine->dropped(1) + engine->length(1), fed);
      const std::vector<float> want = ForwardLast(gpt, engine->tokens(1));
      ASSERT_LE(MaxAbsDiff(logits->data(), want.data(), 23), kTol) << "token " << fed;
    }
    EXPECT_GT(engine->dropped(1), 0);
    EXPECT_EQ(engine->length(0), 0);  // the other sequence is untouched
    // A prompt that does not fit keeps what leaves room for it.
    const std::vector<int32_t> prompt = RandomIds(window - 2, 23, 22);
    const std::vector<int32_t> held = engine->tokens(1);
    auto logits = engine->Prefill(1, prompt);
    ASSERT_TRUE(logits.ok()) << logits.status();
    EXPECT_EQ(engine->length(1), std::min<int64_t>(window / 2, 2) + window - 2);
    std::vector<int32_t> kept(held.end() - std::min<int64_t>(window / 2, 2), held.end());
    kept.insert(kept.end(), prompt.begin(), prompt.end());
    EXPECT_EQ(engine->tokens(1), kept);
    const std::vector<float> want = ForwardLast(gpt, kept);
    EXPECT_LE(MaxAbsDiff(logits->data(), want.data(), 23), kTol);
  }
}

TEST_P(CachedGptIsaTest, Int8CacheStaysCloseToFloat) {
  Gpt gpt(SmallConfig(), 16);
  CachedGptOptions options;
  options.kv_dtype = KVDtype::kInt8;
  auto made = CachedGpt::Create(gpt, 2, 48, options);
  ASSERT_TRUE(made.ok()) << made.status();
  CachedGpt& engine = **made;
  EXPECT_EQ(engine.cache().BytesPerToken(), 2 * 2 * 4 * (8 + 4));  // head_dim 8
  // The same computation with the scalar kernels: SIMD paths differ by rounding only.
  std::unique_ptr<CachedGpt> scalar;
  {
    accel::ScopedIsa force(accel::Isa::kScalar);
    scalar = std::move(CachedGpt::Create(gpt, 2, 48, options)).value();
  }
  std::vector<int32_t> ids = RandomIds(9, 23, 90);  // a prefill runs row by row on int8
  auto logits = engine.Prefill(1, ids);
  ASSERT_TRUE(logits.ok());
  float worst = MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 23);
  for (int32_t token : RandomIds(30, 23, 91)) {
    auto next = engine.Decode({1}, {token});
    ASSERT_TRUE(next.ok());
    ids.push_back(token);
    worst = std::max(worst, MaxAbsDiff(next->data(), ForwardLast(gpt, ids).data(), 23));
  }
  std::vector<float> scalar_logits;
  {
    accel::ScopedIsa force(accel::Isa::kScalar);
    ASSERT_TRUE(scalar->Prefill(1, ids).ok());
    scalar_logits = std::move(scalar->Decode({1}, {7})).value();
  }
  auto simd_logits = engine.Decode({1}, {7});
  ASSERT_TRUE(simd_logits.ok());
  EXPECT_LE(MaxAbsDiff(simd_logits->data(), scalar_logits.data(), 23), kTol);
  // Rounding K and V to 8 bits moves the logits by much more than float rounding, still
  // little next to their spread.
  std::printf("%s: int8 KV cache, largest logit difference to float %.3g\n",
              accel::IsaName(GetParam()), worst);
  EXPECT_LE(worst, 0.02f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, CachedGptIsaTest,
                         ::testing::Values(accel::Isa::kScalar, accel::Isa::kAvx2Fma,
                                           accel::Isa::kAvx512),
                         [](const ::testing::TestParamInfo<accel::Isa>& info) {
                           switch (info.param) {
                             case accel::Isa::kScalar:
                               return std::string("scalar");
                             case accel::Isa::kAvx2Fma:
                               return std::string("avx2");
                             case accel::Isa::kAvx512:
                               break;
                           }
                           return std::string("avx512");
                         });

// --- Single-ISA tests ---------------------------------------------------------------

TEST(CachedGptTest, DecodeOfAnEmptySequenceStartsAtPositionZero) {
  Gpt gpt(SmallConfig(), 5);
  auto engine = MakeEngine(gpt, 2, 16);
  auto logits = engine->Decode({1}, {4});
  ASSERT_TRUE(logits.ok());
  const std::vector<float> want = ForwardLast(gpt, {4});
  EXPECT_LE(MaxAbsDiff(logits->data(), want.data(), 23), kTol);
}

TEST(CachedGptTest, TwoPrefillsEqualOne) {
  Gpt gpt(SmallConfig(), 6);
  auto engine = MakeEngine(gpt, 1, 48);
  const std::vector<int32_t> ids = RandomIds(20, 23, 30);
  ASSERT_TRUE(engine->Prefill(0, {ids.begin(), ids.begin() + 9}).ok());
  auto logits = engine->Prefill(0, {ids.begin() + 9, ids.end()});
  ASSERT_TRUE(logits.ok());
  EXPECT_LE(MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 23), kTol);
}

TEST(CachedGptTest, LongPromptsRunInChunks) {
  // More than 256 tokens: the prefill runs in chunks that attend to the earlier ones.
  GptConfig config = SmallConfig(300);
  config.d_model = 16;
  config.num_heads = 2;
  config.num_layers = 1;
  Gpt gpt(config, 7);
  auto engine = MakeEngine(gpt, 1, 300);
  const std::vector<int32_t> ids = RandomIds(290, 23, 31);
  auto logits = engine->Prefill(0, ids);
  ASSERT_TRUE(logits.ok());
  EXPECT_LE(MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 23), kTol);
  auto next = engine->Decode({0}, {3});
  ASSERT_TRUE(next.ok());
  std::vector<int32_t> longer = ids;
  longer.push_back(3);
  EXPECT_LE(MaxAbsDiff(next->data(), ForwardLast(gpt, longer).data(), 23), kTol);
}

TEST(CachedGptTest, DefaultConfigMatchesForward) {
  Gpt gpt(GptConfig{}, 8);
  auto engine = MakeEngine(gpt, 1, 256);
  std::vector<int32_t> ids = RandomIds(100, 96, 32);
  auto logits = engine->Prefill(0, ids);
  ASSERT_TRUE(logits.ok());
  EXPECT_LE(MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 96), kTol);
  for (int32_t token : RandomIds(5, 96, 33)) {
    auto next = engine->Decode({0}, {token});
    ASSERT_TRUE(next.ok());
    ids.push_back(token);
    EXPECT_LE(MaxAbsDiff(next->data(), ForwardLast(gpt, ids).data(), 96), kTol);
  }
}

TEST(CachedGptTest, FullCacheUnderErrorPolicyIsAClearErrorAndChangesNothing) {
  Gpt gpt(SmallConfig(), 9);
  auto engine = MakeEngine(gpt, 2, 8);
  ASSERT_TRUE(engine->Prefill(0, RandomIds(6, 23, 40)).ok());
  ASSERT_TRUE(engine->Decode({0}, {1}).ok());
  ASSERT_TRUE(engine->Decode({0}, {2}).ok());
  EXPECT_EQ(engine->length(0), 8);
  auto full = engine->Decode({1, 0}, {1, 3});
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("KV cache full"), std::string::npos);
  EXPECT_EQ(engine->length(0), 8);
  EXPECT_EQ(engine->length(1), 0);  // the batch was refused as a whole
  auto overflow = engine->Prefill(0, {1});
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(engine->Prefill(1, RandomIds(5, 23, 41)).ok());
  EXPECT_EQ(engine->Prefill(1, RandomIds(4, 23, 42)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine->length(1), 5);
  // Reset makes room again.
  engine->Reset(0);
  EXPECT_TRUE(engine->Prefill(0, RandomIds(8, 23, 43)).ok());
}

TEST(CachedGptTest, BadInputIsAClearError) {
  Gpt gpt(SmallConfig(), 10);
  auto engine = MakeEngine(gpt, 2, 16, CacheFullPolicy::kSlidingWindow);
  auto code = [](const auto& result) { return result.status().code(); };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code(engine->Prefill(0, {})), kInvalid);
  EXPECT_EQ(code(engine->Prefill(2, {1})), kInvalid);
  EXPECT_EQ(code(engine->Prefill(-1, {1})), kInvalid);
  auto bad_id = engine->Prefill(0, {1, 23});
  EXPECT_EQ(code(bad_id), kInvalid);
  EXPECT_NE(bad_id.status().message().find("index 1"), std::string::npos);
  EXPECT_EQ(code(engine->Prefill(0, {-1})), kInvalid);
  // Longer than the window: refused under both policies.
  auto too_long = engine->Prefill(0, RandomIds(17, 23, 50));
  EXPECT_EQ(code(too_long), kInvalid);
  EXPECT_NE(too_long.status().message().find("max_seq_len"), std::string::npos);
  EXPECT_EQ(code(engine->Decode({}, {})), kInvalid);
  EXPECT_EQ(code(engine->Decode({0}, {1, 2})), kInvalid);
  EXPECT_EQ(code(engine->Decode({0, 0}, {1, 2})), kInvalid);
  EXPECT_EQ(code(engine->Decode({0, 1, 1}, {1, 2, 3})), kInvalid);
  EXPECT_EQ(code(engine->Decode({5}, {1})), kInvalid);
  EXPECT_EQ(code(engine->Decode({0}, {99})), kInvalid);
  std::vector<float> small(5);
  EXPECT_EQ(engine->PrefillInto(0, std::vector<int32_t>{1}, absl::MakeSpan(small)).code(),
            kInvalid);
  EXPECT_EQ(engine->DecodeInto(std::vector<int64_t>{0}, std::vector<int32_t>{1},
                               absl::MakeSpan(small))
                .code(),
            kInvalid);
  // Nothing was changed by any of them.
  EXPECT_EQ(engine->length(0), 0);
  EXPECT_EQ(engine->length(1), 0);
}

TEST(CachedGptTest, CreateRejectsBadSizes) {
  Gpt gpt(SmallConfig(), 11);
  EXPECT_EQ(CachedGpt::Create(gpt, 0, 8).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CachedGpt::Create(gpt, 1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  auto too_long = CachedGpt::Create(gpt, 1, 49);
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("context length"), std::string::npos);
}

TEST(CachedGptTest, MemoryAccounting) {
  Gpt gpt(GptConfig{}, 12);
  auto engine = MakeEngine(gpt, 2, 256);
  // 2 (K, V) * 4 bytes * 4 layers * 128 = 4 KiB per token, 2 * 256 tokens.
  EXPECT_EQ(engine->cache().BytesPerToken(), 4096);
  EXPECT_EQ(engine->cache().Bytes(), 4096 * 512);
  EXPECT_GT(engine->ScratchBytes(), 0);
}

// --- Linear kernels: the engine multiplies by whatever weights the layer really uses --

TEST(CachedGptTest, QuantizedWeightsAreUsed) {
  for (quant::WeightScheme scheme :
       {quant::WeightScheme::kInt8PerChannel, quant::WeightScheme::kInt4Block}) {
    Gpt gpt(SmallConfig(), 13);
    const std::vector<int32_t> ids = RandomIds(12, 23, 60);
    const std::vector<float> float_logits = ForwardLast(gpt, ids);
    auto engine = MakeEngine(gpt, 1, 48);  // created before quantizing: sees it anyway
    quant::WeightOnlyOptions options;
    options.scheme = scheme;
    ASSERT_TRUE(quant::QuantizeGptWeights(gpt, options).ok());
    auto logits = engine->Prefill(0, ids);
    ASSERT_TRUE(logits.ok());
    const std::vector<float> want = ForwardLast(gpt, ids);
    EXPECT_LE(MaxAbsDiff(logits->data(), want.data(), 23), kTol);
    // ... and they are not the float model's.
    EXPECT_GT(MaxAbsDiff(logits->data(), float_logits.data(), 23), 1e-4f);
    auto next = engine->Decode({0}, {5});
    ASSERT_TRUE(next.ok());
    std::vector<int32_t> longer = ids;
    longer.push_back(5);
    EXPECT_LE(MaxAbsDiff(next->data(), ForwardLast(gpt, longer).data(), 23), kTol);
  }
}

// Any other kernel: x W + b + 0.25, through Linear::ForwardAct.
class ShiftedKernel : public tensor::LinearKernel {
 public:
  ShiftedKernel(Tensor w, Tensor b) : w_(w.Detach()), b_(b.Detach()) {}
  Tensor Forward(const Tensor& x, tensor::Activation act) override {
    return tensor::AddScalar(tensor::LinearAct(x, w_, b_, act), 0.25f);
  }
  std::string Describe() const override { return "shifted"; }

 private:
  Tensor w_, b_;
};

TEST(CachedGptTest, SparseAndOtherKernelsAreUsed) {
  Gpt gpt(SmallConfig(), 14);
  for (auto& [name, p] : gpt.NamedParameters()) p.set_requires_grad(false);
  gpt.VisitModules([](const std::string& path, tensor::Module& m) {
    auto* linear = dynamic_cast<tensor::Linear*>(&m);
    if (linear == nullptr) return;
    if (path == "block0.mlp.0" || path == "block1.attn.qkv") {
      // Prune half the weights, then run them as CSR.
      float* w = linear->weight().data();
      for (int64_t i = 0; i < linear->weight().numel(); i += 2) w[i] = 0.0f;
      auto sparse = compress::MakeSparseLinear(linear->weight(), linear->bias());
      TT_CHECK(sparse.ok(), sparse.status().ToString());
      linear->SetKernel(*sparse);
    } else if (path == "lm_head" || path == "block0.attn.proj") {
      linear->SetKernel(std::make_shared<ShiftedKernel>(linear->weight(), linear->bias()));
    }
  });
  auto engine = MakeEngine(gpt, 1, 48);
  std::vector<int32_t> ids = RandomIds(10, 23, 70);
  auto logits = engine->Prefill(0, ids);
  ASSERT_TRUE(logits.ok());
  EXPECT_LE(MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 23), kTol);
  for (int32_t token : {3, 9}) {
    auto next = engine->Decode({0}, {token});
    ASSERT_TRUE(next.ok());
    ids.push_back(token);
    EXPECT_LE(MaxAbsDiff(next->data(), ForwardLast(gpt, ids).data(), 23), kTol);
  }
}

TEST(CachedGptTest, WeightsAreSharedNotCopied) {
  Gpt gpt(SmallConfig(), 15);
  auto engine = MakeEngine(gpt, 1, 48);
  // Change weights after Create (as a training step would, in place).
  gpt.VisitModules([](const std::string& path, tensor::Module& m) {
    if (auto* linear = dynamic_cast<tensor::Linear*>(&m); linear != nullptr && path == "lm_head") {
      float* w = linear->weight().data();
      for (int64_t i = 0; i < linear->weight().numel(); ++i) w[i] *= -2.0f;
    }
  });
  const std::vector<int32_t> ids = RandomIds(9, 23, 80);
  auto logits = engine->Prefill(0, ids);
  ASSERT_TRUE(logits.ok());
  EXPECT_LE(MaxAbsDiff(logits->data(), ForwardLast(gpt, ids).data(), 23), kTol);
}

}  // namespace
}  // namespace tt::cache
