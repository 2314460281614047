#include "benchmarking/recipes.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "acceleration/backends.h"
#include "caching/generate.h"
#include "compression/structured.h"
#include "quantization/gpt_quantize.h"
#include "quantization/quantized_model.h"
#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/data_loader.h"
#include "tensor/file_io.h"
#include "tensor/ops.h"
#include "tensor/train.h"

namespace tt::bench {
namespace {

using tensor::Sequential;
using tensor::Tensor;

absl::StatusOr<int64_t> SizeOf(const std::string& path) {
  const int64_t bytes = tensor::FileSize(path);
  if (bytes < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot read its size"));
  return bytes;
}

absl::StatusOr<tensor::Backend*> Backend(const std::string& name) {
  accel::RegisterAccelerationBackends();
  return tensor::FindBackend(name);
}

proto::Recipe MakeRecipe(absl::string_view name,
                         std::vector<std::pair<std::string, std::string>> parameters) {
  proto::Recipe r;
  r.set_name(std::string(name));
  for (auto& [k, v] : parameters) (*r.mutable_parameters())[k] = v;
  return r;
}

absl::Status UnknownRecipe(absl::string_view recipe, const std::vector<std::string>& known) {
  return absl::InvalidArgumentError(absl::StrCat("unknown recipe '", recipe,
                                                 "' for this event; its recipes are: ",
                                                 absl::StrJoin(known, ", ")));
}

// A copy of `model` (architecture `arch`) with its own parameters.
absl::StatusOr<std::unique_ptr<Sequential>> Clone(const tensor::proto::Architecture& arch,
                                                  const Sequential& model) {
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> copy, tensor::BuildClassifier(arch, 0));
  const tensor::NamedTensors from = model.NamedParameters(), to = copy->NamedParameters();
  TT_CHECK(from.size() == to.size(), "Clone: parameter lists differ");
  for (size_t i = 0; i < from.size(); ++i) {
    Tensor dst = to[i].second;
    dst.CopyFrom(from[i].second);
  }
  return copy;
}

// Fine-tunes with Adam (lr 1e-3, cosine to 0) on the training set, accelerated backend.
absl::Status FineTune(Sequential& model, const tensor::proto::Architecture& arch,
                      const FashionMnistData& data, int epochs, uint64_t seed) {
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend, Backend("auto"));
  TT_ASSIGN_OR_RETURN(tensor::DataLoader loader,
                      tensor::DataLoader::Create(&data.train,
                                                 ClassifierLoaderOptions(arch, 64, seed + 100)));
  tensor::Adam adam(model.Parameters(), {.lr = 1e-3f});
  tensor::CosineSchedule schedule({.base_lr = 1e-3f, .total_steps = epochs * loader.num_batches()});
  tensor::FitOptions fit;
  fit.epochs = epochs;
  fit.schedule = &schedule;
  fit.progress = tensor::FitOptions::Progress::kNone;
  tensor::ScopedBackend use(backend);
  tensor::Fit(model, adam, loader, fit);
  model.Eval();
  return absl::OkStatus();
}

class FloatClassifier : public ClassifierEngine {
 public:
  FloatClassifier(std::unique_ptr<Sequential> model, tensor::Backend* backend)
      : model_(std::move(model)), backend_(backend) {
    model_->Eval();
  }
  Tensor Logits(const Tensor& images) override {
    tensor::ScopedBackend use(backend_);
    tensor::NoGradGuard no_grad;  // inference: Linear + ReLU fuse
    return model_->Forward(images);
  }
  void Describe(proto::Recipe recipe, int64_t model_bytes) {
    recipe_ = std::move(recipe);
    model_bytes_ = model_bytes;
    resident_bytes_ = model_->NumParameters() * 4;
  }

 private:
  std::unique_ptr<Sequential> model_;
  tensor::Backend* backend_;
};

class Int8Classifier : public ClassifierEngine {
 public:
  explicit Int8Classifier(std::unique_ptr<quant::QuantizedClassifier> model)
      : model_(std::move(model)) {}
  Tensor Logits(const Tensor& images) override { return model_->Forward(images); }
  void Describe(proto::Recipe recipe, int64_t model_bytes) {
    recipe_ = std::move(recipe);
    model_bytes_ = model_bytes;
    resident_bytes_ = model_->ParameterBytes();
  }

