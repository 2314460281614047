#include "quantization/quantized_model.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "acceleration/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/autograd.h"
#include "tensor/data_loader.h"
#include "tensor/idx_reader.h"
#include "tensor/model_file.h"
#include "tensor/model_io.h"
#include "tensor/models.h"
#include "tensor/optim.h"
#include "tensor/train.h"

namespace tt::quant {
namespace {

using ::testing::HasSubstr;
using tensor::Tensor;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

// A random dataset shaped like the model's input: inputs in [-1, 2], 3 classes.
tensor::Dataset RandomData(int64_t n, int64_t features, uint64_t seed) {
  tensor::Rng rng(seed);
  tensor::Dataset d;
  d.images = Tensor::Uniform({n, features}, rng, -1.0f, 2.0f);
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  return d;
}

tensor::DataLoader Loader(const tensor::Dataset* d, std::vector<int64_t> example_shape,
                          int64_t batch = 16) {
  tensor::DataLoader::Options o;
  o.batch_size = batch;
  o.example_shape = std::move(example_shape);
  return *tensor::DataLoader::Create(d, o);
}

float MaxAbs(const Tensor& t) {
  float m = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.data()[i]));
  return m;
}

float MaxAbsDiff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

Tensor FloatForward(tensor::Sequential& model, const Tensor& x) {
  tensor::NoGradGuard no_grad;
  model.Eval();
  return model.Forward(x);
}

tensor::proto::Architecture SmallCnn() {
  tensor::CnnConfig c;
  c.in_channels = 2;  // two channels: exercises the NCHW -> NHWC input transpose
  c.height = 8;
  c.width = 8;
  c.conv_channels = {4, 6};
  c.hidden = 12;
  c.num_classes = 3;
  return tensor::ToArchitecture(c);
}

tensor::proto::Architecture SmallMlp() {
  return tensor::ToArchitecture(tensor::MlpConfig{{20, 16, 12, 3}});
}

TEST(QuantizeClassifierTest, MlpLogitsFollowTheFloatModel) {
  const auto arch = SmallMlp();
  auto model = *tensor::BuildClassifier(arch, 1);
  const tensor::Dataset data = RandomData(256, 20, 2);
  tensor::DataLoader loader = Loader(&data, {});
  auto q = QuantizeClassifier(*model, arch, loader, {});
  ASSERT_TRUE(q.ok()) << q.status();
  const Tensor x = data.images;
  const Tensor want = FloatForward(*model, x);
  const Tensor got = (*q)->Forward(x);
  // Three 8-bit layers: errors of a few percent of the logit range.
  EXPECT_LT(MaxAbsDiff(got, want), 0.05f * MaxAbs(want)) << (*q)->Summary();
}

TEST(QuantizeClassifierTest, CnnLogitsFollowTheFloatModel) {
  const auto arch = SmallCnn();
  auto model = *tensor::BuildClassifier(arch, 3);
  const tensor::Dataset data = RandomData(64, 2 * 8 * 8, 4);
  tensor::DataLoader loader = Loader(&data, {2, 8, 8});
  auto q = QuantizeClassifier(*model, arch, loader, {});
  ASSERT_TRUE(q.ok()) << q.status();
  const Tensor x = tensor::Reshape(data.images, {64, 2, 8, 8});
  const Tensor want = FloatForward(*model, x);
  const Tensor got = (*q)->Forward(x);
  // A wrong NHWC permutation of the first Linear's rows would give unrelated logits.
  EXPECT_LT(MaxAbsDiff(got, want), 0.06f * MaxAbs(want)) << (*q)->Summary();
  // Batch 1 equals the rows of the batched call (no cross-talk through scratch buffers).
  const Tensor one = (*q)->Forward(tensor::Reshape(
      Tensor::FromVector(std::vector<float>(x.data() + 5 * 128, x.data() + 6 * 128), {128}),
      {1, 2, 8, 8}));
  for (int j = 0; j < 3; ++j) EXPECT_EQ(one.data()[j], got.data()[5 * 3 + j]);
}

TEST(QuantizeClassifierTest, EveryKernelGivesTheSameBits) {
  const auto arch = SmallCnn();
  auto model = *tensor::BuildClassifier(arch, 5);
  const tensor::Dataset data = RandomData(32, 128, 6);
  tensor::DataLoader loader = Loader(&data, {2, 8, 8});
  auto q = *QuantizeClassifier(*model, arch, loader, {});
  const Tensor x = tensor::Reshape(data.images, {32, 2, 8, 8});
  const Tensor best = q->Forward(x);
  for (accel::Isa isa : {accel::Isa::kScalar, accel::Isa::kAvx2Fma}) {
    if (!accel::IsaSupported(isa)) continue;
    accel::ScopedIsa force(isa);
    // Weights are packed for the kernel chosen at build time: rebuild under the ISA.
    auto forced = *QuantizedClassifier::Build(q->architecture(), q->layers());
    EXPECT_EQ(MaxAbsDiff(forced->Forward(x), best), 0.0f) << accel::IsaName(isa);
  }
}

