// Tests of the layers (nn.h) and reference models (models.h): shapes, parameter names,
// train/eval, gradients, and the GPT's past-keys/values seam.
#include "tensor/models.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/gradcheck.h"
#include "tensor/nn.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Names(const NamedTensors& params) {
  std::vector<std::string> out;
  for (const auto& [name, p] : params) out.push_back(name);
  return out;
}

void ExpectAllClose(const Tensor& a, const Tensor& b, float tol) {
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_NEAR(a.data()[i], b.data()[i], tol) << "at flat index " << i;
  }
}

TEST(NnTest, LinearShapesAndParameters) {
  Rng rng(1);
  Linear linear(4, 3, rng);
  EXPECT_THAT(Names(linear.NamedParameters()), ElementsAre("weight", "bias"));
  EXPECT_EQ(linear.weight().shape(), (Shape{4, 3}));
  EXPECT_TRUE(linear.weight().requires_grad());
  EXPECT_EQ(linear.Forward(Tensor::Ones({2, 4})).shape(), (Shape{2, 3}));
  EXPECT_EQ(linear.Forward(Tensor::Ones({5, 2, 4})).shape(), (Shape{5, 2, 3}));
  EXPECT_EQ(linear.Forward(Tensor::Ones({4})).shape(), (Shape{3}));
  // Initialization bound 1/sqrt(fan_in) = 0.5.
  for (float w : linear.weight().ToVector()) EXPECT_LE(std::fabs(w), 0.5f);
}

TEST(NnTest, LinearComputesXWPlusB) {
  Rng rng(2);
  Linear linear(2, 2, rng);
  linear.weight().CopyFrom(Tensor::FromVector({1, 2, 3, 4}, {2, 2}));
  linear.bias().CopyFrom(Tensor::FromVector({10, 20}, {2}));
  Tensor y = linear.Forward(Tensor::FromVector({1, 1}, {1, 2}));
  EXPECT_THAT(y.ToVector(), ElementsAre(14.0f, 26.0f));
}

TEST(NnTest, LinearRejectsWrongInputWidth) {
  Rng rng(3);
  Linear linear(4, 3, rng);
  EXPECT_DEATH(linear.Forward(Tensor::Ones({2, 5})), "Linear\\(4 -> 3\\): input shape \\(2, 5\\)");
}

