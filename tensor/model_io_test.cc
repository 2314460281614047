#include "tensor/model_io.h"

#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/model_file.h"

namespace tt::tensor {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

TEST(ModelIoTest, ClassifierRoundTripGivesIdenticalOutputs) {
  for (const proto::Architecture& arch :
       {ToArchitecture(MlpConfig{}), ToArchitecture(CnnConfig{})}) {
    auto built = BuildClassifier(arch, 3);
    ASSERT_TRUE(built.ok()) << built.status();
    const bool cnn = arch.has_cnn();
    Rng rng(4);
    Tensor x = cnn ? Tensor::Randn({2, 1, 28, 28}, rng) : Tensor::Randn({2, 784}, rng);
    proto::Metadata meta;
    meta.set_accuracy(0.9);
    meta.set_seed(3);
    const std::string path = TempPath(cnn ? "cnn.ttm" : "mlp.ttm");
    ASSERT_TRUE(SaveClassifier(path, arch, **built, meta).ok());
    auto loaded = LoadClassifier(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->model->Forward(x).ToVector(), (*built)->Forward(x).ToVector());
    EXPECT_DOUBLE_EQ(loaded->metadata.accuracy(), 0.9);
    EXPECT_EQ(loaded->architecture.has_cnn(), cnn);
  }
}

TEST(ModelIoTest, GptRoundTrip) {
  GptConfig config{13, 8, 2, 1, 8};
  Gpt gpt(config, 5);
  const std::string path = TempPath("gpt.ttm");
  ASSERT_TRUE(SaveGpt(path, gpt, proto::Metadata()).ok());
  auto loaded = LoadGpt(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->Forward({1, 2, 3}, 1, 3).logits.ToVector(),
            gpt.Forward({1, 2, 3}, 1, 3).logits.ToVector());
  // A GPT file is not a classifier, and the reverse.
  EXPECT_THAT(std::string(LoadClassifier(path).status().message()),
              HasSubstr("not an image classifier"));
}

TEST(ModelIoTest, TensorsThatDisagreeWithTheArchitectureAreAnError) {
  auto mlp = MakeMlp(MlpConfig{{4, 3, 2}}, 1);
  // The file claims a wider hidden layer than its tensors have.
  const std::string path = TempPath("mismatch.ttm");
  ASSERT_TRUE(SaveClassifier(path, ToArchitecture(MlpConfig{{4, 5, 2}}), *mlp, {}).ok());
  auto loaded = LoadClassifier(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("0.weight"));
}

TEST(ModelIoTest, AbsurdArchitectureIsAnErrorNotACrash) {
  proto::Architecture arch;
  arch.mutable_mlp()->add_layer_sizes(784);
  arch.mutable_mlp()->add_layer_sizes(-5);
  EXPECT_THAT(std::string(BuildClassifier(arch, 0).status().message()),
              HasSubstr("an MLP layer size is -5"));
  proto::Architecture cnn = ToArchitecture(CnnConfig{});
  cnn.mutable_cnn()->set_height(2);
  EXPECT_THAT(std::string(BuildClassifier(cnn, 0).status().message()), HasSubstr("too small"));
  EXPECT_FALSE(BuildClassifier(proto::Architecture(), 0).ok());
}

TEST(ModelIoTest, MissingFileNamesThePath) {
  auto loaded = LoadClassifier(TempPath("does-not-exist.ttm"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("does-not-exist.ttm"));
}

}  // namespace
}  // namespace tt::tensor