TEST(QuantizeClassifierTest, CalibrationIsDeterministicAndObserversDiffer) {
  const auto arch = SmallMlp();
  auto model = *tensor::BuildClassifier(arch, 7);
  const tensor::Dataset data = RandomData(128, 20, 8);
  tensor::DataLoader loader = Loader(&data, {});
  auto a = *QuantizeClassifier(*model, arch, loader, {});
  auto b = *QuantizeClassifier(*model, arch, loader, {});
  EXPECT_EQ(MaxAbsDiff(a->Forward(data.images), b->Forward(data.images)), 0.0f);
  for (const char* observer : {"ema", "percentile", "mse"}) {
    QuantizeOptions o;
    o.observer = observer;
    auto c = QuantizeClassifier(*model, arch, loader, o);
    ASSERT_TRUE(c.ok()) << observer << ": " << c.status();
  }
  QuantizeOptions bad;
  bad.observer = "nope";
  EXPECT_FALSE(QuantizeClassifier(*model, arch, loader, bad).ok());
}

TEST(QuantizeClassifierTest, PerTensorWeightsWorkToo) {
  const auto arch = SmallMlp();
  auto model = *tensor::BuildClassifier(arch, 9);
  const tensor::Dataset data = RandomData(128, 20, 10);
  tensor::DataLoader loader = Loader(&data, {});
  QuantizeOptions o;
  o.per_channel = false;
  auto q = *QuantizeClassifier(*model, arch, loader, o);
  const Tensor want = FloatForward(*model, data.images);
  EXPECT_LT(MaxAbsDiff(q->Forward(data.images), want), 0.08f * MaxAbs(want));
  EXPECT_EQ(q->layers()[0].weight_scale.size(), 1u);
}

TEST(QuantizeClassifierTest, RejectsWhatItCannotQuantize) {
  tensor::Rng rng(1);
  tensor::Sequential model;
  model.Add(std::make_unique<tensor::Linear>(20, 4, rng));
  model.Add(std::make_unique<tensor::GELU>());
  model.Add(std::make_unique<tensor::Linear>(4, 3, rng));
  const tensor::Dataset data = RandomData(16, 20, 1);
  tensor::DataLoader loader = Loader(&data, {});
  auto q = QuantizeClassifier(model, SmallMlp(), loader, {});
  EXPECT_THAT(q.status().message(), HasSubstr("GELU"));

  auto mlp = *tensor::BuildClassifier(SmallMlp(), 1);
  tensor::Dataset nan = RandomData(16, 20, 1);
  nan.images.data()[7] = std::nanf("");
  tensor::DataLoader nan_loader = Loader(&nan, {});
  EXPECT_THAT(QuantizeClassifier(*mlp, SmallMlp(), nan_loader, {}).status().message(),
              HasSubstr("calibration"));
  tensor::Dataset empty = RandomData(16, 20, 1);
  tensor::DataLoader empty_loader = Loader(&empty, {});
  QuantizeOptions none;
  none.calibration_batches = 0;
  EXPECT_THAT(QuantizeClassifier(*mlp, SmallMlp(), empty_loader, none).status().message(),
              HasSubstr("no batches"));
}