TEST(NnTest, SequentialNamesParametersInOrder) {
  auto mlp = MakeMlp(MlpConfig{{6, 5, 4, 3}}, 7);
  EXPECT_THAT(Names(mlp->NamedParameters()),
              ElementsAre("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"));
  EXPECT_EQ(mlp->NumParameters(), 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
  EXPECT_THAT(mlp->Summary(), HasSubstr("Linear(6 -> 5)"));
  EXPECT_THAT(mlp->Summary(), HasSubstr("total"));
}

TEST(NnTest, ReferenceModelSizes) {
  EXPECT_EQ(MakeMlp(MlpConfig{}, 1)->NumParameters(),
            784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  auto cnn = MakeCnn(CnnConfig{}, 1);
  EXPECT_EQ(cnn->NumParameters(), (16 * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 7 * 7 * 128 + 128) +
                                      (128 * 10 + 10));
  EXPECT_EQ(cnn->Forward(Tensor::Zeros({2, 1, 28, 28})).shape(), (Shape{2, 10}));
}

TEST(NnTest, SameSeedSameModel) {
  auto a = MakeCnn(CnnConfig{}, 11), b = MakeCnn(CnnConfig{}, 11), c = MakeCnn(CnnConfig{}, 12);
  auto pa = a->Parameters(), pb = b->Parameters(), pc = c->Parameters();
  EXPECT_EQ(pa[0].ToVector(), pb[0].ToVector());
  EXPECT_NE(pa[0].ToVector(), pc[0].ToVector());
}

TEST(NnTest, TrainEvalReachesChildrenAndDropout) {
  Sequential seq;
  seq.Add(std::make_unique<DropoutLayer>(0.5f, 3));
  Tensor x = Tensor::Ones({1000});
  EXPECT_TRUE(seq[0].training());
  Tensor train_out = seq.Forward(x);
  int zeros = 0;
  for (float v : train_out.ToVector()) zeros += v == 0.0f;
  EXPECT_GT(zeros, 400);
  EXPECT_LT(zeros, 600);
  seq.Eval();
  EXPECT_FALSE(seq[0].training());
  EXPECT_EQ(seq.Forward(x).ToVector(), x.ToVector());
  seq.Train();
  EXPECT_TRUE(seq[0].training());
}

TEST(NnTest, ZeroGradClearsEveryParameter) {
  auto mlp = MakeMlp(MlpConfig{{3, 2}}, 1);
  Sum(mlp->Forward(Tensor::Ones({1, 3}))).Backward();
  for (const Tensor& p : mlp->Parameters()) EXPECT_TRUE(p.grad().defined());
  mlp->ZeroGrad();
  for (const Tensor& p : mlp->Parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(NnTest, CnnGradientMatchesFiniteDifferences) {
  CnnConfig config;
  config.height = config.width = 6;
  config.conv_channels = {2};
  config.hidden = 3;
  config.num_classes = 2;
  auto cnn = MakeCnn(config, 5);
  Rng rng(6);
  Tensor x = Tensor::Randn({2, 1, 6, 6}, rng).set_requires_grad(true);
  auto params = cnn->Parameters();
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : params) inputs.push_back(p);
  EXPECT_TRUE(testing::GradCheck(
      [&](const std::vector<Tensor>& in) {
        (void)in;  // the model reads its own parameters, which are the same tensors
        return cnn->Forward(x);
      },
      inputs));
}

// Records layer and op events as an indented trace: "+name", "-name", "op".
class LayerTrace : public OpObserver {
 public:
  void OnLayerBegin(const std::string& name) override { events.push_back("+" + name); }
  void OnLayerEnd(const std::string& name) override { events.push_back("-" + name); }
  void OnOpBegin(const OpEvent& e) override { events.push_back(e.name); }
  std::vector<std::string> events;
};

TEST(LayerEventsTest, SequentialReportsEachLayerAroundItsOps) {
  auto mlp = MakeMlp(MlpConfig{{3, 2}}, 1);
  LayerTrace trace;
  {
    ScopedOpObserver listen(&trace);
    mlp->Forward(Tensor::Ones({1, 3}));
  }
  EXPECT_THAT(trace.events, ElementsAre("+0: Linear(3 -> 2)", "matmul", "add", "-0: Linear(3 -> 2)"));
}

TEST(LayerEventsTest, NamesAreNotBuiltWhenNobodyListens) {
  int built = 0;
  {
    LayerScope scope([&] {
      ++built;
      return std::string("x");
    });
  }
  EXPECT_EQ(built, 0);
}

// A reference backend that asks for fused epilogues and counts them.
class FusingBackend : public ReferenceBackend {
 public:
  std::string name() const override { return "fusing-test"; }
  bool PrefersFusedEpilogue() const override { return true; }
  void GemmBiasAct(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, const float* a,
                   int64_t lda, const float* b, int64_t ldb, const float* bias, Activation act,
                   float* c, int64_t ldc) override {
    ++fused_calls;
    ReferenceBackend::GemmBiasAct(ta, tb, m, n, k, a, lda, b, ldb, bias, act, c, ldc);
  }
  int fused_calls = 0;
};

TEST(FusionTest, LinearReluFusesOnlyForInferenceAndMatches) {
  auto mlp = MakeMlp(MlpConfig{{6, 5, 4, 3}}, 3);
  Rng rng(4);
  Tensor x = Tensor::Randn({7, 6}, rng);
  Tensor plain;
  {
    NoGradGuard no_grad;
    plain = mlp->Forward(x);
  }
  FusingBackend fusing;
  ScopedBackend use(&fusing);
  {
    NoGradGuard no_grad;
    LayerTrace trace;
    ScopedOpObserver listen(&trace);
    Tensor fused = mlp->Forward(x);
    ExpectAllClose(fused, plain, 1e-6f);
    EXPECT_EQ(fusing.fused_calls, 2);  // 6->5 + ReLU and 5->4 + ReLU; the last has no act
    EXPECT_THAT(trace.events,
                ::testing::Contains("+1: ReLU"));  // the fused activation keeps its layer
  }
  // Training: parameters need gradients, so nothing fuses.
  Tensor y = mlp->Forward(x);
  EXPECT_EQ(fusing.fused_calls, 2);
  ExpectAllClose(y, plain, 1e-6f);
}

TEST(FusionTest, GeluFusesToo) {
  Rng rng(5);
  Sequential seq;
  seq.Add(std::make_unique<Linear>(4, 3, rng));
  seq.Add(std::make_unique<GELU>());
  Tensor x = Tensor::Randn({2, 4}, rng);
  NoGradGuard no_grad;
  Tensor plain = seq.Forward(x);
  FusingBackend fusing;
  ScopedBackend use(&fusing);
  ExpectAllClose(seq.Forward(x), plain, 1e-6f);
  EXPECT_EQ(fusing.fused_calls, 1);
}

// A LinearKernel that computes the float result itself (a stand-in for a quantized or
// sparse kernel) and counts its calls.
class CountingKernel : public LinearKernel {
 public:
  CountingKernel(Tensor w, Tensor b) : w_(w), b_(b) {}
  Tensor Forward(const Tensor& x, Activation act) override {
    ++calls;
    last_act = act;
    Tensor y = Add(MatMul(x, w_), b_);
    return act == Activation::kRelu ? Relu(y) : act == Activation::kGelu ? Gelu(y) : y;
  }
  std::string Describe() const override { return "counting"; }
  int calls = 0;
  Activation last_act = Activation::kNone;

 private:
  Tensor w_, b_;
};

TEST(LinearKernelTest, KernelReplacesTheArithmeticAndFusesTheActivation) {
  auto mlp = MakeMlp(MlpConfig{{6, 5, 3}}, 3);
  Rng rng(4);
  Tensor x = Tensor::Randn({7, 6}, rng);
  NoGradGuard no_grad;
  Tensor plain = mlp->Forward(x);
  auto& first = dynamic_cast<Linear&>((*mlp)[0]);
  auto kernel = std::make_shared<CountingKernel>(first.weight().Clone(), first.bias().Clone());
  first.SetKernel(kernel);
  EXPECT_THAT(first.Describe(), HasSubstr("counting"));
  // Even on the reference backend (no fused epilogues) the kernel gets the ReLU.
  ExpectAllClose(mlp->Forward(x), plain, 1e-6f);
  EXPECT_EQ(kernel->calls, 1);
  EXPECT_EQ(kernel->last_act, Activation::kRelu);
  // The float weights are no longer read.
  first.weight().Fill(0.0f);
  ExpectAllClose(mlp->Forward(x), plain, 1e-6f);
  first.SetKernel(nullptr);
  Tensor zeroed = mlp->Forward(x);
  float diff = 0.0f;
  for (int64_t i = 0; i < zeroed.numel(); ++i) {
    diff = std::max(diff, std::abs(zeroed.data()[i] - plain.data()[i]));
  }
  EXPECT_GT(diff, 1e-3f);
}

TEST(NnTest, VisitModulesListsEveryLayerWithItsPath) {
  GptConfig c;
  c.vocab_size = 11;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = 2;
  c.context_length = 16;
  Gpt gpt(c, 1);
  std::vector<std::string> linears;
  gpt.VisitModules([&](const std::string& path, Module& m) {
    if (dynamic_cast<Linear*>(&m) != nullptr) {
      linears.push_back(path);
      // Every Linear's parameters are named under its path.
      bool found = false;
      for (const auto& [name, p] : gpt.NamedParameters()) found |= name == path + ".weight";
      EXPECT_TRUE(found) << path;
    }
  });
  // qkv, proj and the two MLP layers per block, plus the LM head.
  EXPECT_EQ(linears.size(), 2u * 4u + 1u);
}

TEST(LinearKernelDeathTest, KernelIsInferenceOnly) {
  Rng rng(1);
  Linear linear(4, 2, rng);
  linear.SetKernel(std::make_shared<CountingKernel>(linear.weight().Clone(), linear.bias().Clone()));
  Tensor x = Tensor::Randn({1, 4}, rng).set_requires_grad(true);
  EXPECT_DEATH(linear.Forward(x), "inference-only");
}

// --- Attention and GPT --------------------------------------------------------------

GptConfig TinyGpt() {
  GptConfig c;
  c.vocab_size = 11;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = 2;
  c.context_length = 16;
  return c;
}

TEST(GptTest, ReferenceConfigIsTheCharModel) {
  GptConfig c;
  EXPECT_EQ(c.d_model, 128);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_layers, 4);
  EXPECT_EQ(c.context_length, 256);
}

TEST(GptTest, ForwardShapesAndPresent) {
  Gpt gpt(TinyGpt(), 1);
  GptOutput out = gpt.Forward({1, 2, 3, 4, 5, 6}, 2, 3);
  EXPECT_EQ(out.logits.shape(), (Shape{2, 3, 11}));
  ASSERT_EQ(out.present.size(), 2u);
  EXPECT_EQ(out.present[0].k.shape(), (Shape{2, 2, 3, 4}));
  EXPECT_EQ(out.present[1].v.shape(), (Shape{2, 2, 3, 4}));
}

TEST(GptTest, IsCausal) {
  Gpt gpt(TinyGpt(), 2);
  Tensor a = gpt.Forward({1, 2, 3, 4}, 1, 4).logits;
  Tensor b = gpt.Forward({1, 2, 3, 9}, 1, 4).logits;  // only the last token differs
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t v = 0; v < 11; ++v) EXPECT_FLOAT_EQ(a.at({0, t, v}), b.at({0, t, v}));
  }
  float diff = 0.0f;
  for (int64_t v = 0; v < 11; ++v) diff += std::fabs(a.at({0, 3, v}) - b.at({0, 3, v}));
  EXPECT_GT(diff, 1e-4f);
}

