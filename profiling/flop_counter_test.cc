// FlopCounter against formulas derived by hand from the OpScope arguments of each op
// (tensor/ops_*.cc). The numbers must match exactly: a FLOP counter that is "about
// right" cannot tell a student whether their layer does the work they think it does.
//
// What the ops report (F = FLOPs, Y = bytes; n = elements):
//   matmul (..., M, K) x (K, N), batch = product of leading axes:
//       F = 2*batch*M*N*K, Y = 4*(numel(a) + numel(b) + batch*M*N)
//   add/sub/mul/div, output n elements: F = n, Y = 4*(numel(a) + numel(b) + n)
//   relu/gelu/... (unary), add_scalar, mul_scalar: F = n, Y = 8n
//   conv2d x (N,C,H,W), w (OC,C,K,K) -> (N,OC,OH,OW):
//       F = 2*N*OC*(C*K*K)*(OH*OW), Y = 4*(numel(x) + numel(w) + N*OC*OH*OW);
//       the bias add runs inside the op but is not in its figures (no F, no Y for it)
//   max_pool2d -> (N,C,OH,OW): F = N*C*OH*OW*k*k, Y = 4*(numel(x) + N*C*OH*OW)
//   softmax: F = 5n, Y = 8n;  layer_norm: F = 8n, Y = 8n;  embedding: F = 0, Y = 8*out
//   permute, causal_mask: F = 0, Y = 8n;  sum: F = n(in), Y = 4n(in);
//   broadcast_to: F = 0, Y = 4*(numel(x) + n)
//   reshape, flatten and axis-0 slices are views: no event.
#include "profiling/flop_counter.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/models.h"
#include "tensor/nn.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::prof {
namespace {

using tensor::Tensor;

int64_t SumFlops(const std::vector<LayerCost>& rows) {
  int64_t s = 0;
  for (const LayerCost& r : rows) s += r.flops;
  return s;
}

int64_t SumBytes(const std::vector<LayerCost>& rows) {
  int64_t s = 0;
  for (const LayerCost& r : rows) s += r.bytes;
  return s;
}

const LayerCost* FindLayer(const std::vector<LayerCost>& rows, const std::string& name) {
  for (const LayerCost& r : rows) {
    if (r.layer == name) return &r;
  }
  return nullptr;
}

const OpCost* FindOp(const std::vector<OpCost>& ops, const std::string& name) {
  for (const OpCost& o : ops) {
    if (o.op == name) return &o;
  }
  return nullptr;
}

std::vector<std::string> Names(const std::vector<LayerCost>& rows) {
  std::vector<std::string> out;
  for (const LayerCost& r : rows) out.push_back(r.layer);
  return out;
}

// Per-layer rows add up to the total, and so do the op rows.
void ExpectConsistent(const ModelCost& cost) {
  EXPECT_EQ(SumFlops(cost.layers), cost.total_flops);
  EXPECT_EQ(SumBytes(cost.layers), cost.total_bytes);
  EXPECT_EQ(SumFlops(cost.top_level), cost.total_flops);
  EXPECT_EQ(SumBytes(cost.top_level), cost.total_bytes);
  int64_t op_flops = 0, op_bytes = 0;
  for (const OpCost& o : cost.ops) {
    op_flops += o.flops;
    op_bytes += o.bytes;
  }
  EXPECT_EQ(op_flops, cost.total_flops);
  EXPECT_EQ(op_bytes, cost.total_bytes);
}

TEST(FlopCounterTest, MatMulByHand) {
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  FlopCounter count;
  MatMul(a, b);
  count.Stop();
  MatMul(a, b);  // not counted
  EXPECT_EQ(count.total_flops(), 2 * 3 * 5 * 4);
  EXPECT_EQ(count.total_bytes(), 4 * (12 + 20 + 15));
  const OpCost op = count.Op("matmul");
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(op.flops, 120);
  EXPECT_EQ(count.Op("conv2d").calls, 0);
  const std::vector<LayerCost> layers = count.Layers();
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].layer, FlopCounter::kNoLayer);
  EXPECT_EQ(layers[0].flops, 120);
}

