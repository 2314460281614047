#include "quantization/gpt_quantize.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/model_file.h"
#include "tensor/model_io.h"
#include "tensor/ops.h"

namespace tt::quant {
namespace {

using ::testing::HasSubstr;
using tensor::Gpt;
using tensor::GptConfig;
using tensor::Tensor;
namespace proto = tensor::proto;

GptConfig TinyConfig() {
  GptConfig c;
  c.vocab_size = 11;
  c.d_model = 32;
  c.num_heads = 2;
  c.num_layers = 2;
  c.context_length = 16;
  return c;
}

WeightOnlyOptions Int8() { return {}; }
WeightOnlyOptions Int4(int block_size = 32) {
  WeightOnlyOptions o;
  o.scheme = WeightScheme::kInt4Block;
  o.block_size = block_size;
  return o;
}

std::vector<int32_t> Ids(int64_t n, int64_t vocab, uint64_t seed) {
  tensor::Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.UniformInt(vocab));
  return ids;
}

std::vector<float> Logits(Gpt& gpt, const std::vector<int32_t>& ids, int64_t batch) {
  tensor::NoGradGuard no_grad;
  return gpt.Forward(ids, batch, static_cast<int64_t>(ids.size()) / batch).logits.ToVector();
}

// sqrt(mean (a - b)^2) / sqrt(mean b^2).
double RelativeRms(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR") != nullptr ? std::getenv("TEST_TMPDIR") : "/tmp",
                      "/", name);
}

void WriteRaw(const std::string& path, const proto::ModelFile& file) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(file.SerializeToOstream(&out));
}

// --- QuantizeGptWeights --------------------------------------------------------------

TEST(QuantizeGptWeightsTest, QuantizesEveryLinearAndReportsBytes) {
  Gpt gpt(TinyConfig(), 1);
  absl::StatusOr<WeightOnlyReport> report = QuantizeGptWeights(gpt, Int4());
  ASSERT_TRUE(report.ok()) << report.status();
  // Per block: qkv 32x96, proj 32x32, mlp 32x128 and 128x32; plus lm_head 32x11.
  const int64_t block = 32 * 96 + 32 * 32 + 32 * 128 + 128 * 32;
  const int64_t weights = 2 * block + 32 * 11;
  EXPECT_EQ(report->linear_layers, 2 * 4 + 1);
  EXPECT_EQ(report->float_weight_bytes, 4 * weights);
  // int4: half a byte per weight plus one 4-byte scale per 32 weights (lm_head: 352
  // weights, 11 blocks).
  EXPECT_EQ(report->quantized_weight_bytes, weights / 2 + 4 * (weights / 32));
  int with_kernel = 0;
  gpt.VisitModules([&](const std::string&, tensor::Module& m) {
    if (auto* linear = dynamic_cast<tensor::Linear*>(&m)) {
      EXPECT_NE(dynamic_cast<WeightOnlyLinear*>(linear->kernel()), nullptr);
      ++with_kernel;
    }
  });
  EXPECT_EQ(with_kernel, 9);
  for (const Tensor& p : gpt.Parameters()) EXPECT_FALSE(p.requires_grad());
  // Inference-only: Forward runs without a NoGradGuard.
  EXPECT_EQ(gpt.Forward(Ids(5, 11, 1), 1, 5).logits.shape(), (tensor::Shape{1, 5, 11}));
}

TEST(QuantizeGptWeightsTest, BadOptionsOrWeightsLeaveTheModelUnchanged) {
  Gpt gpt(TinyConfig(), 1);
  auto report = QuantizeGptWeights(gpt, Int4(0));
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("block_size must be > 0"));
  tensor::Linear* proj = nullptr;
  gpt.VisitModules([&](const std::string& path, tensor::Module& m) {
    if (path == "block1.attn.proj") proj = dynamic_cast<tensor::Linear*>(&m);
  });
  ASSERT_NE(proj, nullptr);
  proj->weight().at({3, 4}) = INFINITY;
  report = QuantizeGptWeights(gpt, Int8());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("layer 'block1.attn.proj': "));
  EXPECT_THAT(report.status().message(), HasSubstr("weight[3, 4] is inf"));
  gpt.VisitModules([&](const std::string&, tensor::Module& m) {
    if (auto* linear = dynamic_cast<tensor::Linear*>(&m)) {
      EXPECT_EQ(linear->kernel(), nullptr);
    }
  });
}

