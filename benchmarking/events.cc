#include "benchmarking/events.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "benchmarking/recipes.h"
#include "benchmarking/result_io.h"
#include "benchmarking/system_info.h"
#include "profiling/memory_profiler.h"
#include "tensor/check.h"
#include "tensor/file_io.h"
#include "tensor/model_io.h"

namespace tt::bench {
namespace {

using tensor::Tensor;

void Say(const RunOptions& o, const std::string& line) {
  if (o.progress) std::fprintf(stderr, "%s\n", line.c_str());
}

// Copies the normalized pixels of `indices` into one (B, example shape...) tensor.
Tensor GatherImages(const tensor::Dataset& data, const std::vector<int64_t>& example_shape,
                    const std::vector<int64_t>& indices) {
  const int64_t d = data.images.shape()[1];
  tensor::Shape shape = {static_cast<int64_t>(indices.size())};
  shape.insert(shape.end(), example_shape.begin(), example_shape.end());
  Tensor batch = Tensor::Empty(shape);
  const float* src = data.images.data();
  float* dst = batch.data();
  const float mean = tensor::kFashionMnistMean, inv_std = 1.0f / tensor::kFashionMnistStddev;
  for (size_t b = 0; b < indices.size(); ++b) {
    const float* row = src + indices[b] * d;
    for (int64_t j = 0; j < d; ++j) dst[b * d + j] = (row[j] - mean) * inv_std;
  }
  return batch;
}

// Fashion-MNIST images by index; LoadSamplesToRam turns each into its own (1, ...) tensor
// so that a batch-1 query runs on data that is ready, as MLPerf's QSL requires.
class ImageQsl : public QuerySampleLibrary {
 public:
  ImageQsl(const tensor::Dataset& data, std::vector<int64_t> example_shape, std::string name)
      : data_(data), shape_(std::move(example_shape)), name_(std::move(name)),
        samples_(data.labels.size()) {}
  std::string Name() const override { return name_; }
  int64_t TotalSampleCount() const override { return static_cast<int64_t>(data_.labels.size()); }
  void LoadSamplesToRam(const std::vector<int64_t>& indices) override {
    for (int64_t i : indices) {
      if (!samples_[i].defined()) samples_[i] = GatherImages(data_, shape_, {i});
    }
  }
  void UnloadSamplesFromRam(const std::vector<int64_t>& indices) override {
    for (int64_t i : indices) samples_[i] = Tensor();
  }
  // The prepared sample, or a fresh copy when it was not loaded.
  Tensor Sample(int64_t i) const {
    return samples_[i].defined() ? samples_[i] : GatherImages(data_, shape_, {i});
  }
  Tensor Batch(const std::vector<int64_t>& indices) const {
    return GatherImages(data_, shape_, indices);
  }
  int32_t Label(int64_t i) const { return data_.labels[i]; }

 private:
  const tensor::Dataset& data_;
  std::vector<int64_t> shape_;
  std::string name_;
  std::vector<Tensor> samples_;
};

class ClassifierSut : public SystemUnderTest {
 public:
  ClassifierSut(ClassifierEngine& engine, const ImageQsl& qsl)
      : engine_(engine), qsl_(qsl), predictions_(qsl.TotalSampleCount(), -1) {}
  std::string Name() const override { return engine_.recipe().name(); }
  void Issue(const std::vector<int64_t>& indices) override {
    const Tensor x = indices.size() == 1 ? qsl_.Sample(indices[0]) : qsl_.Batch(indices);
    const Tensor logits = engine_.Logits(x);
    const int64_t classes = logits.shape()[1];
    const float* l = logits.data();
    for (size_t b = 0; b < indices.size(); ++b) {
      const float* row = l + b * classes;
      predictions_[indices[b]] = static_cast<int32_t>(std::max_element(row, row + classes) - row);
    }
  }
  double Accuracy() const {
    int64_t correct = 0;
    for (int64_t i = 0; i < qsl_.TotalSampleCount(); ++i) correct += predictions_[i] == qsl_.Label(i);
    return static_cast<double>(correct) / qsl_.TotalSampleCount();
  }