TEST(FlopCounterTest, LinearOnABatch) {
  constexpr int64_t kBatch = 5, kIn = 20, kOut = 7;
  tensor::Rng rng(1);
  tensor::Sequential model;
  model.Add(std::make_unique<tensor::Linear>(kIn, kOut, rng));
  const ModelCost cost = CountForward(model, Tensor::Zeros({kBatch, kIn}));
  const OpCost* matmul = FindOp(cost.ops, "matmul");
  const OpCost* add = FindOp(cost.ops, "add");
  ASSERT_NE(matmul, nullptr);
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(matmul->calls, 1);
  EXPECT_EQ(matmul->flops, 2 * kBatch * kIn * kOut);
  EXPECT_EQ(matmul->bytes, 4 * (kBatch * kIn + kIn * kOut + kBatch * kOut));
  EXPECT_EQ(add->flops, kBatch * kOut);
  EXPECT_EQ(add->bytes, 4 * (kBatch * kOut + kOut + kBatch * kOut));
  EXPECT_EQ(cost.ops.size(), 2u);
  ASSERT_EQ(cost.layers.size(), 1u);
  EXPECT_EQ(cost.layers[0].layer, "0: Linear(20 -> 7)");
  EXPECT_EQ(cost.total_flops, 2 * kBatch * kIn * kOut + kBatch * kOut);
  EXPECT_EQ(cost.parameters, kIn * kOut + kOut);
  ExpectConsistent(cost);
}

// The reference MLP 784-256-128-10 (Linear, ReLU, Linear, ReLU, Linear) on batch B:
//   Linear(i -> o): 2*B*i*o (matmul) + B*o (bias add); ReLU on (B, o): B*o
//   total = 2B(784*256 + 256*128 + 128*10) + B*(256 + 256 + 128 + 128 + 10)
//         = 469,504 B + 778 B = 470,282 B
int64_t MlpForwardFlops(int64_t b) {
  return 2 * b * (784 * 256 + 256 * 128 + 128 * 10) + b * (256 + 256 + 128 + 128 + 10);
}

TEST(FlopCounterTest, ReferenceMlpForward) {
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{}, /*seed=*/1);
  EXPECT_EQ(MlpForwardFlops(1), 470282);
  for (int64_t b : {1, 64}) {
    const ModelCost cost = CountForward(*mlp, Tensor::Zeros({b, 784}));
    EXPECT_EQ(cost.total_flops, MlpForwardFlops(b)) << "batch " << b;
    EXPECT_EQ(cost.parameters, 235146);
    EXPECT_EQ(Names(cost.layers),
              (std::vector<std::string>{"0: Linear(784 -> 256)", "1: ReLU",
                                        "2: Linear(256 -> 128)", "3: ReLU",
                                        "4: Linear(128 -> 10)"}));
    EXPECT_EQ(cost.layers[0].flops, 2 * b * 784 * 256 + b * 256);
    EXPECT_EQ(cost.layers[1].flops, b * 256);
    EXPECT_EQ(cost.layers[1].bytes, 8 * b * 256);
    EXPECT_EQ(cost.layers[4].flops, 2 * b * 128 * 10 + b * 10);
    EXPECT_EQ(FindOp(cost.ops, "matmul")->calls, 3);
    EXPECT_EQ(FindOp(cost.ops, "relu")->calls, 2);
    EXPECT_EQ(cost.ops[0].op, "matmul") << "ops by flops descending";
    ExpectConsistent(cost);
  }
  EXPECT_EQ(MlpForwardFlops(64), 30098048);
}