TEST(QuantizeGptWeightsTest, LogitsStayCloseToTheFloatModel) {
  for (accel::Isa isa : {accel::Isa::kScalar, accel::Isa::kAvx2Fma, accel::Isa::kAvx512}) {
    if (!accel::IsaSupported(isa)) continue;
    accel::ScopedIsa force(isa);
    Gpt reference(TinyConfig(), 3);
    const std::vector<int32_t> ids = Ids(2 * 12, 11, 4);
    const std::vector<float> want = Logits(reference, ids, 2);
    // Random weights are uniform, the worst case for max-based scales: int4 weights are
    // off by about 6% RMS here, and the logits of this untrained model by 6-16%.
    for (const auto& [options, limit] :
         {std::pair{Int8(), 0.01}, std::pair{Int4(32), 0.25}, std::pair{Int4(16), 0.25},
          std::pair{Int4(7), 0.25}}) {
      Gpt gpt(TinyConfig(), 3);
      ASSERT_TRUE(QuantizeGptWeights(gpt, options).ok());
      const double err = RelativeRms(Logits(gpt, ids, 2), want);
      EXPECT_LT(err, limit) << WeightSchemeName(options.scheme) << " bs " << options.block_size
                            << " on " << accel::IsaName(isa);
      EXPECT_GT(err, 0.0);  // the kernels really ran
    }
  }
}

TEST(QuantizeGptWeightsTest, CachedDecodingMatchesTheFullSequence) {
  for (const WeightOnlyOptions& options : {Int8(), Int4()}) {
    Gpt gpt(TinyConfig(), 5);
    ASSERT_TRUE(QuantizeGptWeights(gpt, options).ok());
    const int64_t batch = 2, total = 12, prompt = 5;
    const std::vector<int32_t> ids = Ids(batch * total, 11, 6);
    const Tensor full = gpt.Forward(ids, batch, total).logits;  // (2, 12, 11)
    // Prefill the prompt, then one token at a time with the keys and values so far.
    std::vector<int32_t> first;
    for (int64_t b = 0; b < batch; ++b) {
      first.insert(first.end(), ids.begin() + b * total, ids.begin() + b * total + prompt);
    }
    tensor::GptOutput step = gpt.Forward(first, batch, prompt);
    for (int64_t t = prompt; t < total; ++t) {
      std::vector<int32_t> next = {ids[t], ids[total + t]};
      step = gpt.Forward(next, batch, 1, &step.present);
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t v = 0; v < 11; ++v) {
          ASSERT_NEAR(step.logits.at({b, 0, v}), full.at({b, t, v}), 1e-4)
              << WeightSchemeName(options.scheme) << " position " << t << " batch " << b;
        }
      }
    }
  }
}

// --- Files -------------------------------------------------------------------------------

TEST(QuantizedGptFileTest, SaveLoadRoundTripGivesBitExactLogits) {
  for (const WeightOnlyOptions& options : {Int8(), Int4(), Int4(7)}) {
    Gpt gpt(TinyConfig(), 7);
    ASSERT_TRUE(QuantizeGptWeights(gpt, options).ok());
    proto::Metadata meta;
    meta.set_dataset("fortunes");
    meta.set_seed(7);
    const std::string path = TempPath("gpt_q.ttm");
    ASSERT_TRUE(SaveQuantizedGpt(path, gpt, meta).ok());

    // Same names in the same order as SaveGpt; Linear weights INT8/INT4, the rest F32.
    absl::StatusOr<proto::ModelFile> file = tensor::LoadModel(path);
    ASSERT_TRUE(file.ok()) << file.status();
    const tensor::NamedTensors params = gpt.NamedParameters();
    ASSERT_EQ(file->tensors_size(), static_cast<int>(params.size()));
    for (int i = 0; i < file->tensors_size(); ++i) {
      const proto::TensorProto& t = file->tensors(i);
      EXPECT_EQ(t.name(), params[i].first);
      const auto has = [&](const char* part) { return t.name().find(part) != std::string::npos; };
      const bool linear_weight =
          t.name() == "lm_head.weight" || (has(".weight") && (has("attn.") || has("mlp.")));
      EXPECT_EQ(t.dtype(), linear_weight ? (options.scheme == WeightScheme::kInt8PerChannel
                                                ? proto::INT8
                                                : proto::INT4)
                                         : proto::F32)
          << t.name();
    }

    absl::StatusOr<tensor::LoadedGpt> loaded = LoadQuantizedGpt(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->metadata.dataset(), "fortunes");
    const std::vector<int32_t> ids = Ids(3 * 9, 11, 8);
    EXPECT_EQ(Logits(*loaded->model, ids, 3), Logits(gpt, ids, 3));
    EXPECT_EQ(Logits(*loaded->model, {4}, 1), Logits(gpt, {4}, 1));  // the GEMV path too

    // Without the kernels the loaded float weights are the dequantized ones.
    std::vector<float> quantized = Logits(*loaded->model, ids, 3);
    loaded->model->VisitModules([](const std::string&, tensor::Module& m) {
      if (auto* linear = dynamic_cast<tensor::Linear*>(&m)) linear->SetKernel(nullptr);
    });
    EXPECT_LT(RelativeRms(Logits(*loaded->model, ids, 3), quantized), 1e-5);
  }
}