 private:
  std::unique_ptr<quant::QuantizedClassifier> model_;
};

// Post-training static int8 of `model`, calibrated on the first training images; the
// int8 file is written to `path` (its size is the recipe's model size).
absl::StatusOr<std::unique_ptr<Int8Classifier>> QuantizeToEngine(
    Sequential& model, const tensor::proto::Architecture& arch, const FashionMnistData& data,
    const RecipeOptions& options, const std::string& path, proto::Recipe recipe) {
  TT_ASSIGN_OR_RETURN(tensor::DataLoader calibration,
                      tensor::DataLoader::Create(&data.train, ClassifierLoaderOptions(arch, 64)));
  quant::QuantizeOptions q;
  q.calibration_batches = options.quick ? 4 : 32;  // 256 or 2,048 images
  TT_ASSIGN_OR_RETURN(std::unique_ptr<quant::QuantizedClassifier> qmodel,
                      quant::QuantizeClassifier(model, arch, calibration, q));
  tensor::proto::Metadata meta;
  meta.set_dataset("fashion-mnist");
  meta.set_created_by(absl::StrCat("benchmarking/tinymlperf ", recipe.name()));
  TT_RETURN_IF_ERROR(quant::SaveQuantizedClassifier(path, *qmodel, meta));
  TT_ASSIGN_OR_RETURN(int64_t bytes, SizeOf(path));
  auto engine = std::make_unique<Int8Classifier>(std::move(qmodel));
  engine->Describe(std::move(recipe), bytes);
  return engine;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClassifierEngine>> BuildClassifierEngine(
    absl::string_view recipe, const tensor::LoadedClassifier& reference,
    const FashionMnistData& data, const RecipeOptions& options) {
  const tensor::proto::Architecture& arch = reference.architecture;
  const bool cnn = arch.has_cnn();
  const std::string stem =
      absl::StrCat(options.work_dir, "/", cnn ? "cnn" : "mlp", "_");
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> model, Clone(arch, *reference.model));
  // The float file's size: what SaveClassifier writes for the reference.
  auto float_bytes = [&]() -> absl::StatusOr<int64_t> {
    const std::string path = stem + "f32.ttm";
    TT_RETURN_IF_ERROR(tensor::SaveClassifier(path, arch, *reference.model, reference.metadata));
    return SizeOf(path);
  };
  if (recipe == "baseline" || recipe == "accelerated") {
    const std::string backend_name = recipe == "baseline" ? "reference" : "auto";
    TT_ASSIGN_OR_RETURN(tensor::Backend * backend, Backend(backend_name));
    TT_ASSIGN_OR_RETURN(int64_t bytes, float_bytes());
    auto engine = std::make_unique<FloatClassifier>(std::move(model), backend);
    engine->Describe(MakeRecipe(recipe, {{"backend", backend_name},
                                         {"weights", "float32"},
                                         {"batch", "1"}}),
                     bytes);
    return engine;
  }
  if (recipe == "int8") {
    TT_ASSIGN_OR_RETURN(auto engine,
                        QuantizeToEngine(*model, arch, data, options, stem + "int8.ttm",
                                         MakeRecipe(recipe, {{"quantization", "int8 static, "
                                                                              "per-channel weights"},
                                                             {"calibration", "minmax"},
                                                             {"kernels", "quantization int8 GEMM/conv"},
                                                             {"batch", "1"}})));
    return std::unique_ptr<ClassifierEngine>(std::move(engine));
  }
  if (recipe == "pruned+int8") {
    compress::StructuredOptions s;
    s.fraction = 0.5;
    s.norm = compress::NormKind::kL1;
    s.layers = cnn ? compress::StructuredLayers::kConvOnly : compress::StructuredLayers::kAllHidden;
    TT_ASSIGN_OR_RETURN(compress::StructuredResult pruned,
                        compress::PruneStructured(*reference.model, arch, s));
    const int epochs = options.finetune_epochs >= 0 ? options.finetune_epochs : (cnn ? 2 : 1);
    TT_RETURN_IF_ERROR(FineTune(*pruned.model, pruned.architecture, data, epochs, options.seed));
    TT_ASSIGN_OR_RETURN(
        auto engine,
        QuantizeToEngine(*pruned.model, pruned.architecture, data, options,
                         stem + "pruned_int8.ttm",
                         MakeRecipe(recipe, {{"pruning", cnn ? "structured: 50% of conv filters (L1)"
                                                             : "structured: 50% of hidden units (L1)"},
                                             {"finetune_epochs", absl::StrCat(epochs)},
                                             {"quantization", "int8 static, per-channel weights"},
                                             {"batch", "1"}})));
    return std::unique_ptr<ClassifierEngine>(std::move(engine));
  }
  return UnknownRecipe(recipe, {"baseline", "accelerated", "int8", "pruned+int8"});
}

// --- Transformer -----------------------------------------------------------------------

namespace {

class GptEngine : public TextEngine {
 public:
  GptEngine(tensor::LoadedGpt gpt, const cache::CharCorpus& corpus, tensor::Backend* backend,
            bool use_cache)
      : gpt_(std::move(gpt)), corpus_(corpus), backend_(backend), use_cache_(use_cache) {}

  absl::Status Generate(const std::string& prompt, int64_t new_tokens) override {
    cache::GenerateOptions o;
    o.max_new_tokens = new_tokens;
    o.sampling.mode = cache::SamplingOptions::Mode::kGreedy;
    o.use_cache = use_cache_;
    o.when_full = cache::CacheFullPolicy::kSlidingWindow;
    tensor::ScopedBackend use(backend_);
    TT_ASSIGN_OR_RETURN(std::vector<std::string> out,
                        cache::Generate(*gpt_.model, corpus_.text, {prompt}, o));
    last_text_ = out.empty() ? "" : out[0];
    return absl::OkStatus();
  }