TEST(FlopCounterTest, Conv2dWithPaddingAndStride) {
  constexpr int64_t kN = 2, kC = 3, kH = 9, kW = 9, kOc = 5, kK = 3;
  tensor::Rng rng(2);
  Tensor x = Tensor::Randn({kN, kC, kH, kW}, rng);
  Tensor w = Tensor::Randn({kOc, kC, kK, kK}, rng);
  Tensor bias = Tensor::Randn({kOc}, rng);
  for (int64_t stride : {1, 2}) {
    const int64_t oh = (kH + 2 * 1 - kK) / stride + 1, ow = (kW + 2 * 1 - kK) / stride + 1;
    for (bool with_bias : {false, true}) {
      FlopCounter count;
      Tensor y = Conv2d(x, w, with_bias ? bias : Tensor(), {stride, /*padding=*/1});
      count.Stop();
      ASSERT_EQ(y.shape(), (tensor::Shape{kN, kOc, oh, ow}));
      const OpCost op = count.Op("conv2d");
      EXPECT_EQ(op.calls, 1);
      // The bias add (N*OC*OH*OW adds) is done inside the op but not reported by it.
      EXPECT_EQ(op.flops, 2 * kN * kOc * kC * kK * kK * oh * ow)
          << "stride " << stride << " bias " << with_bias;
      EXPECT_EQ(op.bytes, 4 * (kN * kC * kH * kW + kOc * kC * kK * kK + kN * kOc * oh * ow));
      EXPECT_EQ(count.Ops().size(), 1u);
    }
  }
}

TEST(FlopCounterTest, MaxPool2d) {
  Tensor x = Tensor::Zeros({2, 3, 8, 9});
  FlopCounter count;
  MaxPool2d(x, /*kernel=*/2, /*stride=*/2);  // -> (2, 3, 4, 4)
  count.Stop();
  const OpCost op = count.Op("max_pool2d");
  EXPECT_EQ(op.flops, 2 * 3 * 4 * 4 * 2 * 2);
  EXPECT_EQ(op.bytes, 4 * (2 * 3 * 8 * 9 + 2 * 3 * 4 * 4));
}

// The reference CNN on (B, 1, 28, 28), per image:
//   conv1 1->16, 3x3 pad 1 -> (16, 28, 28): 2*16*9*784   = 225,792
//   relu (16*784)                                        =  12,544
//   pool 2 -> (16, 14, 14): 16*196*4                     =  12,544
//   conv2 16->32, 3x3 pad 1 -> (32, 14, 14): 2*32*144*196 = 1,806,336
//   relu (32*196)                                        =   6,272
//   pool 2 -> (32, 7, 7): 32*49*4                        =   6,272
//   flatten (a view)                                     =       0
//   Linear(1568 -> 128): 2*1568*128 + 128                =  401,536
//   relu 128                                             =      128
//   Linear(128 -> 10): 2*128*10 + 10                     =    2,570
//   total                                                = 2,473,994
int64_t CnnForwardFlops(int64_t b) {
  return b * (2 * 16 * 9 * 784 + 16 * 784 + 16 * 196 * 4 + 2 * 32 * 144 * 196 + 32 * 196 +
              32 * 49 * 4 + 2 * 1568 * 128 + 128 + 128 + 2 * 128 * 10 + 10);
}

TEST(FlopCounterTest, ReferenceCnnForward) {
  auto cnn = tensor::MakeCnn(tensor::CnnConfig{}, /*seed=*/1);
  EXPECT_EQ(CnnForwardFlops(1), 2473994);
  for (int64_t b : {1, 64}) {
    const ModelCost cost = CountForward(*cnn, Tensor::Zeros({b, 1, 28, 28}));
    EXPECT_EQ(cost.total_flops, CnnForwardFlops(b)) << "batch " << b;
    EXPECT_EQ(cost.parameters, 206922);
    EXPECT_EQ(Names(cost.layers),
              (std::vector<std::string>{
                  "0: Conv2d(1 -> 16, 3x3, stride 1, pad 1)", "1: ReLU",
                  "2: MaxPool2d(2, stride 2)", "3: Conv2d(16 -> 32, 3x3, stride 1, pad 1)",
                  "4: ReLU", "5: MaxPool2d(2, stride 2)", "6: Flatten",
                  "7: Linear(1568 -> 128)", "8: ReLU", "9: Linear(128 -> 10)"}));
    EXPECT_EQ(cost.layers[0].flops, b * 2 * 16 * 9 * 784);
    EXPECT_EQ(cost.layers[3].flops, b * 2 * 32 * 144 * 196);
    EXPECT_EQ(cost.layers[6].flops, 0) << "Flatten is a view: no op";
    EXPECT_EQ(cost.layers[6].bytes, 0);
    ExpectConsistent(cost);
  }
}