TEST(QuantizedGptFileTest, SaveNeedsKernels) {
  Gpt gpt(TinyConfig(), 1);
  absl::Status saved = SaveQuantizedGpt(TempPath("never.ttm"), gpt, {});
  EXPECT_EQ(saved.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(saved.message(), HasSubstr("Linear 'block0.attn.qkv' has no weight-only kernel"));
}

class BadQuantizedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Gpt gpt(TinyConfig(), 9);
    ASSERT_TRUE(QuantizeGptWeights(gpt, Int8()).ok());
    ASSERT_TRUE(SaveQuantizedGpt(path_, gpt, {}).ok());
    file_ = *tensor::LoadModel(path_);
  }
  proto::TensorProto* Find(const std::string& name) {
    for (proto::TensorProto& t : *file_.mutable_tensors()) {
      if (t.name() == name) return &t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return nullptr;
  }
  std::string LoadError() {
    WriteRaw(path_, file_);
    absl::StatusOr<tensor::LoadedGpt> loaded = LoadQuantizedGpt(path_);
    EXPECT_FALSE(loaded.ok());
    return loaded.ok() ? "" : std::string(loaded.status().message());
  }
  std::string path_ = TempPath("bad.ttm");
  proto::ModelFile file_;
};

TEST_F(BadQuantizedFileTest, FloatModelFile) {
  Gpt gpt(TinyConfig(), 9);
  ASSERT_TRUE(tensor::SaveGpt(path_, gpt, {}).ok());
  absl::StatusOr<tensor::LoadedGpt> loaded = LoadQuantizedGpt(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(path_));
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("tensor 'block0.attn.qkv.weight': dtype F32, expected INT8 or INT4"));
}

TEST_F(BadQuantizedFileTest, MissingScales) {
  Find("block1.mlp.2.weight")->clear_quant();
  EXPECT_THAT(LoadError(), HasSubstr("block1.mlp.2.weight"));
}

TEST_F(BadQuantizedFileTest, WrongScheme) {
  proto::QuantParams* q = Find("block0.attn.proj.weight")->mutable_quant();
  q->set_scheme(proto::PER_TENSOR);
  q->clear_scale();
  q->add_scale(0.01f);
  const std::string error = LoadError();
  EXPECT_THAT(error, HasSubstr("tensor 'block0.attn.proj.weight'"));
  EXPECT_THAT(error, HasSubstr("PER_CHANNEL on axis 1"));
}

TEST_F(BadQuantizedFileTest, WrongBlockSize) {
  proto::TensorProto* t = Find("lm_head.weight");
  t->set_dtype(proto::INT4);
  t->set_data(std::string((32 * 11 + 1) / 2, '\0'));
  proto::QuantParams* q = t->mutable_quant();
  q->set_scheme(proto::PER_BLOCK);
  q->set_block_size(-4);
  EXPECT_THAT(LoadError(), HasSubstr("lm_head.weight"));
}

TEST_F(BadQuantizedFileTest, QuantizedNonLinearTensor) {
  proto::TensorProto* t = Find("block0.ln1.gamma");
  if (t == nullptr) t = Find("final_norm.gamma");
  ASSERT_NE(t, nullptr);
  t->set_dtype(proto::INT8);
  t->set_data(std::string(32, '\1'));
  t->mutable_quant()->add_scale(1.0f);
  EXPECT_THAT(LoadError(), HasSubstr("dtype INT8, expected F32"));
}

TEST_F(BadQuantizedFileTest, ShapeMismatch) {
  proto::TensorProto* t = Find("block0.attn.qkv.weight");
  t->clear_shape();
  t->add_shape(96);
  t->add_shape(32);
  t->mutable_quant()->clear_scale();
  for (int i = 0; i < 32; ++i) t->mutable_quant()->add_scale(0.01f);
  EXPECT_THAT(LoadError(), HasSubstr("tensor 'block0.attn.qkv.weight': file has shape (96, 32), "
                                     "model expects (32, 96)"));
}

TEST_F(BadQuantizedFileTest, MissingTensor) {
  file_.mutable_tensors()->erase(file_.mutable_tensors()->begin() + 5);
  EXPECT_THAT(LoadError(), HasSubstr("has no tensor"));
}

// --- Validation loss -------------------------------------------------------------------

