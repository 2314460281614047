#include "quantization/weight_only.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quantization/kernels/wo_kernels.h"
#include "tensor/model_file.h"
#include "tensor/nn.h"
#include "tensor/ops.h"

namespace tt::quant {
namespace {

using ::testing::HasSubstr;
using tensor::Activation;
using tensor::Rng;
using tensor::Tensor;
namespace proto = tensor::proto;

constexpr double kEps = 1.0 / (1 << 23);  // 2^-23, float's relative step

WeightOnlyOptions Int8() { return {}; }
WeightOnlyOptions Int4(int block_size) {
  WeightOnlyOptions o;
  o.scheme = WeightScheme::kInt4Block;
  o.block_size = block_size;
  return o;
}

std::shared_ptr<WeightOnlyLinear> MustMake(const Tensor& w, const Tensor& b,
                                           const WeightOnlyOptions& o) {
  auto made = MakeWeightOnlyLinear(w, b, o);
  EXPECT_TRUE(made.ok()) << made.status();
  return made.ok() ? *made : nullptr;
}

double GeluD(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

double ActD(double v, Activation act) {
  switch (act) {
    case Activation::kNone: return v;
    case Activation::kRelu: return v > 0 ? v : 0;
    case Activation::kGelu: return GeluD(v);
  }
  return v;
}

// The scale that quantized element (k, n) of an (in, out) weight.
double ScaleAt(const WeightOnlyLinear& w, int64_t k, int64_t n) {
  if (w.scheme() == WeightScheme::kInt8PerChannel) return w.scales()[n];
  return w.scales()[(k * w.out_features() + n) / w.block_size()];
}

struct Oracle {
  std::vector<double> y;      // act(x W + b) in double
  std::vector<double> bound;  // a float rounding bound for each output
};

// act(x w + b) in double with w (in, out) given as floats, and the bound the float
// kernels must meet: (K + 3) 2^-23 sum |x w| + 2^-23 |b| (any summation order, the
// x * scale products, one rounding of each dequantized weight), times GELU's slope
// (<= 1.13), plus the GELU approximation's 5.2e-7.
Oracle Reference(const std::vector<float>& x, int64_t m, const float* w, int64_t in,
                 int64_t out, const std::vector<float>& bias, Activation act) {
  Oracle o;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t n = 0; n < out; ++n) {
      double s = bias.empty() ? 0.0 : bias[n], a = bias.empty() ? 0.0 : std::fabs(bias[n]);
      double abs_sum = 0.0;
      for (int64_t k = 0; k < in; ++k) {
        s += static_cast<double>(x[r * in + k]) * w[k * out + n];
        abs_sum += std::fabs(static_cast<double>(x[r * in + k]) * w[k * out + n]);
      }
      o.y.push_back(ActD(s, act));
      o.bound.push_back(1.2 * ((in + 3) * kEps * abs_sum + kEps * a) + 1e-6);
    }
  }
  return o;
}

std::vector<float> RandomVector(int64_t n, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.Uniform(lo, hi);
  return v;
}

std::vector<float> RunKernel(const WeightOnlyLinear& w, const std::vector<float>& x, int64_t m,
                             Activation act, WeightOnlyPath path) {
  std::vector<float> y(static_cast<size_t>(m * w.out_features()), std::nanf(""));
  w.Run(x.data(), m, y.data(), act, path);
  return y;
}

// --- Options and bad input ------------------------------------------------------

TEST(WeightOnlyOptionsTest, RejectsNonPositiveBlockSize) {
  Rng rng(1);
  Tensor w = Tensor::Uniform({4, 8}, rng, -1, 1);
  for (int bs : {0, -1, -32}) {
    absl::StatusOr<std::shared_ptr<WeightOnlyLinear>> made =
        MakeWeightOnlyLinear(w, Tensor(), Int4(bs));
    ASSERT_FALSE(made.ok());
    EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(made.status().message(), HasSubstr("block_size must be > 0"));
  }
  EXPECT_TRUE(Int4(1).Validate().ok());
  WeightOnlyOptions bad;
  bad.scheme = static_cast<WeightScheme>(7);
  EXPECT_THAT(bad.Validate().message(), HasSubstr("unknown scheme"));
}

TEST(WeightOnlyLinearTest, RejectsBadWeightsAndBias) {
  Rng rng(2);
  Tensor w = Tensor::Uniform({4, 8}, rng, -1, 1);
  w.at({2, 5}) = std::nanf("");
  auto made = MakeWeightOnlyLinear(w, Tensor(), Int8());
  ASSERT_FALSE(made.ok());
  EXPECT_THAT(made.status().message(), HasSubstr("weight[2, 5] is nan"));
  w.at({2, 5}) = INFINITY;
  EXPECT_THAT(MakeWeightOnlyLinear(w, Tensor(), Int4(32)).status().message(),
              HasSubstr("weight[2, 5] is inf"));
  EXPECT_THAT(MakeWeightOnlyLinear(Tensor::Zeros({8}), Tensor(), Int8()).status().message(),
              HasSubstr("non-empty (in, out) matrix, got (8)"));
  EXPECT_THAT(MakeWeightOnlyLinear(Tensor::Zeros({0, 3}), Tensor(), Int8()).status().message(),
              HasSubstr("non-empty"));
  EXPECT_THAT(MakeWeightOnlyLinear(Tensor(), Tensor(), Int8()).status().message(),
              HasSubstr("undefined"));
  EXPECT_THAT(
      MakeWeightOnlyLinear(Tensor::Zeros({4, 8}), Tensor::Zeros({7}), Int8()).status().message(),
      HasSubstr("bias must have shape (8), got (7)"));
}

TEST(WeightOnlyLinearDeathTest, WrongInputShapeStops) {
  auto w = MustMake(Tensor::Ones({4, 8}), Tensor(), Int8());
  EXPECT_DEATH(w->Forward(Tensor::Zeros({2, 5}), Activation::kNone), "does not end in 4");
}

// --- The quantization math -----------------------------------------------------------

TEST(WeightOnlyLinearTest, Int8ScalesAreColumnMaxOver127AndErrorIsHalfAStep) {
  Rng rng(3);
  const int64_t in = 19, out = 37;
  Tensor w = Tensor::Uniform({in, out}, rng, -2, 2);
  for (int64_t k = 0; k < in; ++k) w.at({k, 4}) = 0.0f;  // an all-zero column
  auto q = MustMake(w, Tensor(), Int8());
  ASSERT_EQ(q->scales().size(), static_cast<size_t>(out));
  EXPECT_EQ(q->scales()[4], 1.0f);
  Tensor dq = q->DequantizedWeight();
  const std::vector<int8_t> values = q->QuantizedValues();
  for (int64_t n = 0; n < out; ++n) {
    float abs_max = 0;
    for (int64_t k = 0; k < in; ++k) abs_max = std::max(abs_max, std::fabs(w.at({k, n})));
    if (n != 4) {
      EXPECT_FLOAT_EQ(q->scales()[n], abs_max / 127) << n;
    }
    for (int64_t k = 0; k < in; ++k) {
      const int v = values[k * out + n];
      EXPECT_LE(std::abs(v), 127);
      EXPECT_EQ(dq.at({k, n}), q->scales()[n] * static_cast<float>(v));
      EXPECT_LE(std::fabs(w.at({k, n}) - dq.at({k, n})), q->scales()[n] * 0.5f * (1 + 1e-6f));
    }
  }
  EXPECT_EQ(q->quantized_weight_bytes(), in * out + 4 * out);
}

TEST(WeightOnlyLinearTest, Int4BlocksFollowTheFlatLayoutEvenAcrossRows) {
  Rng rng(4);
  const int64_t in = 5, out = 7;  // 35 elements; blocks of 3 straddle rows
  Tensor w = Tensor::Uniform({in, out}, rng, -1, 1);
  auto q = MustMake(w, Tensor(), Int4(3));
  ASSERT_EQ(q->scales().size(), 12u);  // ceil(35 / 3)
  EXPECT_FALSE(q->gemv_supported());
  const std::vector<int8_t> values = q->QuantizedValues();
  const float* wd = w.data();
  for (int64_t b = 0; b < 12; ++b) {
    float abs_max = 0;
    for (int64_t i = 3 * b; i < std::min<int64_t>(35, 3 * b + 3); ++i) {
      abs_max = std::max(abs_max, std::fabs(wd[i]));
    }
    EXPECT_FLOAT_EQ(q->scales()[b], abs_max / 7);
    for (int64_t i = 3 * b; i < std::min<int64_t>(35, 3 * b + 3); ++i) {
      EXPECT_GE(values[i], -8);
      EXPECT_LE(values[i], 7);
      EXPECT_EQ(values[i], static_cast<int>(std::nearbyint(wd[i] / q->scales()[b])));
      EXPECT_LE(std::fabs(wd[i] - q->scales()[b] * values[i]), q->scales()[b] * 0.5f * (1 + 1e-6f));
    }
  }
  EXPECT_EQ(q->quantized_weight_bytes(), 18 + 4 * 12);
}

TEST(WeightOnlyLinearTest, Int4NibbleOrderIsLowFirst) {
  // Quantizer -> file: weights 0.1, -0.7, 0.7, 0.3 in one block: scale 0.1,
  // q = 1, -7, 7, 3, i.e. nibbles 0x1, 0x9, 0x7, 0x3 -> bytes 0x91, 0x37.
  Tensor w = Tensor::FromVector({0.1f, -0.7f, 0.7f, 0.3f}, {1, 4});
  auto q = MustMake(w, Tensor(), Int4(4));
  proto::TensorProto t = q->WeightToProto("w");
  EXPECT_EQ(t.dtype(), proto::INT4);
  EXPECT_EQ(t.data(), std::string("\x91\x37", 2));
  EXPECT_EQ(t.quant().scheme(), proto::PER_BLOCK);
  EXPECT_EQ(t.quant().block_size(), 4);
  ASSERT_EQ(t.quant().scale_size(), 1);
  EXPECT_FLOAT_EQ(t.quant().scale(0), 0.1f);

  // File -> kernel: bytes 0x21 0x8F hold 1, 2, -1, -8 (the extra negative code is read
  // too), and an odd count (5) leaves the last high nibble zero: 0x07 holds 7.
  proto::TensorProto f;
  f.set_name("hand.weight");
  f.set_dtype(proto::INT4);
  f.add_shape(1);
  f.add_shape(5);
  f.set_data(std::string("\x21\x8F\x07", 3));
  f.mutable_quant()->set_scheme(proto::PER_BLOCK);
  f.mutable_quant()->set_block_size(5);
  f.mutable_quant()->add_scale(0.5f);
  auto from = WeightOnlyLinearFromProto(f, Tensor());
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ((*from)->QuantizedValues(), (std::vector<int8_t>{1, 2, -1, -8, 7}));
  Tensor y = (*from)->Forward(Tensor::Ones({1, 1}), Activation::kNone);
  EXPECT_EQ(y.ToVector(), (std::vector<float>{0.5f, 1.0f, -0.5f, -4.0f, 3.5f}));
  EXPECT_EQ((*from)->WeightToProto("hand.weight").SerializeAsString(), f.SerializeAsString());
}

// --- Kernels against the oracle and each other, every ISA ------------------------

struct Case {
  int64_t in, out;
  WeightOnlyOptions options;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {1, 1}, {1, 37}, {37, 1}, {33, 65}, {128, 96}, {128, 384}, {5, 200}, {64, 48}, {512, 128}};
  for (auto [in, out] : shapes) {
    cases.push_back({in, out, Int8()});
    for (int bs : {32, 16, 64, 7, 1}) cases.push_back({in, out, Int4(bs)});
  }
  return cases;
}