// A tiny GPT: vocab V, d_model C, H heads of hd = C/H, L blocks, batch B, time T.
//   embedding: two lookups (0 FLOPs) + the position add B*T*C
//   per block:
//     attn: ln1 8BTC; qkv 2*B*T*C*3C + 3BTC (bias); scores q k^T 2*B*H*T*T*hd;
//           scale B*H*T*T (mul_scalar); mask 0; softmax 5*B*H*T*T; att@v 2*B*H*T*T*hd;
//           head permutes 0; proj 2*B*T*C*C + BTC
//     block itself: residual add BTC
//     mlp: ln2 8BTC + residual add BTC; 0: Linear(C -> 4C) 2*B*T*C*4C + 4BTC;
//          1: GELU 4BTC; 2: Linear(4C -> C) 2*B*T*4C*C + BTC
//   head: final layer_norm 8BTC; lm head 2*B*T*C*V + BTV
struct GptShape {
  int64_t v, c, h, l, b, t;
  int64_t hd() const { return c / h; }
  int64_t Attn() const {
    return 8 * b * t * c + 2 * b * t * c * 3 * c + 3 * b * t * c + 2 * b * h * t * t * hd() +
           b * h * t * t + 5 * b * h * t * t + 2 * b * h * t * t * hd() + 2 * b * t * c * c +
           b * t * c;
  }
  int64_t MlpOwn() const { return 8 * b * t * c + b * t * c; }
  int64_t Fc1() const { return 2 * b * t * c * 4 * c + 4 * b * t * c; }
  int64_t Gelu() const { return 4 * b * t * c; }
  int64_t Fc2() const { return 2 * b * t * 4 * c * c + b * t * c; }
  int64_t Block() const { return Attn() + b * t * c + MlpOwn() + Fc1() + Gelu() + Fc2(); }
  int64_t Embedding() const { return b * t * c; }
  int64_t Head() const { return 8 * b * t * c + 2 * b * t * c * v + b * t * v; }
  int64_t Total() const { return Embedding() + l * Block() + Head(); }
  // Token and position embeddings, L * (ln1, qkv, proj, ln2, fc1, fc2), final norm, head.
  int64_t Parameters(int64_t context) const {
    return v * c + context * c + l * (12 * c * c + 13 * c) + 2 * c + c * v + v;
  }
};