TEST(GptTest, DecodingWithPastMatchesTheFullSequence) {
  Gpt gpt(TinyGpt(), 3);
  const std::vector<int32_t> ids = {5, 1, 7, 2, 2, 9};
  Tensor full = gpt.Forward(ids, 1, 6).logits;
  // Prefill 3 tokens, then decode one at a time with the returned keys and values.
  GptOutput step = gpt.Forward({5, 1, 7}, 1, 3);
  ExpectAllClose(step.logits, Slice(full, 1, 0, 3), 1e-5f);
  for (int64_t t = 3; t < 6; ++t) {
    std::vector<KeyValue> past = step.present;
    step = gpt.Forward({ids[t]}, 1, 1, &past);
    ExpectAllClose(step.logits, Slice(full, 1, t, t + 1), 1e-4f);
    EXPECT_EQ(step.present[0].k.size(2), t + 1);
  }
}

TEST(GptTest, BackwardReachesEveryParameter) {
  Gpt gpt(TinyGpt(), 4);
  GptOutput out = gpt.Forward({1, 2, 3, 4, 5, 6, 7, 8}, 2, 4);
  Tensor loss = CrossEntropy(Reshape(out.logits, {8, 11}), {2, 3, 4, 5, 6, 7, 8, 9});
  loss.Backward();
  for (const auto& [name, p] : gpt.NamedParameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    double norm = 0.0;
    for (float g : p.grad().ToVector()) norm += g * g;
    // Position embeddings beyond T=4 get no gradient; everything else does.
    if (name != "position_embedding.weight") {
      EXPECT_GT(norm, 0.0) << name;
    }
  }
}