std::string CaseName(const Case& c) {
  return absl::StrCat(c.in, "x", c.out, " ", WeightSchemeName(c.options.scheme),
                      c.options.scheme == WeightScheme::kInt4Block
                          ? absl::StrCat(" bs ", c.options.block_size)
                          : "");
}

class WeightOnlyIsaTest : public ::testing::TestWithParam<accel::Isa> {
 protected:
  void SetUp() override {
    if (!accel::IsaSupported(GetParam())) {
      GTEST_SKIP() << accel::IsaName(GetParam()) << " is not supported on this CPU";
    }
  }
};

TEST_P(WeightOnlyIsaTest, MatchesTheDequantizedOracleAndTheFloatLayer) {
  accel::ScopedIsa force(GetParam());
  Rng rng(5);
  for (const Case& c : Cases()) {
    Tensor w = Tensor::Uniform({c.in, c.out}, rng, -0.5f, 0.5f);
    const std::vector<float> bias = RandomVector(c.out, rng);
    auto q = MustMake(w, Tensor::FromVector(bias, {c.out}), c.options);
    ASSERT_NE(q, nullptr);
    Tensor dq = q->DequantizedWeight();
    for (int64_t m : {1, 2, 3, 4, 5, 9}) {
      const std::vector<float> x = RandomVector(m * c.in, rng, -2, 2);
      for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGelu}) {
        const Oracle quantized = Reference(x, m, dq.data(), c.in, c.out, bias, act);
        const Oracle floating = Reference(x, m, w.data(), c.in, c.out, bias, act);
        for (WeightOnlyPath path : {WeightOnlyPath::kGemv, WeightOnlyPath::kDequantGemm}) {
          const std::vector<float> y = RunKernel(*q, x, m, act, path);
          for (int64_t r = 0; r < m; ++r) {
            for (int64_t n = 0; n < c.out; ++n) {
              const int64_t i = r * c.out + n;
              ASSERT_NEAR(y[i], quantized.y[i], quantized.bound[i])
                  << CaseName(c) << " m " << m << " path " << static_cast<int>(path) << " at ("
                  << r << ", " << n << ")";
              // vs the float layer: each weight is within scale/2, so the output is within
              // sum_k |x_k| scale(k, n) / 2 (times GELU's slope <= 1.13).
              double quant_bound = 0;
              for (int64_t k = 0; k < c.in; ++k) {
                quant_bound += std::fabs(x[r * c.in + k]) * ScaleAt(*q, k, n) / 2;
              }
              ASSERT_NEAR(y[i], floating.y[i],
                          1.13 * quant_bound * (1 + 1e-5) + quantized.bound[i] + floating.bound[i])
                  << CaseName(c) << " m " << m << " vs float at (" << r << ", " << n << ")";
            }
          }
        }
      }
    }
  }
}