TEST(FlopCounterTest, TinyGptForward) {
  tensor::GptConfig config;
  config.vocab_size = 11;
  config.d_model = 16;
  config.num_heads = 2;
  config.num_layers = 2;
  config.context_length = 8;
  tensor::Gpt gpt(config, /*seed=*/3);
  const GptShape s{11, 16, 2, 2, /*b=*/2, /*t=*/5};
  std::vector<int32_t> ids(static_cast<size_t>(s.b * s.t));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % 11);
  const ModelCost cost = CountGptForward(gpt, ids, s.b, s.t);

  EXPECT_EQ(cost.total_flops, s.Total());
  EXPECT_EQ(cost.parameters, s.Parameters(config.context_length));
  EXPECT_EQ(cost.parameters, gpt.NumParameters());
  ExpectConsistent(cost);

  const std::vector<std::string> block0 = {
      "block0", "block0/attn", "block0/mlp", "block0/mlp/0: Linear(16 -> 64)",
      "block0/mlp/1: GELU", "block0/mlp/2: Linear(64 -> 16)"};
  std::vector<std::string> expected = {"embedding"};
  for (const std::string block : {"block0", "block1"}) {
    for (const std::string& name : block0) expected.push_back(block + name.substr(6));
  }
  expected.push_back("head");
  EXPECT_EQ(Names(cost.layers), expected);
  EXPECT_EQ(Names(cost.top_level),
            (std::vector<std::string>{"embedding", "block0", "block1", "head"}));

  EXPECT_EQ(FindLayer(cost.layers, "embedding")->flops, s.Embedding());
  EXPECT_EQ(FindLayer(cost.layers, "embedding")->bytes,
            8 * s.b * s.t * s.c + 8 * s.t * s.c +                 // the two lookups
                4 * (s.b * s.t * s.c + s.t * s.c + s.b * s.t * s.c));  // the add
  for (const std::string block : {"block0", "block1"}) {
    EXPECT_EQ(FindLayer(cost.layers, block)->flops, s.b * s.t * s.c) << "the residual add";
    EXPECT_EQ(FindLayer(cost.layers, block + "/attn")->flops, s.Attn());
    EXPECT_EQ(FindLayer(cost.layers, block + "/mlp")->flops, s.MlpOwn());
    EXPECT_EQ(FindLayer(cost.layers, block + "/mlp/0: Linear(16 -> 64)")->flops, s.Fc1());
    EXPECT_EQ(FindLayer(cost.layers, block + "/mlp/1: GELU")->flops, s.Gelu());
    EXPECT_EQ(FindLayer(cost.layers, block + "/mlp/2: Linear(64 -> 16)")->flops, s.Fc2());
    EXPECT_EQ(FindLayer(cost.top_level, block)->flops, s.Block());
  }
  EXPECT_EQ(FindLayer(cost.layers, "head")->flops, s.Head());

  // Per op, over both blocks and the head: 6 matmuls per block (qkv, scores, att@v,
  // proj, fc1, fc2) plus the head's.
  const OpCost* matmul = FindOp(cost.ops, "matmul");
  ASSERT_NE(matmul, nullptr);
  EXPECT_EQ(matmul->calls, 6 * s.l + 1);
  EXPECT_EQ(matmul->flops,
            s.l * (2 * s.b * s.t * s.c * 3 * s.c + 2 * 2 * s.b * s.h * s.t * s.t * s.hd() +
                   2 * s.b * s.t * s.c * s.c + 2 * 2 * s.b * s.t * s.c * 4 * s.c) +
                2 * s.b * s.t * s.c * s.v);
  EXPECT_EQ(FindOp(cost.ops, "softmax")->flops, s.l * 5 * s.b * s.h * s.t * s.t);
  EXPECT_EQ(FindOp(cost.ops, "softmax")->bytes, s.l * 8 * s.b * s.h * s.t * s.t);
  EXPECT_EQ(FindOp(cost.ops, "layer_norm")->calls, 2 * s.l + 1);
  EXPECT_EQ(FindOp(cost.ops, "layer_norm")->flops, (2 * s.l + 1) * 8 * s.b * s.t * s.c);
  EXPECT_EQ(FindOp(cost.ops, "causal_mask")->flops, 0);
  EXPECT_EQ(FindOp(cost.ops, "permute")->calls, 2 * s.l);
}

// The course's char GPT at full context: the figure profiling/README.md quotes.
TEST(FlopCounterTest, CharGptFormulaAtFullContext) {
  const GptShape s{96, 128, 4, 4, /*b=*/1, /*t=*/256};
  EXPECT_EQ(s.Total(), 553836544);
  EXPECT_EQ(s.Parameters(256), 850784);
}