 private:
  ClassifierEngine& engine_;
  const ImageQsl& qsl_;
  std::vector<int32_t> predictions_;
};

// Prompts cut from the validation text: kDecathlonPromptChars characters starting just
// after a newline, at evenly spaced places.
class PromptQsl : public QuerySampleLibrary {
 public:
  PromptQsl(const std::string& text, int64_t count) {
    const int64_t n = static_cast<int64_t>(text.size());
    for (int64_t k = 0; k < count; ++k) {
      int64_t at = n * k / count;
      const size_t nl = text.find('\n', at);
      at = nl == std::string::npos ? 0 : static_cast<int64_t>(nl) + 1;
      if (at + kDecathlonPromptChars > n) at = 0;
      prompts_.push_back(text.substr(at, kDecathlonPromptChars));
    }
  }
  std::string Name() const override { return "fortunes-validation-prompts"; }
  int64_t TotalSampleCount() const override { return static_cast<int64_t>(prompts_.size()); }
  const std::string& Prompt(int64_t i) const { return prompts_[i]; }

 private:
  std::vector<std::string> prompts_;
};

class TextSut : public SystemUnderTest {
 public:
  TextSut(TextEngine& engine, const PromptQsl& qsl, int64_t new_tokens)
      : engine_(engine), qsl_(qsl), new_tokens_(new_tokens) {}
  std::string Name() const override { return engine_.recipe().name(); }
  void Issue(const std::vector<int64_t>& indices) override {
    for (int64_t i : indices) {
      absl::Status s = engine_.Generate(qsl_.Prompt(i), new_tokens_);
      if (!s.ok() && status_.ok()) status_ = s;
    }
  }
  const absl::Status& status() const { return status_; }

 private:
  TextEngine& engine_;
  const PromptQsl& qsl_;
  int64_t new_tokens_;
  absl::Status status_;
};

// The training set by index; a query (a batch) is one optimizer step.
class TrainQsl : public QuerySampleLibrary {
 public:
  explicit TrainQsl(const tensor::Dataset& data) : data_(data) {}
  std::string Name() const override { return "fashion-mnist-train"; }
  int64_t TotalSampleCount() const override { return static_cast<int64_t>(data_.labels.size()); }
  const tensor::Dataset& data() const { return data_; }

 private:
  const tensor::Dataset& data_;
};

class TrainSut : public SystemUnderTest {
 public:
  TrainSut(TrainingEngine& engine, const TrainQsl& qsl, std::vector<int64_t> example_shape)
      : engine_(engine), qsl_(qsl), shape_(std::move(example_shape)) {}
  std::string Name() const override { return engine_.recipe().name(); }
  void Issue(const std::vector<int64_t>& indices) override {
    std::vector<int32_t> labels(indices.size());
    for (size_t b = 0; b < indices.size(); ++b) labels[b] = qsl_.data().labels[indices[b]];
    engine_.Step(GatherImages(qsl_.data(), shape_, indices), labels);
  }

