// The committed reference models still reach the quality recorded in their metadata on
// the real data (the full Fashion-MNIST test set; 200 validation windows of fortunes),
// are small, and carry what the events need (the relay's accuracy note).
#include <string>

#include "absl/strings/numbers.h"
#include "acceleration/backends.h"
#include "benchmarking/tasks.h"
#include "caching/trained_gpt.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"
#include "tensor/file_io.h"
#include "tensor/model_io.h"
#include "tensor/train.h"

namespace tt::bench {
namespace {

constexpr int64_t kMaxReferenceBytes = 4 << 20;

double Note(const tensor::proto::Metadata& meta, const std::string& key) {
  auto it = meta.notes().find(key);
  EXPECT_NE(it, meta.notes().end()) << key;
  double v = -1;
  if (it != meta.notes().end()) {
    EXPECT_TRUE(absl::SimpleAtod(it->second, &v)) << it->second;
  }
  return v;
}

class ReferenceModelsTest : public ::testing::Test {
 protected:
  void SetUp() override { accel::RegisterAccelerationBackends(); }
};

TEST_F(ReferenceModelsTest, ClassifiersReachTheirRecordedAccuracy) {
  absl::StatusOr<FashionMnistData> data = LoadFashionMnistData(/*train_limit=*/1);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->test.labels.size(), 10000u);
  for (const char* name : {"mlp_sprint", "cnn_marathon"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<const EventSpec*> event = FindEvent(name);
    ASSERT_TRUE(event.ok());
    const std::string path = ReferencePath(**event);
    const int64_t bytes = tensor::FileSize(path);
    ASSERT_GT(bytes, 0) << path;
    EXPECT_LT(bytes, kMaxReferenceBytes);
    absl::StatusOr<tensor::LoadedClassifier> model = tensor::LoadClassifier(path);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ(model->metadata.dataset(), "fashion-mnist");
    EXPECT_GT(model->metadata.accuracy(), 0.85);
    absl::StatusOr<tensor::DataLoader> test = tensor::DataLoader::Create(
        &data->test, ClassifierLoaderOptions(model->architecture, 500));
    ASSERT_TRUE(test.ok()) << test.status();
    tensor::ScopedBackend use(*tensor::FindBackend("auto"));
    const double accuracy = tensor::Evaluate(*model->model, *test).accuracy;
    // Recorded on the same backend; a different summation order may flip a few images.
    EXPECT_NEAR(accuracy, model->metadata.accuracy(), 0.0005);
  }
}

TEST_F(ReferenceModelsTest, RelayAccuracyIsRecorded) {
  absl::StatusOr<tensor::LoadedClassifier> cnn =
      tensor::LoadClassifier(ReferencePath(**FindEvent("cnn_marathon")));
  ASSERT_TRUE(cnn.ok()) << cnn.status();
  const double relay = Note(cnn->metadata, kRelayAccuracyNote);
  EXPECT_GT(relay, 0.8);
  EXPECT_LT(relay, cnn->metadata.accuracy() + 0.01);
}

TEST_F(ReferenceModelsTest, GptReachesItsRecordedValidationLoss) {
  absl::StatusOr<cache::CharCorpus> corpus = cache::LoadCharCorpus();
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  const std::string path = ReferencePath(**FindEvent("transformer_decathlon"));
  const int64_t bytes = tensor::FileSize(path);
  ASSERT_GT(bytes, 0) << path;
  EXPECT_LT(bytes, kMaxReferenceBytes);
  absl::StatusOr<tensor::LoadedGpt> gpt = cache::LoadCharGpt(path, *corpus);
  ASSERT_TRUE(gpt.ok()) << gpt.status();
  const double recorded = Note(gpt->metadata, "val_loss");
  EXPECT_LT(recorded, 2.3);  // far below ln(vocab) ~ 4.5: it learned the text
  tensor::ScopedBackend use(*tensor::FindBackend("auto"));
  absl::StatusOr<double> loss = cache::CharGptValidationLoss(
      *gpt->model, *corpus, kDecathlonValWindows, cache::RecordedSequenceLength(gpt->metadata));
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, recorded, 1e-4 * recorded + 1e-5);
}

}  // namespace
}  // namespace tt::bench