// Forward, then Sum(y).Backward() for one Linear on x (B, in) that needs no gradient:
//   (loss): sum over B*out elements: B*out
//   (backward): sum's backward broadcasts the seed (broadcast_to, 0 FLOPs); add's
//     backward sums dy over the batch for db (sum, B*out); matmul's backward computes
//     only dW = x^T dy (2*in*out*B): x needs no gradient; autograd then copies each
//     leaf's gradient into .grad ("autograd.accumulate": one FLOP and 12 bytes per
//     element, for W (in*out) and b (out)).
TEST(FlopCounterTest, LinearForwardBackward) {
  constexpr int64_t kBatch = 6, kIn = 10, kOut = 3;
  tensor::Rng rng(4);
  tensor::Sequential model;
  model.Add(std::make_unique<tensor::Linear>(kIn, kOut, rng));
  const ModelCost cost =
      CountForward(model, Tensor::Zeros({kBatch, kIn}), Pass::kForwardBackward);
  EXPECT_EQ(Names(cost.layers),
            (std::vector<std::string>{"0: Linear(10 -> 3)", "(loss)", "(backward)"}));
  EXPECT_EQ(cost.layers[0].flops, 2 * kBatch * kIn * kOut + kBatch * kOut);
  EXPECT_EQ(cost.layers[1].flops, kBatch * kOut);
  EXPECT_EQ(cost.layers[2].flops,
            kBatch * kOut + 2 * kIn * kOut * kBatch + (kIn * kOut + kOut));
  EXPECT_EQ(cost.layers[2].bytes,
            4 * (1 + kBatch * kOut) +                               // broadcast_to
                4 * kBatch * kOut +                                 // sum
                4 * (kBatch * kIn + kBatch * kOut + kIn * kOut) +   // matmul
                12 * (kIn * kOut + kOut));                          // autograd.accumulate
  EXPECT_EQ(FindOp(cost.ops, "matmul")->calls, 2);
  EXPECT_EQ(FindOp(cost.ops, "sum")->calls, 2);
  EXPECT_EQ(FindOp(cost.ops, "broadcast_to")->calls, 1);
  ExpectConsistent(cost);
  // The gradients were accumulated as by any Backward().
  EXPECT_TRUE(model.Parameters()[0].grad().defined());
}

TEST(FlopCounterTest, AnOpInsideAnotherOpIsCountedOnce) {
  tensor::Rng rng(5);
  Tensor x = Tensor::Ones({4, 6});
  FlopCounter count;
  Dropout(x, 0.5f, rng);  // "dropout" runs a "mul" inside its own scope
  count.Stop();
  EXPECT_EQ(count.Op("dropout").calls, 1);
  EXPECT_EQ(count.Op("dropout").flops, 24);
  EXPECT_EQ(count.Op("mul").calls, 0);
  EXPECT_EQ(count.total_flops(), 24);
  EXPECT_EQ(count.total_bytes(), 12 * 24);
}

TEST(FlopCounterTest, LayersOpenedBeforeTheCounterAreNotPartOfThePath) {
  Tensor x = Tensor::Ones({2, 2});
  tensor::OpObserver other;  // listens first, so that "outer" is reported at all
  tensor::ScopedOpObserver listen(&other);
  auto outer = std::make_unique<tensor::LayerScope>([] { return std::string("outer"); });
  FlopCounter count;  // starts inside "outer": never sees it open
  Relu(x);
  {
    tensor::LayerScope inner([] { return std::string("inner"); });
    Relu(x);
  }
  outer.reset();  // its end is ignored
  Relu(x);
  count.Stop();
  const std::vector<LayerCost> layers = count.Layers();
  EXPECT_EQ(Names(layers), (std::vector<std::string>{"inner", FlopCounter::kNoLayer}));
  EXPECT_EQ(layers[0].flops, 4);
  EXPECT_EQ(layers[1].flops, 8);
}

TEST(FlopCounterTest, NestedCountersBothCount) {
  Tensor x = Tensor::Ones({3});
  FlopCounter outer;
  Relu(x);
  {
    FlopCounter inner;
    Relu(x);
    EXPECT_EQ(inner.total_flops(), 3);
  }
  EXPECT_EQ(outer.total_flops(), 6);
}

TEST(FlopCounterTest, ReportShowsLayersOpsAndParameters) {
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{}, /*seed=*/1);
  const ModelCost cost = CountForward(*mlp, Tensor::Zeros({1, 784}));
  const std::string report = cost.Report();
  EXPECT_NE(report.find("0: Linear(784 -> 256)"), std::string::npos) << report;
  EXPECT_NE(report.find("matmul"), std::string::npos) << report;
  EXPECT_NE(report.find("470,282"), std::string::npos) << report;
  EXPECT_NE(report.find("235,146 parameters"), std::string::npos) << report;
}

}  // namespace
}  // namespace tt::prof