 private:
  TrainingEngine& engine_;
  const TrainQsl& qsl_;
  std::vector<int64_t> shape_;
};

absl::StatusOr<double> NoteAsDouble(const tensor::proto::Metadata& meta, const std::string& key,
                                    const std::string& file) {
  auto it = meta.notes().find(key);
  double v = 0;
  if (it == meta.notes().end() || !absl::SimpleAtod(it->second, &v)) {
    return absl::FailedPreconditionError(
        absl::StrCat(file, ": metadata note '", key, "' is missing or not a number (rerun "
                     "`bazel run -c opt //benchmarking:train_reference`)"));
  }
  return v;
}

// The tensor library's peak allocation over a few untimed queries.
int64_t PeakTensorBytes(SystemUnderTest& sut, int64_t queries, int64_t batch, int64_t total) {
  prof::MemoryProfiler memory;
  for (int64_t q = 0; q < queries; ++q) {
    std::vector<int64_t> idx;
    for (int64_t b = 0; b < batch; ++b) idx.push_back((q * batch + b) % total);
    sut.Issue(idx);
  }
  memory.Stop();
  return memory.peak_bytes();
}

struct Measured {
  proto::Recipe recipe;
  PerformanceResult performance;
  proto::Accuracy accuracy;
  int64_t peak_memory_bytes = 0;
  int64_t model_size_bytes = 0;
  double tokens_per_second = 0, images_per_second = 0;
};

std::string Describe(const proto::Accuracy& a) {
  return absl::StrFormat("%s %.4f (target %s %.4f: %s)", a.metric(), a.value(),
                         a.higher_is_better() ? ">=" : "<=", a.target_value(),
                         a.target_met() ? "met" : "NOT met");
}

absl::StatusOr<Measured> MeasureClassifier(const EventSpec& event, const std::string& recipe,
                                           const tensor::LoadedClassifier& reference,
                                           const FashionMnistData& data,
                                           const RecipeOptions& recipe_options,
                                           const TestSettings& settings, const RunOptions& o) {
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": building"));
  TT_ASSIGN_OR_RETURN(std::unique_ptr<ClassifierEngine> engine,
                      BuildClassifierEngine(recipe, reference, data, recipe_options));
  ImageQsl qsl(data.test, ExampleShape(reference.architecture), "fashion-mnist-test");
  ClassifierSut sut(*engine, qsl);
  Measured m;
  m.recipe = engine->recipe();
  TT_RETURN_IF_ERROR(RunAccuracy(sut, qsl, 500));
  m.accuracy = MakeAccuracy(event.quality_metric, event.quality_direction, sut.Accuracy(),
                            qsl.TotalSampleCount(), reference.metadata.accuracy(),
                            event.target_fraction);
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": ", Describe(m.accuracy)));
  TT_ASSIGN_OR_RETURN(m.performance, RunPerformance(sut, qsl, settings));
  m.peak_memory_bytes = engine->resident_bytes() + PeakTensorBytes(sut, 8, 1, qsl.TotalSampleCount());
  m.model_size_bytes = engine->model_bytes();
  return m;
}

absl::StatusOr<Measured> MeasureTransformer(const EventSpec& event, const std::string& recipe,
                                            const cache::CharCorpus& corpus,
                                            const RecipeOptions& recipe_options,
                                            const TestSettings& settings, const RunOptions& o) {
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": building"));
  const std::string path = ReferencePath(event);
  TT_ASSIGN_OR_RETURN(tensor::LoadedGpt reference, cache::LoadCharGpt(path, corpus));
  TT_ASSIGN_OR_RETURN(double reference_loss, NoteAsDouble(reference.metadata, "val_loss", path));
  TT_ASSIGN_OR_RETURN(std::unique_ptr<TextEngine> engine,
                      BuildTextEngine(recipe, path, corpus, recipe_options));
  const int64_t windows = o.quick ? 20 : kDecathlonValWindows;
  TT_ASSIGN_OR_RETURN(double loss, engine->ValidationLoss(windows));
  Measured m;
  m.recipe = engine->recipe();
  m.accuracy = MakeAccuracy(event.quality_metric, event.quality_direction, loss, windows,
                            reference_loss, event.target_fraction);
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": ", Describe(m.accuracy)));
  const int64_t new_tokens = o.quick ? 32 : kDecathlonNewTokens;
  PromptQsl qsl(corpus.split.validation.text(), 16);
  TextSut sut(*engine, qsl, new_tokens);
  TT_ASSIGN_OR_RETURN(m.performance, RunPerformance(sut, qsl, settings));
  TT_RETURN_IF_ERROR(sut.status());
  (*m.recipe.mutable_parameters())["new_tokens"] = absl::StrCat(new_tokens);
  m.tokens_per_second = m.performance.samples_per_second * new_tokens;
  m.peak_memory_bytes = engine->resident_bytes() + PeakTensorBytes(sut, 1, 1, qsl.TotalSampleCount());
  m.model_size_bytes = engine->model_bytes();
  return m;
}