TEST_P(WeightOnlyIsaTest, AgreesWithThePortableKernel) {
  Rng rng(6);
  for (const Case& c : Cases()) {
    auto q = MustMake(Tensor::Uniform({c.in, c.out}, rng, -1, 1), Tensor(), c.options);
    ASSERT_NE(q, nullptr);
    const Oracle bounds =
        Reference(std::vector<float>(static_cast<size_t>(c.in), 1.0f), 1,
                  q->DequantizedWeight().data(), c.in, c.out, {}, Activation::kNone);
    for (int64_t m : {1, 4, 7}) {
      const std::vector<float> x = RandomVector(m * c.in, rng);
      std::vector<float> reference, fast;
      {
        accel::ScopedIsa scalar(accel::Isa::kScalar);
        reference = RunKernel(*q, x, m, Activation::kNone, WeightOnlyPath::kGemv);
      }
      {
        accel::ScopedIsa force(GetParam());
        fast = RunKernel(*q, x, m, Activation::kNone, WeightOnlyPath::kGemv);
      }
      for (size_t i = 0; i < fast.size(); ++i) {
        // |x| <= 1: the all-ones row's bound covers every row, twice (both sides round).
        ASSERT_NEAR(fast[i], reference[i], 2 * bounds.bound[i % c.out])
            << CaseName(c) << " m " << m << " at " << i;
      }
    }
  }
}