TEST(QuantizedModelFileTest, RoundTripGivesTheSameBits) {
  for (const auto& arch : {SmallMlp(), SmallCnn()}) {
    auto model = *tensor::BuildClassifier(arch, 11);
    const int64_t features = arch.has_cnn() ? 128 : 20;
    const tensor::Dataset data = RandomData(32, features, 12);
    tensor::DataLoader loader =
        Loader(&data, arch.has_cnn() ? std::vector<int64_t>{2, 8, 8} : std::vector<int64_t>{});
    auto q = *QuantizeClassifier(*model, arch, loader, {});
    const std::string path = TempPath(arch.has_cnn() ? "cnn_int8.ttm" : "mlp_int8.ttm");
    tensor::proto::Metadata meta;
    meta.set_accuracy(0.5);
    ASSERT_TRUE(SaveQuantizedClassifier(path, *q, meta).ok());
    auto loaded = LoadQuantizedClassifier(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    const Tensor x = arch.has_cnn() ? tensor::Reshape(data.images, {32, 2, 8, 8}) : data.images;
    EXPECT_EQ(MaxAbsDiff(loaded->model->Forward(x), q->Forward(x)), 0.0f);
    EXPECT_DOUBLE_EQ(loaded->metadata.accuracy(), 0.5);
    // The file says what it holds: INT8 weights with per-channel scales.
    auto file = *tensor::LoadModel(path);
    EXPECT_EQ(file.tensors(0).dtype(), tensor::proto::INT8);
    EXPECT_EQ(file.tensors(0).quant().scheme(), tensor::proto::PER_CHANNEL);
    EXPECT_TRUE(file.activation_quant().contains("input"));
    // A float loader refuses it with a clear message instead of misreading it.
    EXPECT_FALSE(tensor::LoadClassifier(path).ok());
  }
}

TEST(QuantizedModelFileTest, BadFilesAreNamedErrors) {
  const auto arch = SmallMlp();
  auto model = *tensor::BuildClassifier(arch, 13);
  const tensor::Dataset data = RandomData(32, 20, 14);
  tensor::DataLoader loader = Loader(&data, {});
  auto q = *QuantizeClassifier(*model, arch, loader, {});
  const std::string path = TempPath("bad_int8.ttm");
  ASSERT_TRUE(SaveQuantizedClassifier(path, *q, {}).ok());
  const tensor::proto::ModelFile good = *tensor::LoadModel(path);

  auto expect_error = [&](tensor::proto::ModelFile file, const std::string& what) {
    const std::string p = TempPath("bad_variant.ttm");
    ASSERT_TRUE(tensor::SaveModel(p, file).ok());
    auto r = LoadQuantizedClassifier(p);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(what));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(p));
  };
  {  // a float file is not a quantized one
    expect_error(tensor::MakeModelFile(arch, model->NamedParameters(), {}), "not INT8");
  }
  {
    auto f = good;
    f.mutable_activation_quant()->erase("0.output");
    expect_error(f, "no activation_quant entry '0.output'");
  }
  {
    auto f = good;
    f.mutable_tensors()->RemoveLast();
    expect_error(f, "no tensor '4.bias'");
  }
  {
    auto f = good;
    f.mutable_architecture()->mutable_mlp()->set_layer_sizes(1, 17);
    expect_error(f, "shape");
  }
  {
    auto f = good;
    f.mutable_tensors(0)->mutable_quant()->set_axis(0);
    f.mutable_tensors(0)->mutable_quant()->clear_scale();
    for (int i = 0; i < 20; ++i) f.mutable_tensors(0)->mutable_quant()->add_scale(0.1f);
    expect_error(f, "PER_CHANNEL over axis 1");
  }
}

// On real data: a briefly trained MLP keeps its accuracy when quantized.
TEST(QuantizeClassifierTest, FashionMnistMlpKeepsItsAccuracy) {
  tensor::LoadOptions train_opts, test_opts;
  train_opts.limit = 6000;
  test_opts.limit = 2000;
  auto train = tensor::LoadFashionMnist(tensor::FashionMnistDir(), tensor::Split::kTrain, train_opts);
  ASSERT_TRUE(train.ok()) << train.status();
  auto test = *tensor::LoadFashionMnist(tensor::FashionMnistDir(), tensor::Split::kTest, test_opts);
  tensor::DataLoader::Options o;
  o.batch_size = 64;
  o.mean = tensor::kFashionMnistMean;
  o.stddev = tensor::kFashionMnistStddev;
  o.order = tensor::DataLoader::Order::kShuffled;
  o.seed = 1;
  auto train_loader = *tensor::DataLoader::Create(&*train, o);
  o.order = tensor::DataLoader::Order::kSequential;
  o.batch_size = 500;
  auto test_loader = *tensor::DataLoader::Create(&test, o);
  const auto arch = tensor::ToArchitecture(tensor::MlpConfig{});
  auto model = *tensor::BuildClassifier(arch, 1);
  tensor::Adam adam(model->Parameters(), {.lr = 1e-3f});
  tensor::FitOptions fit;
  fit.epochs = 1;
  fit.progress = tensor::FitOptions::Progress::kNone;
  tensor::Fit(*model, adam, train_loader, fit, nullptr);
  model->Eval();
  const double float_acc = tensor::Evaluate(*model, test_loader).accuracy;
  auto q = *QuantizeClassifier(*model, arch, train_loader, {});
  const double int8_acc = QuantizedAccuracy(*q, test_loader);
  EXPECT_GT(float_acc, 0.7);
  EXPECT_NEAR(int8_acc, float_acc, 0.01) << "float " << float_acc << " int8 " << int8_acc;
}

}  // namespace
}  // namespace tt::quant