  absl::StatusOr<double> ValidationLoss(int64_t windows) override {
    tensor::ScopedBackend use(backend_);
    return cache::CharGptValidationLoss(*gpt_.model, corpus_, windows,
                                        cache::RecordedSequenceLength(gpt_.metadata));
  }

  void Describe(proto::Recipe recipe, int64_t model_bytes, int64_t resident) {
    recipe_ = std::move(recipe);
    model_bytes_ = model_bytes;
    resident_bytes_ = resident;
  }
  tensor::LoadedGpt& gpt() { return gpt_; }

 private:
  tensor::LoadedGpt gpt_;
  const cache::CharCorpus& corpus_;
  tensor::Backend* backend_;
  bool use_cache_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextEngine>> BuildTextEngine(absl::string_view recipe,
                                                            const std::string& reference_path,
                                                            const cache::CharCorpus& corpus,
                                                            const RecipeOptions& options) {
  const std::vector<std::string> known = {"baseline", "accelerated", "cached", "cached+int8"};
  if (std::find(known.begin(), known.end(), recipe) == known.end()) {
    return UnknownRecipe(recipe, known);
  }
  TT_ASSIGN_OR_RETURN(tensor::LoadedGpt gpt, cache::LoadCharGpt(reference_path, corpus));
  TT_ASSIGN_OR_RETURN(int64_t f32_bytes, SizeOf(reference_path));
  const int64_t f32_resident = gpt.model->NumParameters() * 4;
  const bool baseline = recipe == "baseline";
  const bool cached = recipe == "cached" || recipe == "cached+int8";
  TT_ASSIGN_OR_RETURN(tensor::Backend * backend, Backend(baseline ? "reference" : "auto"));
  auto engine = std::make_unique<GptEngine>(std::move(gpt), corpus, backend, cached);
  proto::Recipe r = MakeRecipe(recipe, {{"backend", baseline ? "reference" : "auto"},
                                        {"kv_cache", cached ? "on (engine default type)" : "off"},
                                        {"weights", "float32"},
                                        {"decoding", "greedy, batch 1"}});
  if (recipe == "cached+int8") {
    TT_RETURN_IF_ERROR(cache::SetWeights(*engine->gpt().model, cache::WeightFormat::kInt8));
    const std::string path = absl::StrCat(options.work_dir, "/gpt_int8.ttm");
    TT_RETURN_IF_ERROR(quant::SaveQuantizedGpt(path, *engine->gpt().model, engine->gpt().metadata));
    TT_ASSIGN_OR_RETURN(int64_t bytes, SizeOf(path));
    (*r.mutable_parameters())["weights"] = "int8 weight-only, per-channel";
    engine->Describe(std::move(r), bytes, bytes);
  } else {
    engine->Describe(std::move(r), f32_bytes, f32_resident);
  }
  return std::unique_ptr<TextEngine>(std::move(engine));
}

// --- Training ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TrainingEngine>> TrainingEngine::Create(
    absl::string_view recipe, const tensor::proto::Architecture& architecture) {
  if (recipe != "baseline" && recipe != "accelerated") {
    return UnknownRecipe(recipe, {"baseline", "accelerated"});
  }
  if (!architecture.has_cnn()) {
    return absl::InvalidArgumentError("training relay: the reference architecture is not a CNN");
  }
  const std::string backend_name = recipe == "baseline" ? "reference" : "auto";
  std::unique_ptr<TrainingEngine> e(new TrainingEngine);
  TT_ASSIGN_OR_RETURN(e->backend_, Backend(backend_name));
  e->architecture_ = architecture;
  TT_ASSIGN_OR_RETURN(e->model_, tensor::BuildClassifier(architecture, kRelaySeed));
  e->model_->Train();
  e->adam_ = std::make_unique<tensor::Adam>(e->model_->Parameters(),
                                            tensor::Adam::Options{.lr = kRelayLearningRate});
  e->recipe_ = MakeRecipe(recipe, {{"backend", backend_name},
                                   {"optimizer", "adam lr 1e-3"},
                                   {"batch", absl::StrCat(kRelayBatch)},
                                   {"init_seed", absl::StrCat(kRelaySeed)}});
  return e;
}

void TrainingEngine::Step(const Tensor& images, const std::vector<int32_t>& labels) {
  tensor::ScopedBackend use(backend_);
  Tensor loss = tensor::CrossEntropy(model_->Forward(images), labels);
  adam_->ZeroGrad();
  loss.Backward();
  adam_->Step();
  ++steps_;
}

absl::StatusOr<double> TrainingEngine::TestAccuracy(const tensor::Dataset& test) {
  TT_ASSIGN_OR_RETURN(tensor::DataLoader loader,
                      tensor::DataLoader::Create(&test, ClassifierLoaderOptions(architecture_, 500)));
  tensor::ScopedBackend use(backend_);
  const double accuracy = tensor::Evaluate(*model_, loader).accuracy;
  model_->Train();
  return accuracy;
}

}  // namespace tt::bench