absl::StatusOr<Measured> MeasureRelay(const EventSpec& event, const std::string& recipe,
                                      const FashionMnistData& data, const TestSettings& settings,
                                      const RunOptions& o) {
  const std::string path = ReferencePath(event);
  TT_ASSIGN_OR_RETURN(tensor::LoadedClassifier reference, tensor::LoadClassifier(path));
  TT_ASSIGN_OR_RETURN(double reference_accuracy,
                      NoteAsDouble(reference.metadata, kRelayAccuracyNote, path));
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": training one epoch"));
  TT_ASSIGN_OR_RETURN(RelayEpoch epoch,
                      RunRelayEpoch(recipe, reference.architecture, data, settings));
  Measured m;
  TT_ASSIGN_OR_RETURN(std::unique_ptr<TrainingEngine> fresh,
                      TrainingEngine::Create(recipe, reference.architecture));
  m.recipe = fresh->recipe();
  m.performance = std::move(epoch.performance);
  m.accuracy = MakeAccuracy(event.quality_metric, event.quality_direction, epoch.accuracy,
                            static_cast<int64_t>(data.test.labels.size()), reference_accuracy,
                            event.target_fraction);
  Say(o, absl::StrCat("[", event.name, "] ", recipe, ": ", Describe(m.accuracy)));
  m.images_per_second = m.performance.samples_per_second;
  // Memory of one training step (activations, gradients, Adam's moments) on the fresh model.
  TrainQsl qsl(data.train);
  TrainSut sut(*fresh, qsl, ExampleShape(reference.architecture));
  m.peak_memory_bytes = fresh->model().NumParameters() * 4 +
                        PeakTensorBytes(sut, 2, kRelayBatch, qsl.TotalSampleCount());
  m.model_size_bytes = std::max<int64_t>(0, tensor::FileSize(path));
  return m;
}

}  // namespace

absl::StatusOr<const FashionMnistData*> EventContext::FashionMnist() {
  if (!fashion_) {
    TT_ASSIGN_OR_RETURN(FashionMnistData d,
                        LoadFashionMnistData(quick_ ? 2048 : -1, quick_ ? 1000 : -1));
    fashion_ = std::move(d);
  }
  return &*fashion_;
}

absl::StatusOr<const cache::CharCorpus*> EventContext::Corpus() {
  if (!corpus_) {
    TT_ASSIGN_OR_RETURN(cache::CharCorpus c, cache::LoadCharCorpus());
    corpus_ = std::move(c);
  }
  return &*corpus_;
}

TestSettings EventSettings(const EventSpec& event, bool quick, uint64_t seed) {
  if (event.kind == EventKind::kTraining) return RelaySettings(quick, seed);
  TestSettings s;
  s.seed = seed;
  if (event.kind == EventKind::kClassifier) {
    s.scenario = Scenario::kSingleStream;
    s.min_query_count = quick ? 128 : 1024;
    s.min_duration_s = quick ? 0.0 : 1.0;
    s.max_duration_s = 60.0;
    s.warmup_queries = quick ? 8 : 64;
  } else {
    // One query = one prompt and its 256 new tokens; a few of them per recipe.
    s.scenario = Scenario::kOffline;
    s.offline_batch_size = 1;
    s.offline_min_sample_count = quick ? 1 : 4;
    s.min_query_count = 1;
    s.min_duration_s = quick ? 0.0 : 1.0;
    s.max_duration_s = 300.0;
    s.warmup_queries = 1;
  }
  return s;
}

TestSettings RelaySettings(bool quick, uint64_t seed) {
  TestSettings s;
  s.seed = seed;
  s.scenario = Scenario::kOffline;
  s.offline_batch_size = kRelayBatch;
  // One pass over the training set (the quick data set holds 2,048 images).
  s.offline_min_sample_count = quick ? 640 : 60000;
  s.min_query_count = 1;
  s.min_duration_s = 0.0;
  s.max_duration_s = 1800.0;
  s.warmup_queries = 0;  // every step counts: the epoch is the measurement
  return s;
}

absl::StatusOr<RelayEpoch> RunRelayEpoch(const std::string& recipe,
                                         const tensor::proto::Architecture& architecture,
                                         const FashionMnistData& data,
                                         const TestSettings& settings) {
  TT_ASSIGN_OR_RETURN(std::unique_ptr<TrainingEngine> engine,
                      TrainingEngine::Create(recipe, architecture));
  TrainQsl qsl(data.train);
  TrainSut sut(*engine, qsl, ExampleShape(architecture));
  RelayEpoch epoch;
  TT_ASSIGN_OR_RETURN(epoch.performance, RunPerformance(sut, qsl, settings));
  TT_ASSIGN_OR_RETURN(epoch.accuracy, engine->TestAccuracy(data.test));
  epoch.steps = engine->steps();
  epoch.seconds = epoch.performance.duration_s;
  return epoch;
}

