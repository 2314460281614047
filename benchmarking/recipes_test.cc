// Every built-in recipe builds from the committed reference models and computes what the
// baseline computes (exactly for float, within quantization error for int8), and bad
// recipe names are rejected with the list of valid ones.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "benchmarking/events.h"
#include "benchmarking/recipes.h"
#include "benchmarking/tasks.h"
#include "gtest/gtest.h"
#include "tensor/model_io.h"

namespace tt::bench {
namespace {

class RecipesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<FashionMnistData> d = LoadFashionMnistData(1024, 256);
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = new FashionMnistData(std::move(*d));
  }
  static void TearDownTestSuite() { delete data_; }

  RecipeOptions Options() {
    RecipeOptions o;
    o.quick = true;
    o.finetune_epochs = 1;
    o.work_dir = ::testing::TempDir();
    return o;
  }
  static std::vector<int> Argmax(const tensor::Tensor& logits) {
    std::vector<int> out;
    const int64_t c = logits.shape()[1];
    for (int64_t i = 0; i < logits.shape()[0]; ++i) {
      const float* row = logits.data() + i * c;
      out.push_back(static_cast<int>(std::max_element(row, row + c) - row));
    }
    return out;
  }
  static FashionMnistData* data_;
};
FashionMnistData* RecipesTest::data_ = nullptr;

tensor::Tensor Images(const tensor::Dataset& d, const tensor::proto::Architecture& arch, int n) {
  absl::StatusOr<tensor::DataLoader> loader =
      tensor::DataLoader::Create(&d, ClassifierLoaderOptions(arch, n));
  EXPECT_TRUE(loader.ok());
  tensor::DataLoader::Batch batch;
  EXPECT_TRUE(loader->Next(&batch));
  return batch.images;
}

TEST_F(RecipesTest, ClassifierRecipesAgreeWithTheBaseline) {
  for (const char* event_name : {"mlp_sprint", "cnn_marathon"}) {
    SCOPED_TRACE(event_name);
    const EventSpec& event = **FindEvent(event_name);
    absl::StatusOr<tensor::LoadedClassifier> ref = tensor::LoadClassifier(ReferencePath(event));
    ASSERT_TRUE(ref.ok()) << ref.status();
    const tensor::Tensor x = Images(data_->test, ref->architecture, 256);
    absl::StatusOr<std::unique_ptr<ClassifierEngine>> base =
        BuildClassifierEngine("baseline", *ref, *data_, Options());
    ASSERT_TRUE(base.ok()) << base.status();
    const tensor::Tensor expected = (*base)->Logits(x);
    const std::vector<int> expected_class = Argmax(expected);
    int64_t int8_bytes = 0;
    for (const std::string& recipe : event.recipes) {
      SCOPED_TRACE(recipe);
      absl::StatusOr<std::unique_ptr<ClassifierEngine>> engine =
          BuildClassifierEngine(recipe, *ref, *data_, Options());
      ASSERT_TRUE(engine.ok()) << engine.status();
      EXPECT_EQ((*engine)->recipe().name(), recipe);
      EXPECT_GT((*engine)->model_bytes(), 0);
      const tensor::Tensor got = (*engine)->Logits(x);
      ASSERT_EQ(got.shape(), expected.shape());
      // Batch 1 goes through the same engine as the benchmark's queries.
      const tensor::Tensor one = (*engine)->Logits(Images(data_->test, ref->architecture, 1));
      ASSERT_EQ(one.shape()[0], 1);
      const std::vector<int> cls = Argmax(got);
      int agree = 0;
      for (size_t i = 0; i < cls.size(); ++i) agree += cls[i] == expected_class[i];
      if (recipe == "accelerated" || recipe == "baseline") {
        float max_diff = 0;
        for (int64_t i = 0; i < got.numel(); ++i) {
          max_diff = std::max(max_diff, std::abs(got.data()[i] - expected.data()[i]));
        }
        EXPECT_LT(max_diff, 1e-3f);
        EXPECT_GE(agree, 255);
      } else if (recipe == "int8") {
        EXPECT_GE(agree, 245);  // int8 flips only near-ties
        int8_bytes = (*engine)->model_bytes();
        EXPECT_LT(int8_bytes * 3, (*base)->model_bytes());
      } else {
        // Pruned and briefly fine-tuned on 1,024 images: a different model, still good.
        EXPECT_GE(agree, 200);
        EXPECT_LT((*engine)->model_bytes(), int8_bytes);
      }
    }
    absl::StatusOr<std::unique_ptr<ClassifierEngine>> bad =
        BuildClassifierEngine("int3", *ref, *data_, Options());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("pruned+int8"), std::string::npos) << bad.status();
  }
}