TEST(GptValidationLossTest, IsTheMeanCrossEntropyOverEveryPrediction) {
  Gpt gpt(TinyConfig(), 11);
  // 40 ids: windows of 16 at 0 and 16, then 7 at 32 (39 predictions).
  const std::vector<int32_t> ids = Ids(40, 11, 12);
  ValidationLossOptions two;
  two.batch_size = 2;
  absl::StatusOr<double> loss = GptValidationLoss(gpt, ids, 100, two);
  ASSERT_TRUE(loss.ok()) << loss.status();
  double sum = 0;
  for (auto [start, length] : {std::pair{0, 16}, {16, 16}, {32, 7}}) {
    std::vector<int32_t> in(ids.begin() + start, ids.begin() + start + length);
    std::vector<int32_t> target(ids.begin() + start + 1, ids.begin() + start + length + 1);
    tensor::NoGradGuard no_grad;
    Tensor logits = tensor::Reshape(gpt.Forward(in, 1, length).logits, {length, 11});
    sum += tensor::CrossEntropy(logits, target).item() * length;
  }
  EXPECT_NEAR(*loss, sum / 39, 1e-5);
  EXPECT_TRUE(gpt.training());  // the mode is restored

  // max_windows < windows: evenly spread full windows, deterministic.
  const std::vector<int32_t> long_ids = Ids(500, 11, 13);
  absl::StatusOr<double> a = GptValidationLoss(gpt, long_ids, 3);
  ValidationLossOptions one;
  one.batch_size = 1;
  absl::StatusOr<double> b = GptValidationLoss(gpt, long_ids, 3, one);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NEAR(*a, *b, 1e-5);
  EXPECT_GT(*a, 1.0);  // an untrained model over 11 symbols: about ln 11 = 2.4
}

TEST(GptValidationLossTest, RejectsBadInput) {
  Gpt gpt(TinyConfig(), 1);
  EXPECT_THAT(GptValidationLoss(gpt, {3}, 4).status().message(), HasSubstr("at least 2"));
  EXPECT_THAT(GptValidationLoss(gpt, {3, 11, 2}, 4).status().message(),
              HasSubstr("id 11 at position 1 is outside the vocabulary [0, 11)"));
  EXPECT_THAT(GptValidationLoss(gpt, {3, 4}, 0).status().message(), HasSubstr("max_windows"));
  ValidationLossOptions long_window;
  long_window.window = 17;
  EXPECT_THAT(GptValidationLoss(gpt, {3, 4}, 1, long_window).status().message(),
              HasSubstr("window 17 is outside 1..16"));
  // A shorter window: 9 ids are 8 predictions in two windows of 4, batched or not.
  ValidationLossOptions short_window;
  short_window.window = 4;
  absl::StatusOr<double> batched = GptValidationLoss(gpt, Ids(9, 11, 2), 8, short_window);
  short_window.batch_size = 1;
  absl::StatusOr<double> single = GptValidationLoss(gpt, Ids(9, 11, 2), 8, short_window);
  ASSERT_TRUE(batched.ok() && single.ok());
  EXPECT_NEAR(*batched, *single, 1e-5);
}

TEST(GptValidationLossTest, QuantizedLossIsCloseToFloat) {
  Gpt gpt(TinyConfig(), 14);
  const std::vector<int32_t> ids = Ids(300, 11, 15);
  const double f32 = *GptValidationLoss(gpt, ids, 16);
  ASSERT_TRUE(QuantizeGptWeights(gpt, Int8()).ok());
  const double int8 = *GptValidationLoss(gpt, ids, 16);
  EXPECT_NEAR(int8, f32, 0.01);
}

// --- Training --------------------------------------------------------------------------

TEST(TrainGptTest, LearnsARepeatingText) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "abcabd ";
  absl::StatusOr<tensor::CharDataset> data = tensor::CharDataset::FromText(text);
  ASSERT_TRUE(data.ok());
  GptConfig config = TinyConfig();
  config.vocab_size = data->vocab_size();
  GptTrainOptions options;
  options.max_steps = 60;
  options.max_seconds = 0;
  options.batch_size = 4;
  options.sequence_length = 16;
  absl::StatusOr<GptTrainResult> trained = TrainGpt(config, *data, options);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->steps, 60);
  ValidationLossOptions trained_length;
  trained_length.window = 16;
  const double loss = *GptValidationLoss(*trained->model, data->ids(), 8, trained_length);
  EXPECT_LT(loss, 0.8);  // uniform guessing over 5 symbols is ln 5 = 1.6

  options.sequence_length = 17;
  EXPECT_THAT(TrainGpt(config, *data, options).status().message(), HasSubstr("sequence_length"));
  config.vocab_size = 3;
  options.sequence_length = 16;
  EXPECT_THAT(TrainGpt(config, *data, options).status().message(),
              HasSubstr("5 distinct characters"));
}

}  // namespace
}  // namespace tt::quant