absl::StatusOr<std::vector<RecipeOutcome>> RunEvent(const EventSpec& event,
                                                    const std::vector<std::string>& recipes,
                                                    const RunOptions& options,
                                                    EventContext& context) {
  std::vector<std::string> order = {"baseline"};
  for (const std::string& r : recipes) {
    if (std::find(event.recipes.begin(), event.recipes.end(), r) == event.recipes.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown recipe '", r, "' for event ",
                                                     event.name, "; its recipes are: ",
                                                     absl::StrJoin(event.recipes, ", ")));
    }
    if (std::find(order.begin(), order.end(), r) == order.end()) order.push_back(r);
  }
  if (options.out_dir.empty()) return absl::InvalidArgumentError("RunEvent: out_dir is empty");
  RecipeOptions recipe_options;
  recipe_options.quick = options.quick;
  recipe_options.finetune_epochs = options.finetune_epochs;
  recipe_options.work_dir = absl::StrCat(options.out_dir, "/models");
  std::error_code error;
  std::filesystem::create_directories(recipe_options.work_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(recipe_options.work_dir, ": ", error.message()));
  }
  const TestSettings settings = EventSettings(event, options.quick, options.seed);
  const proto::SystemDescription system = SystemToProto(DescribeSystem());

  std::vector<RecipeOutcome> outcomes;
  std::optional<proto::ResultPayload> baseline;
  std::optional<tensor::LoadedClassifier> classifier;
  for (const std::string& recipe : order) {
    Measured m;
    switch (event.kind) {
      case EventKind::kClassifier: {
        TT_ASSIGN_OR_RETURN(const FashionMnistData* data, context.FashionMnist());
        if (!classifier) {
          TT_ASSIGN_OR_RETURN(tensor::LoadedClassifier c,
                              tensor::LoadClassifier(ReferencePath(event)));
          classifier = std::move(c);
        }
        TT_ASSIGN_OR_RETURN(m, MeasureClassifier(event, recipe, *classifier, *data,
                                                 recipe_options, settings, options));
        break;
      }
      case EventKind::kTransformer: {
        TT_ASSIGN_OR_RETURN(const cache::CharCorpus* corpus, context.Corpus());
        TT_ASSIGN_OR_RETURN(m, MeasureTransformer(event, recipe, *corpus, recipe_options,
                                                  settings, options));
        break;
      }
      case EventKind::kTraining: {
        TT_ASSIGN_OR_RETURN(const FashionMnistData* data, context.FashionMnist());
        TT_ASSIGN_OR_RETURN(m, MeasureRelay(event, recipe, *data, settings, options));
        break;
      }
    }
    proto::ResultPayload p;
    p.set_task(event.name);
    *p.mutable_recipe() = m.recipe;
    p.set_submitter(options.submitter);
    *p.mutable_system() = system;
    SetPerformance(m.performance, &p);
    *p.mutable_accuracy() = m.accuracy;
    p.set_peak_memory_bytes(m.peak_memory_bytes);
    p.set_model_size_bytes(m.model_size_bytes);
    if (!baseline) baseline = p;
    if (absl::Status s = SetBaseline(*baseline, &p); !s.ok()) {
      Say(options, absl::StrCat("[", event.name, "] ", recipe,
                                ": no baseline ratio, the result cannot be ranked: ", s.message()));
    }
    FinalizeValidity(&p);
    RecipeOutcome out;
    out.result = SealResult(p);
    out.stem = absl::StrCat(options.out_dir, "/", ResultFileStem(p));
    TT_RETURN_IF_ERROR(WriteResultFiles(out.stem, out.result));
    out.tokens_per_second = m.tokens_per_second;
    out.images_per_second = m.images_per_second;
    Say(options, absl::StrCat("[", event.name, "] ", recipe, ": ",
                              m.performance.ToString().substr(0, 200)));
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

}  // namespace tt::bench