TEST_F(RecipesTest, CachedGenerationMatchesTheUncachedBaseline) {
  absl::StatusOr<cache::CharCorpus> corpus = cache::LoadCharCorpus();
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  const std::string path = ReferencePath(**FindEvent("transformer_decathlon"));
  std::vector<std::string> texts;
  for (const char* recipe : {"baseline", "accelerated", "cached"}) {
    absl::StatusOr<std::unique_ptr<TextEngine>> engine =
        BuildTextEngine(recipe, path, *corpus, Options());
    ASSERT_TRUE(engine.ok()) << engine.status();
    ASSERT_TRUE((*engine)->Generate("The quick brown fox ", 24).ok());
    texts.push_back((*engine)->last_text());
    EXPECT_EQ(texts.back().size(), 24u);
  }
  EXPECT_EQ(texts[0], texts[1]);
  EXPECT_EQ(texts[0], texts[2]);
  absl::StatusOr<std::unique_ptr<TextEngine>> int8 =
      BuildTextEngine("cached+int8", path, *corpus, Options());
  ASSERT_TRUE(int8.ok()) << int8.status();
  absl::StatusOr<std::unique_ptr<TextEngine>> f32 = BuildTextEngine("cached", path, *corpus, Options());
  ASSERT_TRUE(f32.ok());
  EXPECT_LT((*int8)->model_bytes() * 3, (*f32)->model_bytes());
  absl::StatusOr<double> loss8 = (*int8)->ValidationLoss(10);
  absl::StatusOr<double> loss32 = (*f32)->ValidationLoss(10);
  ASSERT_TRUE(loss8.ok() && loss32.ok());
  EXPECT_NEAR(*loss8, *loss32, 0.02 * *loss32);
  EXPECT_FALSE(BuildTextEngine("speculative", path, *corpus, Options()).ok());
}

TEST_F(RecipesTest, TrainingRecipesComputeTheSameSteps) {
  const EventSpec& relay = **FindEvent("training_relay");
  absl::StatusOr<tensor::LoadedClassifier> ref = tensor::LoadClassifier(ReferencePath(relay));
  ASSERT_TRUE(ref.ok()) << ref.status();
  absl::StatusOr<std::unique_ptr<TrainingEngine>> a =
      TrainingEngine::Create("baseline", ref->architecture);
  absl::StatusOr<std::unique_ptr<TrainingEngine>> b =
      TrainingEngine::Create("accelerated", ref->architecture);
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<tensor::DataLoader> loader =
      tensor::DataLoader::Create(&data_->train, ClassifierLoaderOptions(ref->architecture, 64));
  ASSERT_TRUE(loader.ok());
  tensor::DataLoader::Batch batch;
  for (int step = 0; step < 3 && loader->Next(&batch); ++step) {
    (*a)->Step(batch.images, batch.labels);
    (*b)->Step(batch.images, batch.labels);
  }
  const tensor::NamedTensors pa = (*a)->model().NamedParameters();
  const tensor::NamedTensors pb = (*b)->model().NamedParameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    for (int64_t j = 0; j < pa[i].second.numel(); ++j) {
      ASSERT_NEAR(pa[i].second.data()[j], pb[i].second.data()[j], 1e-4) << pa[i].first;
    }
  }
  EXPECT_FALSE(TrainingEngine::Create("int8", ref->architecture).ok());
}

TEST(EventsTest, EverySettingIsValidAndTheRelayIsOneEpoch) {
  for (const EventSpec& e : Events()) {
    for (bool quick : {false, true}) {
      EXPECT_TRUE(EventSettings(e, quick, 1).Validate().ok()) << e.name;
    }
    EXPECT_EQ(e.recipes.front(), "baseline");
  }
  const TestSettings relay = RelaySettings(false, 1);
  EXPECT_EQ(relay.offline_min_sample_count, 60000);
  EXPECT_EQ(relay.offline_batch_size, kRelayBatch);
  EXPECT_EQ(relay.warmup_queries, 0);
  EXPECT_FALSE(FindEvent("decathlon").ok());
}

}  // namespace
}  // namespace tt::bench