TEST(GptTest, AttentionGradientMatchesFiniteDifferences) {
  Rng rng(8);
  CausalSelfAttention attn(4, 2, rng);
  Tensor x = Tensor::Randn({1, 3, 4}, rng).set_requires_grad(true);
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : attn.Parameters()) inputs.push_back(p);
  EXPECT_TRUE(testing::GradCheck(
      [&](const std::vector<Tensor>&) { return attn.Forward(x).y; }, inputs));
}

TEST(GptTest, ReportsEmbeddingBlocksAndHeadAsLayers) {
  Gpt gpt(TinyGpt(), 9);
  LayerTrace trace;
  {
    ScopedOpObserver listen(&trace);
    gpt.Forward({1, 2}, 1, 2);
  }
  std::vector<std::string> layers;
  for (const std::string& e : trace.events) {
    if (e[0] == '+') layers.push_back(e.substr(1));
  }
  EXPECT_THAT(layers, ElementsAre("embedding", "block0", "attn", "mlp", "0: Linear(8 -> 32)",
                                  "1: GELU", "2: Linear(32 -> 8)", "block1", "attn", "mlp",
                                  "0: Linear(8 -> 32)", "1: GELU", "2: Linear(32 -> 8)", "head"));
}

TEST(GptTest, ContextOverflowIsACheckFailure) {
  Gpt gpt(TinyGpt(), 5);
  std::vector<int32_t> ids(17, 1);
  EXPECT_DEATH(gpt.Forward(ids, 1, 17), "exceed the context length 16");
}

TEST(GptTest, MismatchedPastIsACheckFailure) {
  Gpt gpt(TinyGpt(), 6);
  std::vector<KeyValue> past(2);
  past[0].k = past[0].v = Tensor::Zeros({1, 3, 2, 4});  // 3 heads, the model has 2
  past[1] = past[0];
  EXPECT_DEATH(gpt.Forward({1}, 1, 1, &past), "past keys \\(1, 3, 2, 4\\)");
}

}  // namespace
}  // namespace tt::tensor