TEST_P(WeightOnlyIsaTest, DequantizedWeightIsScaleTimesQ) {
  accel::ScopedIsa force(GetParam());
  Rng rng(11);
  for (const Case& c : Cases()) {
    auto q = MustMake(Tensor::Uniform({c.in, c.out}, rng, -1, 1), Tensor(), c.options);
    ASSERT_NE(q, nullptr);
    const std::vector<int8_t> values = q->QuantizedValues();
    const Tensor dq = q->DequantizedWeight();
    for (int64_t k = 0; k < c.in; ++k) {
      for (int64_t n = 0; n < c.out; ++n) {
        ASSERT_EQ(dq.at({k, n}), static_cast<float>(ScaleAt(*q, k, n)) *
                                     static_cast<float>(values[k * c.out + n]))
            << CaseName(c) << " at (" << k << ", " << n << ")";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, WeightOnlyIsaTest,
                         ::testing::Values(accel::Isa::kScalar, accel::Isa::kAvx2Fma,
                                           accel::Isa::kAvx512),
                         [](const ::testing::TestParamInfo<accel::Isa>& info) {
                           switch (info.param) {
                             case accel::Isa::kScalar: return std::string("scalar");
                             case accel::Isa::kAvx2Fma: return std::string("avx2");
                             case accel::Isa::kAvx512: return std::string("avx512");
                           }
                           return std::string("unknown");
                         });

TEST(WeightOnlyLinearTest, GemvSupportNeedsRowAlignedBlocksOf16) {
  Rng rng(7);
  Tensor w = Tensor::Uniform({8, 96}, rng, -1, 1);
  EXPECT_TRUE(MustMake(w, Tensor(), Int8())->gemv_supported());
  EXPECT_TRUE(MustMake(w, Tensor(), Int4(32))->gemv_supported());
  EXPECT_TRUE(MustMake(w, Tensor(), Int4(48))->gemv_supported());
  EXPECT_FALSE(MustMake(w, Tensor(), Int4(64))->gemv_supported());  // 96 % 64 != 0
  EXPECT_FALSE(MustMake(w, Tensor(), Int4(8))->gemv_supported());   // 8 % 16 != 0
}

// --- The Linear seam -------------------------------------------------------------------

TEST(WeightOnlyLinearTest, RunsInsideALinearWithAnyLeadingShape) {
  Rng rng(8);
  tensor::Linear linear(48, 80, rng);
  auto q = MustMake(linear.weight(), linear.bias(), Int4(16));
  Tensor x = Tensor::Uniform({2, 3, 48}, rng, -1, 1);
  Tensor expected = q->Forward(Tensor::Zeros({1, 48}), Activation::kNone);
  linear.SetKernel(q);
  EXPECT_THAT(linear.Describe(), HasSubstr("int4 weights, blocks of 16"));
  Tensor y = linear.Forward(x);
  EXPECT_EQ(y.shape(), (tensor::Shape{2, 3, 80}));
  Tensor flat = q->Forward(tensor::Reshape(x, {6, 48}), Activation::kNone);
  EXPECT_EQ(y.ToVector(), flat.ToVector());
  Tensor relu = linear.ForwardAct(x, Activation::kRelu);
  std::vector<float> want = flat.ToVector();
  for (float& v : want) v = v > 0 ? v : 0;
  EXPECT_EQ(relu.ToVector(), want);
  // x = 0 gives exactly the bias.
  EXPECT_EQ(expected.ToVector(), linear.bias().ToVector());
}

// --- Model-file tensors ------------------------------------------------------------------

TEST(WeightOnlyLinearTest, ProtoRoundTripIsBitExact) {
  Rng rng(9);
  for (const Case& c : Cases()) {
    Tensor b = Tensor::Uniform({c.out}, rng, -1, 1);
    auto q = MustMake(Tensor::Uniform({c.in, c.out}, rng, -1, 1), b, c.options);
    proto::TensorProto t = q->WeightToProto("layer.weight");
    ASSERT_TRUE(tensor::ValidateTensorProto(t).ok()) << tensor::ValidateTensorProto(t);
    auto back = WeightOnlyLinearFromProto(t, b);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->QuantizedValues(), q->QuantizedValues()) << CaseName(c);
    EXPECT_EQ((*back)->scales(), q->scales());
    EXPECT_EQ((*back)->WeightToProto("layer.weight").SerializeAsString(), t.SerializeAsString());
    const std::vector<float> x = RandomVector(3 * c.in, rng);
    EXPECT_EQ(RunKernel(**back, x, 3, Activation::kGelu, WeightOnlyPath::kAuto),
              RunKernel(*q, x, 3, Activation::kGelu, WeightOnlyPath::kAuto));
  }
}

proto::TensorProto Int8Proto() {
  Rng rng(10);
  auto q = MustMake(Tensor::Uniform({4, 6}, rng, -1, 1), Tensor(), Int8());
  return q->WeightToProto("fc.weight");
}

TEST(WeightOnlyLinearTest, FromProtoRejectsBadTensorsByName) {
  auto error = [](const proto::TensorProto& t, const Tensor& bias = Tensor()) {
    auto made = WeightOnlyLinearFromProto(t, bias);
    EXPECT_FALSE(made.ok());
    return made.ok() ? std::string() : std::string(made.status().message());
  };
  proto::TensorProto f32 = tensor::TensorToProto("fc.weight", Tensor::Ones({4, 6}));
  EXPECT_THAT(error(f32), HasSubstr("tensor 'fc.weight': dtype F32, expected INT8 or INT4"));

  proto::TensorProto no_scales = Int8Proto();
  no_scales.clear_quant();
  EXPECT_THAT(error(no_scales), HasSubstr("tensor 'fc.weight'"));

  proto::TensorProto few_scales = Int8Proto();
  few_scales.mutable_quant()->mutable_scale()->RemoveLast();
  EXPECT_THAT(error(few_scales), HasSubstr("tensor 'fc.weight'"));

  proto::TensorProto per_tensor = Int8Proto();
  per_tensor.mutable_quant()->set_scheme(proto::PER_TENSOR);
  per_tensor.mutable_quant()->clear_scale();
  per_tensor.mutable_quant()->add_scale(0.1f);
  EXPECT_THAT(error(per_tensor), HasSubstr("must be PER_CHANNEL on axis 1"));

  proto::TensorProto axis0 = Int8Proto();
  axis0.mutable_quant()->set_axis(0);
  axis0.mutable_quant()->clear_scale();
  for (int i = 0; i < 4; ++i) axis0.mutable_quant()->add_scale(0.1f);
  EXPECT_THAT(error(axis0), HasSubstr("axis 0"));

  proto::TensorProto zero_point = Int8Proto();
  for (int i = 0; i < 6; ++i) zero_point.mutable_quant()->add_zero_point(i == 3 ? 5 : 0);
  EXPECT_THAT(error(zero_point), HasSubstr("zero point 5"));

  proto::TensorProto int4_channel = Int8Proto();
  int4_channel.set_dtype(proto::INT4);
  int4_channel.set_data(std::string(12, '\0'));
  EXPECT_THAT(error(int4_channel), HasSubstr("INT4 weights must be PER_BLOCK"));

  proto::TensorProto one_d = Int8Proto();
  one_d.clear_shape();
  one_d.add_shape(24);
  one_d.mutable_quant()->set_axis(0);
  one_d.mutable_quant()->clear_scale();
  for (int i = 0; i < 24; ++i) one_d.mutable_quant()->add_scale(0.1f);
  EXPECT_THAT(error(one_d), HasSubstr("(in, out) matrix"));

  EXPECT_THAT(error(Int8Proto(), Tensor::Zeros({5})), HasSubstr("bias has 5 elements, expected 6"));
}

}  // namespace
}  // namespace tt::quant
