// The compression report: what pruning, sparse kernels, distillation and pruning + int8
// buy on the course's models, measured in one run on the full Fashion-MNIST test set.
//
//   bazel run -c opt //compression:report -- [--json=FILE] [--quick] [--out_dir=DIR]
//       [--mlp_model=mlp.ttm --cnn_model=cnn.ttm] [--epochs=4] [--finetune_epochs=1]
//       [--sections=pruning,structured,sparse,distill,int8]
//
// Sections (each prints a table; the JSON keys are listed in compression/README.md):
//   1. the float MLP and CNN (trained here on the accelerated backend unless given;
//      saved to --out_dir either way, so that a rerun can start from them);
//   2. unstructured global magnitude pruning at 50/70/80/90/95%: accuracy without and
//      with fine-tuning (masks re-applied after every step), one-shot and gradual, each
//      against a dense control fine-tuned for the same extra epochs from the same model
//      in the same batch order; the per-layer sparsity at 90%;
//   3. structured pruning: the CNN with half of its conv filters removed, fine-tuned,
//      against its own dense control, and its speedup over the unpruned CNN;
//   4. the sparse kernel's crossover (784x256) and the 90% MLP run on sparse kernels;
//   5. distillation: a 784-64-10 MLP student of the CNN, for each --distill_configs
//      entry, against the same student trained on the labels only;
//   6. the 90%-pruned MLP in int8 with CSR weights: file size and accuracy;
// and the accuracy-vs-sparsity chart as an SVG in --out_dir.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "compression/accuracy_chart.h"
#include "compression/distill.h"
#include "compression/pruned_int8.h"
#include "compression/pruning.h"
#include "compression/sparse_crossover.h"
#include "compression/sparse_linear.h"
#include "compression/structured.h"
#include "profiling/timer.h"
#include "quantization/quantized_model.h"
#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/data_loader.h"
#include "tensor/file_io.h"
#include "tensor/flat_json.h"
#include "tensor/idx_reader.h"
#include "tensor/model_io.h"
#include "tensor/models.h"
#include "tensor/optim.h"
#include "tensor/train.h"

ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(bool, quick, false, "small subsets and budgets: checks the report runs end to end");
ABSL_FLAG(std::string, mlp_model, "", "trained float MLP (.ttm); empty: train one here");
ABSL_FLAG(std::string, cnn_model, "", "trained float CNN (.ttm); empty: train one here");
ABSL_FLAG(int, epochs, 4, "epochs when training the float MLP/CNN here (Adam, cosine)");
ABSL_FLAG(int, finetune_epochs, 1, "fine-tuning epochs after unstructured pruning (and control)");
ABSL_FLAG(int, structured_epochs, 2, "fine-tuning epochs after structured pruning (and control)");
ABSL_FLAG(int, distill_epochs, 4, "training epochs of each distillation student");
ABSL_FLAG(double, finetune_lr, 1e-3, "peak Adam learning rate of every fine-tuning (cosine to 0)");
ABSL_FLAG(std::string, distill_configs, "2:0.5,4:0.7",
          "distillation runs as T:alpha (temperature, weight of the soft loss), comma separated; "
          "the first is the headline");
ABSL_FLAG(std::string, out_dir, "", "where model files and the SVG go (default: a fresh temp dir)");
ABSL_FLAG(std::string, sections, "pruning,structured,sparse,distill,int8",
          "comma-separated sections to run (pruning = the MLP and CNN sweeps and the chart)");
ABSL_FLAG(std::string, sweep_models, "mlp,cnn", "models of the pruning sweep: mlp, cnn or both");

namespace tt::compress {
namespace {

using tensor::Sequential;
using tensor::Tensor;

constexpr double kSparsities[] = {0.5, 0.7, 0.8, 0.9, 0.95};
constexpr const char* kSectionNames[] = {"pruning", "structured", "sparse", "distill", "int8"};

int Pct(double fraction) { return static_cast<int>(std::lround(100 * fraction)); }

struct Data {
  tensor::Dataset train, test;
};

tensor::DataLoader::Options LoaderOptions(bool cnn, int64_t batch, uint64_t shuffle_seed = 0) {
  tensor::DataLoader::Options o;
  o.batch_size = batch;
  o.mean = tensor::kFashionMnistMean;
  o.stddev = tensor::kFashionMnistStddev;
  if (shuffle_seed != 0) {
    o.order = tensor::DataLoader::Order::kShuffled;
    o.seed = shuffle_seed;
  }
  if (cnn) o.example_shape = {1, 28, 28};
  return o;
}

absl::StatusOr<double> TestAccuracy(tensor::Layer& model, const Data& data, bool cnn) {
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test,
                      tensor::DataLoader::Create(&data.test, LoaderOptions(cnn, 500)));
  return tensor::Evaluate(model, test).accuracy;
}

// Trains `model` for `epochs` with Adam at `lr`, cosine-decayed to 0 over the run, on
// the training set in the shuffled order of `shuffle_seed`; `after_step` as in Fit.
absl::Status Train(Sequential& model, const Data& data, bool cnn, int epochs, double lr,
                   uint64_t shuffle_seed, std::function<void()> after_step = {}) {
  TT_ASSIGN_OR_RETURN(
      tensor::DataLoader loader,
      tensor::DataLoader::Create(&data.train, LoaderOptions(cnn, 64, shuffle_seed)));
  tensor::Adam adam(model.Parameters(), {.lr = static_cast<float>(lr)});
  tensor::CosineSchedule schedule(
      {.base_lr = static_cast<float>(lr), .total_steps = epochs * loader.num_batches()});
  tensor::FitOptions fit;
  fit.epochs = epochs;
  fit.schedule = &schedule;
  fit.progress = tensor::FitOptions::Progress::kNone;
  fit.after_step = std::move(after_step);
  tensor::Fit(model, adam, loader, fit);
  return absl::OkStatus();
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

// A model of the report: the float starting point, its accuracy, and dense controls
// fine-tuned from it for a given number of extra epochs (trained once, then reused).
struct Subject {
  bool cnn = false;
  const char* name = "";  // "mlp" / "cnn"
  tensor::LoadedClassifier base;
  double base_accuracy = 0;
  std::map<int, double> control_accuracy;  // extra epochs -> accuracy
};

absl::StatusOr<Subject> MakeSubject(bool cnn, const Data& data, bool quick,
                                    const std::string& out_dir) {
  Subject s;
  s.cnn = cnn;
  s.name = cnn ? "cnn" : "mlp";
  const std::string path = absl::GetFlag(cnn ? FLAGS_cnn_model : FLAGS_mlp_model);
  if (!path.empty()) {
    TT_ASSIGN_OR_RETURN(s.base, tensor::LoadClassifier(path));
  } else {
    s.base.architecture = cnn ? tensor::ToArchitecture(tensor::CnnConfig{})
                              : tensor::ToArchitecture(tensor::MlpConfig{});
    TT_ASSIGN_OR_RETURN(s.base.model, tensor::BuildClassifier(s.base.architecture, 1));
    const int epochs = quick ? 1 : absl::GetFlag(FLAGS_epochs);
    std::fprintf(stderr, "training the float %s for %d epochs...\n", cnn ? "CNN" : "MLP", epochs);
    TT_RETURN_IF_ERROR(Train(*s.base.model, data, cnn, epochs, 1e-3, /*shuffle_seed=*/1));
    s.base.metadata.set_dataset("fashion-mnist");
    s.base.metadata.set_seed(1);
    s.base.metadata.set_epochs(epochs);
    s.base.metadata.set_created_by("compression/report");
  }
  TT_ASSIGN_OR_RETURN(s.base_accuracy, TestAccuracy(*s.base.model, data, cnn));
  s.base.metadata.set_accuracy(s.base_accuracy);
  // Saved so that a rerun can start from the same model (--mlp_model / --cnn_model).
  TT_RETURN_IF_ERROR(tensor::SaveClassifier(absl::StrCat(out_dir, "/", s.name, "_f32.ttm"),
                                            s.base.architecture, *s.base.model, s.base.metadata));
  return s;
}

// Fine-tuning from the same start, in the same order, for pruned models and controls
// alike: only the masks differ.
absl::Status FineTune(Sequential& model, const Data& data, bool cnn, int epochs,
                      std::function<void()> after_step = {}) {
  return Train(model, data, cnn, epochs, absl::GetFlag(FLAGS_finetune_lr), /*shuffle_seed=*/2,
               std::move(after_step));
}

absl::StatusOr<double> ControlAccuracy(Subject& s, const Data& data, int epochs) {
  auto it = s.control_accuracy.find(epochs);
  if (it != s.control_accuracy.end()) return it->second;
  std::fprintf(stderr, "fine-tuning the dense %s control for %d epoch(s)...\n", s.name, epochs);
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> control,
                      Clone(s.base.architecture, *s.base.model));
  TT_RETURN_IF_ERROR(FineTune(*control, data, s.cnn, epochs));
  TT_ASSIGN_OR_RETURN(const double acc, TestAccuracy(*control, data, s.cnn));
  s.control_accuracy[epochs] = acc;
  return acc;
}

// --- 2. Unstructured pruning --------------------------------------------------------------

// One-shot pruning: a clone of s.base pruned to `sparsity` (global magnitude), then
// fine-tuned with its masks re-applied after every step.
struct OneShot {
  std::unique_ptr<Sequential> model;
  PruningMasks masks;
  double pruned_accuracy = 0, finetuned_accuracy = 0;
};

absl::StatusOr<OneShot> PruneAndFineTune(Subject& s, const Data& data, double sparsity) {
  OneShot r;
  TT_ASSIGN_OR_RETURN(r.model, Clone(s.base.architecture, *s.base.model));
  TT_ASSIGN_OR_RETURN(
      r.masks, MagnitudePrune(*r.model, {.sparsity = sparsity, .scope = PruneScope::kGlobal}));
  TT_ASSIGN_OR_RETURN(r.pruned_accuracy, TestAccuracy(*r.model, data, s.cnn));
  std::fprintf(stderr, "fine-tuning the %s at %d%%...\n", s.name, Pct(sparsity));
  PruningMasks* masks = &r.masks;
  TT_RETURN_IF_ERROR(FineTune(*r.model, data, s.cnn, absl::GetFlag(FLAGS_finetune_epochs),
                              [masks] { masks->Apply(); }));
  TT_ASSIGN_OR_RETURN(r.finetuned_accuracy, TestAccuracy(*r.model, data, s.cnn));
  return r;
}

// Gradual pruning within the same fine-tuning budget: from 0 to `sparsity` along
// GradualSchedule's cubic over the first half of the steps (40 pruning updates), then
// the second half with the final masks.
absl::StatusOr<double> GradualAccuracy(Subject& s, const Data& data, double sparsity) {
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> model, Clone(s.base.architecture, *s.base.model));
  const int epochs = absl::GetFlag(FLAGS_finetune_epochs);
  const int64_t batches = (static_cast<int64_t>(data.train.labels.size()) + 63) / 64;
  GradualSchedule schedule;
  schedule.initial_sparsity = 0.0;
  schedule.final_sparsity = sparsity;
  schedule.begin_step = 0;
  schedule.end_step = epochs * batches / 2;
  schedule.frequency = std::max<int64_t>(1, schedule.end_step / 40);
  PruningMasks masks;
  TT_ASSIGN_OR_RETURN(std::function<void()> hook,
                      GradualPruningHook(*model, schedule, PruneScope::kGlobal, &masks));
  std::fprintf(stderr, "gradually pruning the %s to %d%%...\n", s.name, Pct(sparsity));
  TT_RETURN_IF_ERROR(FineTune(*model, data, s.cnn, epochs, hook));
  TT_CHECK(std::abs(masks.Sparsity() - sparsity) < 1e-3, "gradual pruning reached ",
           masks.Sparsity(), ", not ", sparsity);
  return TestAccuracy(*model, data, s.cnn);
}

// Prunes clones of s.base at every sparsity, one-shot and gradually, and compares with
// the dense control. Keeps the one-shot 90% fine-tuned model in *pruned90.
absl::StatusOr<Sweep> PruningSweep(Subject& s, const Data& data, tensor::FlatJson& json,
                                   std::unique_ptr<Sequential>* pruned90) {
  const int epochs = absl::GetFlag(FLAGS_finetune_epochs);
  Sweep sweep;
  sweep.name = s.name;
  sweep.title = s.cnn ? "CNN (conv 16, conv 32, fc 128)" : "MLP 784-256-128-10";
  sweep.base_accuracy = s.base_accuracy;
  sweep.finetune_epochs = epochs;
  TT_ASSIGN_OR_RETURN(sweep.control_accuracy, ControlAccuracy(s, data, epochs));
  std::vector<PruningMasks::Mask> masks90;  // for the per-layer table
  std::printf(
      "\n== %s: global magnitude pruning of the Linear/Conv2d weights; %d epoch(s) of "
      "fine-tuning (Adam %g, cosine)\n",
      s.name, epochs, absl::GetFlag(FLAGS_finetune_lr));
  std::printf("  dense: %.2f%%;  dense control, fine-tuned the same way: %.2f%%\n",
              100 * s.base_accuracy, 100 * sweep.control_accuracy);
  std::printf(
      "  one-shot: prune, then fine-tune with the masks; gradual: prune along the cubic "
      "schedule during the first half of the fine-tuning\n");
  std::printf("  %-9s %8s %12s %12s %9s %12s %9s\n", "sparsity", "kept", "no fine-tune",
              "one-shot+ft", "vs ctrl", "gradual", "vs ctrl");
  json.Add(absl::StrCat(s.name, "_dense_control_accuracy"), sweep.control_accuracy);
  for (double sparsity : kSparsities) {
    TT_ASSIGN_OR_RETURN(OneShot one, PruneAndFineTune(s, data, sparsity));
    SweepPoint p;
    p.sparsity = sparsity;
    p.total = one.masks.NumMasked();
    p.kept = p.total - one.masks.NumPruned();
    p.pruned_accuracy = one.pruned_accuracy;
    p.finetuned_accuracy = one.finetuned_accuracy;
    TT_ASSIGN_OR_RETURN(p.gradual_accuracy, GradualAccuracy(s, data, sparsity));
    const double drop = 100 * (sweep.control_accuracy - p.finetuned_accuracy);
    const double gradual_drop = 100 * (sweep.control_accuracy - p.gradual_accuracy);
    std::printf("  %7d%%  %8lld %11.2f%% %11.2f%% %9.2f %11.2f%% %9.2f\n", Pct(sparsity),
                static_cast<long long>(p.kept), 100 * p.pruned_accuracy, 100 * p.finetuned_accuracy,
                0.0 - drop, 100 * p.gradual_accuracy, 0.0 - gradual_drop);
    const std::string key = absl::StrCat(s.name, "_", Pct(sparsity));
    json.Add(key + "_pruned_accuracy", p.pruned_accuracy);
    json.Add(key + "_finetuned_accuracy", p.finetuned_accuracy);
    json.Add(key + "_finetuned_drop_points", drop);
    json.Add(key + "_gradual_accuracy", p.gradual_accuracy);
    json.Add(key + "_gradual_drop_points", gradual_drop);
    if (std::abs(sparsity - 0.9) < 1e-9) {
      masks90 = one.masks.masks();
      if (pruned90 != nullptr) *pruned90 = std::move(one.model);
    }
    sweep.points.push_back(p);
  }
  std::printf("  (vs ctrl: points above (+) or below (-) the dense control)\n");
  std::printf("  per-layer sparsity at 90%% global (one magnitude ranking over all layers):\n");
  std::printf("    %-10s %10s %10s %9s\n", "tensor", "weights", "kept", "sparsity");
  for (const PruningMasks::Mask& m : masks90) {
    const int64_t n = static_cast<int64_t>(m.keep.size());
    std::printf("    %-10s %10lld %10lld %8.1f%%\n", m.name.c_str(), static_cast<long long>(n),
                static_cast<long long>(n - m.pruned), 100.0 * m.pruned / n);
    json.Add(absl::StrCat(s.name, "_90_sparsity_", absl::StrReplaceAll(m.name, {{".", "_"}})),
             static_cast<double>(m.pruned) / n);
  }
  return sweep;
}

// --- 3. Structured pruning ----------------------------------------------------------------

Tensor TestBatch(const Data& data, bool cnn, int64_t batch) {
  std::vector<float> pixels(data.test.images.data(), data.test.images.data() + batch * 784);
  for (float& v : pixels) v = (v - tensor::kFashionMnistMean) / tensor::kFashionMnistStddev;
  return cnn ? Tensor::FromVector(pixels, {batch, 1, 28, 28})
             : Tensor::FromVector(pixels, {batch, 784});
}

// Medians (us) of `a` and `b`, each run on the "simd" (one thread) and "auto" backends,
// interleaved; returns {a_best, b_best} over the two backends and prints the four.
absl::StatusOr<std::pair<double, double>> CompareLatency(const char* a_name, tensor::Layer& a,
                                                         const char* b_name, tensor::Layer& b,
                                                         const Tensor& x, bool quick) {
  TT_ASSIGN_OR_RETURN(tensor::Backend * simd, tensor::FindBackend("simd"));
  TT_ASSIGN_OR_RETURN(tensor::Backend * autob, tensor::FindBackend("auto"));
  tensor::NoGradGuard no_grad;
  auto run = [&x](tensor::Layer& m, tensor::Backend* backend) {
    return [&m, &x, backend] {
      tensor::ScopedBackend use(backend);
      prof::KeepAlive(m.Forward(x).data());
    };
  };
  const std::vector<prof::NamedFunction> fns = {{absl::StrCat(a_name, " simd"), run(a, simd)},
                                                {absl::StrCat(a_name, " auto"), run(a, autob)},
                                                {absl::StrCat(b_name, " simd"), run(b, simd)},
                                                {absl::StrCat(b_name, " auto"), run(b, autob)}};
  const int64_t batch = x.shape()[0];
  TT_ASSIGN_OR_RETURN(std::vector<prof::Measurement> ms,
                      prof::MeasureInterleaved(fns, prof::MeasureOptions::ForReport(quick, batch == 1 ? 0.3 : 0.6)));
  double us[4];
  for (int i = 0; i < 4; ++i) us[i] = ms[i].summary.median / 1e3;
  const double best_a = std::min(us[0], us[1]), best_b = std::min(us[2], us[3]);
  std::printf("  batch %-3lld %12.1f %12.1f %12.1f %12.1f %9.2fx%s\n",
              static_cast<long long>(batch), us[0], us[1], us[2], us[3], best_a / best_b,
              ms[0].load.busy ? "  (busy machine)" : "");
  return std::make_pair(best_a, best_b);
}

absl::Status ReportStructured(Subject& cnn, const Data& data, bool quick, tensor::FlatJson& json) {
  const int epochs = absl::GetFlag(FLAGS_structured_epochs);
  StructuredOptions options;
  options.fraction = 0.5;
  options.norm = NormKind::kL1;
  options.layers = StructuredLayers::kConvOnly;
  TT_ASSIGN_OR_RETURN(StructuredResult small,
                      PruneStructured(*cnn.base.model, cnn.base.architecture, options));
  TT_ASSIGN_OR_RETURN(const double pruned_acc, TestAccuracy(*small.model, data, true));
  std::fprintf(stderr, "fine-tuning the structurally pruned CNN for %d epoch(s)...\n", epochs);
  TT_RETURN_IF_ERROR(FineTune(*small.model, data, true, epochs));
  TT_ASSIGN_OR_RETURN(const double finetuned_acc, TestAccuracy(*small.model, data, true));
  TT_ASSIGN_OR_RETURN(const double control_acc, ControlAccuracy(cnn, data, epochs));
  const double drop = 100 * (control_acc - finetuned_acc);
  const int64_t params = cnn.base.model->NumParameters(),
                small_params = small.model->NumParameters();
  std::printf(
      "\n== structured: CNN with 50%% of the conv filters removed (L1 norm), fine-tuned "
      "%d epoch(s)\n",
      epochs);
  for (const KeptUnits& k : small.kept) {
    std::printf("  layer %s: %lld -> %zu filters\n", k.layer.c_str(),
                static_cast<long long>(k.original), k.indices.size());
  }
  std::printf("  parameters %lld -> %lld (%.2fx fewer)\n", static_cast<long long>(params),
              static_cast<long long>(small_params), static_cast<double>(params) / small_params);
  std::printf(
      "  accuracy: dense %.2f%%; pruned %.2f%% before, %.2f%% after fine-tuning; "
      "dense control (+%d epochs) %.2f%%: %.2f points below it\n",
      100 * cnn.base_accuracy, 100 * pruned_acc, 100 * finetuned_acc, epochs, 100 * control_acc,
      drop);
  json.Add("structured_50_params", small_params);
  json.Add("cnn_params", params);
  json.Add("structured_50_pruned_accuracy", pruned_acc);
  json.Add("structured_50_finetuned_accuracy", finetuned_acc);
  json.Add("structured_50_control_accuracy", control_acc);
  json.Add("structured_50_drop_points", drop);

  std::printf("  latency (us, medians, interleaved; speedup = best backend vs best backend):\n");
  std::printf("  %-9s %12s %12s %12s %12s %10s\n", "", "dense simd", "dense auto", "pruned simd",
              "pruned auto", "speedup");
  cnn.base.model->Eval();
  small.model->Eval();
  for (int64_t batch : {int64_t{1}, int64_t{64}}) {
    TT_ASSIGN_OR_RETURN(auto us, CompareLatency("dense", *cnn.base.model, "pruned", *small.model,
                                                TestBatch(data, true, batch), quick));
    json.Add(absl::StrCat("cnn_latency_us_batch", batch), us.first);
    json.Add(absl::StrCat("structured_50_latency_us_batch", batch), us.second);
    json.Add(absl::StrCat("structured_50_speedup_batch", batch), us.first / us.second);
    if (batch == 64) json.Add("structured_50_speedup", us.first / us.second);
  }
  return absl::OkStatus();
}

// --- 4. Sparse kernels ----------------------------------------------------------------------

absl::Status ReportSparse(Subject& mlp, Sequential& pruned90, const Data& data, bool quick,
                          tensor::FlatJson& json) {
  std::printf(
      "\n== sparse kernel (CSR, SparseLinear) vs the accelerated dense Linear, 784 -> 256 "
      "+ ReLU, one thread\n");
  TT_ASSIGN_OR_RETURN(std::vector<SparseCrossoverRow> rows,
                      MeasureSparseCrossover(784, 256, {0.5, 0.7, 0.8, 0.9, 0.95, 0.99}, {1, 64},
                                             quick ? 0.005 : 0.3));
  std::printf("%s", FormatSparseCrossoverTable(rows).c_str());
  for (const SparseCrossoverRow& r : rows) {
    json.Add(absl::StrCat("sparse_vs_dense_", Pct(r.sparsity), "_batch", r.batch), r.speedup());
  }
  for (int64_t batch : {int64_t{1}, int64_t{64}}) {
    const double c = CrossoverSparsity(rows, batch);
    std::printf("  batch %lld: sparse is faster from %s\n", static_cast<long long>(batch),
                std::isnan(c) ? "no measured sparsity"
                              : absl::StrFormat("%.0f%% sparsity", 100 * c).c_str());
    json.Add(absl::StrCat("sparse_crossover_sparsity_batch", batch), c);
  }

  // The whole 90% MLP on sparse kernels (every Linear), against itself on dense ones.
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> sparse, Clone(mlp.base.architecture, pruned90));
  int64_t nnz = 0, weights = 0;
  for (size_t i = 0; i < sparse->size(); ++i) {
    auto* linear = dynamic_cast<tensor::Linear*>(&(*sparse)[i]);
    if (linear == nullptr) continue;
    TT_ASSIGN_OR_RETURN(std::shared_ptr<SparseLinear> kernel,
                        MakeSparseLinear(linear->weight(), linear->bias()));
    nnz += kernel->nnz();
    weights += linear->in_features() * linear->out_features();
    linear->SetKernel(kernel);
  }
  TT_ASSIGN_OR_RETURN(const double dense_acc, TestAccuracy(pruned90, data, false));
  TT_ASSIGN_OR_RETURN(const double sparse_acc, TestAccuracy(*sparse, data, false));
  std::printf(
      "  the 90%% MLP (fine-tuned), every Linear on SparseLinear: %lld of %lld weights "
      "stored; accuracy %.2f%% (dense kernels: %.2f%%)\n",
      static_cast<long long>(nnz), static_cast<long long>(weights), 100 * sparse_acc,
      100 * dense_acc);
  std::printf("  %-9s %12s %12s %12s %12s %10s\n", "", "dense simd", "dense auto", "sparse simd",
              "sparse auto", "speedup");
  pruned90.Eval();
  sparse->Eval();
  for (int64_t batch : {int64_t{1}, int64_t{64}}) {
    TT_ASSIGN_OR_RETURN(auto us, CompareLatency("dense", pruned90, "sparse", *sparse,
                                                TestBatch(data, false, batch), quick));
    json.Add(absl::StrCat("mlp_90_sparse_speedup_batch", batch), us.first / us.second);
  }
  json.Add("mlp_90_sparse_kernel_accuracy", sparse_acc);
  return absl::OkStatus();
}

// --- 5. Distillation --------------------------------------------------------------------------

struct DistillConfig {
  float temperature = 4.0f, alpha = 0.7f;
};

// "2:0.5,4:0.7" -> {T = 2, alpha = 0.5}, {T = 4, alpha = 0.7}.
absl::StatusOr<std::vector<DistillConfig>> ParseDistillConfigs(const std::string& text) {
  std::vector<DistillConfig> configs;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const std::vector<absl::string_view> tv = absl::StrSplit(part, ':');
    DistillConfig c;
    if (tv.size() != 2 || !absl::SimpleAtof(tv[0], &c.temperature) ||
        !absl::SimpleAtof(tv[1], &c.alpha) || !(c.temperature > 0) || !(c.alpha >= 0) ||
        !(c.alpha <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--distill_configs: '", part, "' is not T:alpha with T > 0 and alpha in [0, 1]"));
    }
    configs.push_back(c);
  }
  if (configs.empty()) return absl::InvalidArgumentError("--distill_configs is empty");
  return configs;
}

// The student, one per configuration, and the same student trained on the labels only:
// same initialization, same batches in the same order, same optimizer and schedule.
absl::Status ReportDistillation(Subject& cnn, const Data& data, bool quick,
                                tensor::FlatJson& json) {
  TT_ASSIGN_OR_RETURN(std::vector<DistillConfig> configs,
                      ParseDistillConfigs(absl::GetFlag(FLAGS_distill_configs)));
  const int epochs = quick ? 1 : absl::GetFlag(FLAGS_distill_epochs);
  // The student reads the CNN's (B, 1, 28, 28) batches through a Flatten.
  auto make_student = [] {
    auto s = std::make_unique<Sequential>();
    s->Add(std::make_unique<tensor::FlattenLayer>());
    s->Add(tensor::MakeMlp(tensor::MlpConfig{{784, 64, 10}}, 5));
    return s;
  };
  TT_ASSIGN_OR_RETURN(tensor::DataLoader loader,
                      tensor::DataLoader::Create(&data.train, LoaderOptions(true, 64, 3)));
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test,
                      tensor::DataLoader::Create(&data.test, LoaderOptions(true, 500)));
  const float lr = 1e-3f;
  tensor::CosineSchedule schedule({.base_lr = lr, .total_steps = epochs * loader.num_batches()});
  std::unique_ptr<Sequential> labels_only = make_student();
  {
    std::fprintf(stderr, "training the 784-64-10 MLP on the labels for %d epochs...\n", epochs);
    tensor::Adam adam(labels_only->Parameters(), {.lr = lr});
    tensor::FitOptions fit;
    fit.epochs = epochs;
    fit.schedule = &schedule;
    fit.progress = tensor::FitOptions::Progress::kNone;
    tensor::Fit(*labels_only, adam, loader, fit);
  }
  TT_ASSIGN_OR_RETURN(const double labels_acc, TestAccuracy(*labels_only, data, true));
  TT_ASSIGN_OR_RETURN(DistillEval labels_eval,
                      EvaluateDistillation(*cnn.base.model, *labels_only, test, {}));
  std::printf(
      "\n== distillation: teacher = the CNN (%lld parameters), student = MLP 784-64-10 "
      "(%lld parameters), %d epochs each (Adam 1e-3, cosine)\n",
      static_cast<long long>(cnn.base.model->NumParameters()),
      static_cast<long long>(labels_only->NumParameters()), epochs);
  std::printf("  %-30s %10s %11s %20s\n", "", "accuracy", "gain (pts)", "agrees with teacher");
  std::printf("  %-30s %9.2f%%\n", "teacher (CNN)", 100 * cnn.base_accuracy);
  std::printf("  %-30s %9.2f%% %11s %19.2f%%\n", "student, labels only", 100 * labels_acc, "",
              100 * labels_eval.agreement);
  json.Add("distill_teacher_accuracy", cnn.base_accuracy);
  json.Add("distill_labels_only_accuracy", labels_acc);
  json.Add("distill_labels_only_agreement", labels_eval.agreement);
  json.Add("distill_student_params", labels_only->NumParameters());
  for (size_t i = 0; i < configs.size(); ++i) {
    const DistillConfig& c = configs[i];
    std::unique_ptr<Sequential> student = make_student();
    DistillOptions options;
    options.temperature = c.temperature;
    options.alpha = c.alpha;
    options.epochs = epochs;
    options.schedule = &schedule;
    options.progress = DistillOptions::Progress::kNone;
    std::fprintf(stderr, "distilling the CNN into the MLP, T = %g, alpha = %g...\n", c.temperature,
                 c.alpha);
    tensor::Adam adam(student->Parameters(), {.lr = lr});
    TT_RETURN_IF_ERROR(Distill(*cnn.base.model, *student, adam, loader, options).status());
    TT_ASSIGN_OR_RETURN(const double acc, TestAccuracy(*student, data, true));
    TT_ASSIGN_OR_RETURN(DistillEval eval,
                        EvaluateDistillation(*cnn.base.model, *student, test, options));
    const double gain = 100 * (acc - labels_acc);
    std::printf("  %-30s %9.2f%% %+11.2f %19.2f%%\n",
                absl::StrFormat("distilled, T = %g, alpha = %g", c.temperature, c.alpha).c_str(),
                100 * acc, gain, 100 * eval.agreement);
    const std::string key = absl::StrFormat("distill_t%g_a%d", c.temperature,
                                            static_cast<int>(std::lround(100 * c.alpha)));
    json.Add(key + "_accuracy", acc);
    json.Add(key + "_gain_points", gain);
    json.Add(key + "_agreement", eval.agreement);
    if (i == 0) {  // the headline: the first configuration
      json.Add("distill_student_accuracy", acc);
      json.Add("distill_gain_points", gain);
      json.Add("distill_agreement", eval.agreement);
    }
  }
  return absl::OkStatus();
}

// --- 6. Pruned + int8 ---------------------------------------------------------------------------

absl::Status ReportPrunedInt8(Subject& mlp, Sequential& pruned90, const Data& data,
                              const std::string& out_dir, tensor::FlatJson& json) {
  TT_ASSIGN_OR_RETURN(tensor::DataLoader calib,
                      tensor::DataLoader::Create(&data.train, LoaderOptions(false, 64, 7)));
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test,
                      tensor::DataLoader::Create(&data.test, LoaderOptions(false, 500)));
  TT_ASSIGN_OR_RETURN(auto dense_q,
                      quant::QuantizeClassifier(*mlp.base.model, mlp.base.architecture, calib));
  TT_ASSIGN_OR_RETURN(auto pruned_q,
                      quant::QuantizeClassifier(pruned90, mlp.base.architecture, calib));
  TT_ASSIGN_OR_RETURN(const double pruned_float_acc, TestAccuracy(pruned90, data, false));

  const std::string f32_path = out_dir + "/mlp_f32.ttm", int8_path = out_dir + "/mlp_int8.ttm",
                    pruned_f32_path = out_dir + "/mlp_p90_f32.ttm",
                    path = out_dir + "/mlp_p90_int8.ttm";
  tensor::proto::Metadata meta = mlp.base.metadata;
  TT_RETURN_IF_ERROR(
      tensor::SaveClassifier(f32_path, mlp.base.architecture, *mlp.base.model, meta));
  meta.set_accuracy(pruned_float_acc);
  TT_RETURN_IF_ERROR(
      tensor::SaveClassifier(pruned_f32_path, mlp.base.architecture, pruned90, meta));
  TT_RETURN_IF_ERROR(quant::SaveQuantizedClassifier(int8_path, *dense_q, mlp.base.metadata));
  TT_ASSIGN_OR_RETURN(PrunedInt8FileStats stats, SavePrunedInt8Classifier(path, *pruned_q, meta));
  TT_ASSIGN_OR_RETURN(quant::LoadedQuantizedClassifier loaded, LoadPrunedInt8Classifier(path));
  const double int8_acc = quant::QuantizedAccuracy(*dense_q, test);
  const double acc = quant::QuantizedAccuracy(*loaded.model, test);
  const int64_t f32 = tensor::FileSize(f32_path), int8 = tensor::FileSize(int8_path), bytes = tensor::FileSize(path),
                pruned_f32 = tensor::FileSize(pruned_f32_path);
  std::printf("\n== pruned (90%%, fine-tuned) + int8 MLP: CSR int8 weights in the model file\n");
  std::printf("  %-32s %10s %9s %10s\n", "file", "bytes", "ratio", "accuracy");
  std::printf("  %-32s %10lld %8.2fx %9.2f%%\n", "f32 dense", static_cast<long long>(f32), 1.0,
              100 * mlp.base_accuracy);
  std::printf("  %-32s %10lld %8.2fx %9.2f%%\n", "f32, 90% pruned (zeros stored)",
              static_cast<long long>(pruned_f32), static_cast<double>(f32) / pruned_f32,
              100 * pruned_float_acc);
  std::printf("  %-32s %10lld %8.2fx %9.2f%%\n", "int8 dense (not pruned)",
              static_cast<long long>(int8), static_cast<double>(f32) / int8, 100 * int8_acc);
  std::printf("  %-32s %10lld %8.2fx %9.2f%%\n", "int8, 90% pruned, CSR",
              static_cast<long long>(bytes), static_cast<double>(f32) / bytes, 100 * acc);
  std::printf(
      "  %lld of %lld int8 weights nonzero (%.2f%% sparse); %d tensors CSR, %d dense  (%s)\n",
      static_cast<long long>(stats.nonzero_weights), static_cast<long long>(stats.weights),
      100 * stats.WeightSparsity(), stats.csr_tensors, stats.dense_tensors, path.c_str());
  json.Add("mlp_f32_file_bytes", f32);
  json.Add("mlp_int8_file_bytes", int8);
  json.Add("pruned_int8_file_bytes", bytes);
  json.Add("pruned_int8_size_ratio", static_cast<double>(f32) / bytes);
  json.Add("pruned_int8_vs_int8_ratio", static_cast<double>(int8) / bytes);
  json.Add("pruned_int8_accuracy", acc);
  json.Add("pruned_float_accuracy", pruned_float_acc);
  json.Add("mlp_int8_accuracy", int8_acc);
  json.Add("pruned_int8_weight_sparsity", stats.WeightSparsity());
  return absl::OkStatus();
}

absl::Status Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  // Which sections run; the models are trained (or loaded) only when one needs them.
  std::set<std::string> sections;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_sections), ',', absl::SkipEmpty())) {
    if (std::find(std::begin(kSectionNames), std::end(kSectionNames), part) ==
        std::end(kSectionNames)) {
      return absl::InvalidArgumentError(absl::StrCat("--sections: unknown section '", part,
                                                     "' (known: pruning, structured, sparse, "
                                                     "distill, int8)"));
    }
    sections.insert(std::string(part));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, int>{"epochs", absl::GetFlag(FLAGS_epochs)},
        {"finetune_epochs", absl::GetFlag(FLAGS_finetune_epochs)},
        {"structured_epochs", absl::GetFlag(FLAGS_structured_epochs)},
        {"distill_epochs", absl::GetFlag(FLAGS_distill_epochs)}}) {
    if (value < 1)
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must be >= 1, got ", value));
  }
  if (!(absl::GetFlag(FLAGS_finetune_lr) > 0)) {
    return absl::InvalidArgumentError("--finetune_lr must be > 0");
  }
  tensor::FlatJson json;
  prof::LoadMonitor load;
  load.Start();
  std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    char pattern[4096];
    std::snprintf(pattern, sizeof(pattern), "%s/tt_compression_XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(pattern) == nullptr) return absl::InternalError("cannot create a temp dir");
    out_dir = pattern;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("--out_dir ", out_dir, ": ", ec.message()));

  Data data;
  tensor::LoadOptions train_opts, test_opts;
  if (quick) {
    train_opts.limit = 2000;
    test_opts.limit = 1000;
  }
  TT_ASSIGN_OR_RETURN(data.train, tensor::LoadFashionMnist(tensor::FashionMnistDir(),
                                                           tensor::Split::kTrain, train_opts));
  TT_ASSIGN_OR_RETURN(data.test, tensor::LoadFashionMnist(tensor::FashionMnistDir(),
                                                          tensor::Split::kTest, test_opts));
  std::printf("compression report: %zu training and %zu test images%s\n", data.train.labels.size(),
              data.test.labels.size(), quick ? " (--quick: figures mean nothing)" : "");
  TT_ASSIGN_OR_RETURN(tensor::Backend * autob, tensor::FindBackend("auto"));
  tensor::ScopedBackend use_auto(autob);  // training and evaluation

  auto run = [&sections](const char* name) { return sections.count(name) > 0; };
  const bool need_mlp = run("pruning") || run("sparse") || run("int8");
  const std::string sweep_models = absl::GetFlag(FLAGS_sweep_models);
  const bool sweep_mlp = absl::StrContains(sweep_models, "mlp"),
             sweep_cnn = absl::StrContains(sweep_models, "cnn");
  if (run("pruning") && !sweep_mlp && !sweep_cnn) {
    return absl::InvalidArgumentError("--sweep_models: expected mlp, cnn or mlp,cnn");
  }
  const bool need_cnn = (run("pruning") && sweep_cnn) || run("structured") || run("distill");
  Subject mlp, cnn;
  if (need_mlp) {
    TT_ASSIGN_OR_RETURN(mlp, MakeSubject(false, data, quick, out_dir));
    std::printf("\n== float MLP: %.2f%% test accuracy\n", 100 * mlp.base_accuracy);
    json.Add("mlp_float_accuracy", mlp.base_accuracy);
  }
  if (need_cnn) {
    TT_ASSIGN_OR_RETURN(cnn, MakeSubject(true, data, quick, out_dir));
    std::printf("\n== float CNN: %.2f%% test accuracy\n", 100 * cnn.base_accuracy);
    json.Add("cnn_float_accuracy", cnn.base_accuracy);
  }

  // The one-shot 90% MLP, fine-tuned: from the sweep, or made on its own.
  std::unique_ptr<Sequential> mlp90;
  if (run("pruning")) {
    std::vector<Sweep> sweeps;
    if (sweep_mlp) {
      TT_ASSIGN_OR_RETURN(Sweep sweep, PruningSweep(mlp, data, json, &mlp90));
      sweeps.push_back(sweep);
    }
    if (sweep_cnn) {
      TT_ASSIGN_OR_RETURN(Sweep sweep, PruningSweep(cnn, data, json, nullptr));
      sweeps.push_back(sweep);
    }
    const std::string svg_path = out_dir + "/accuracy_vs_sparsity.svg";
    std::ofstream svg(svg_path);
    svg << AccuracySvg(sweeps);
    if (!svg) return absl::InternalError(absl::StrCat("cannot write ", svg_path));
    std::printf("\nchart: %s\n", svg_path.c_str());
  }
  if (mlp90 == nullptr && (run("sparse") || run("int8"))) {
    TT_ASSIGN_OR_RETURN(OneShot one, PruneAndFineTune(mlp, data, 0.9));
    mlp90 = std::move(one.model);
  }
  if (run("structured")) TT_RETURN_IF_ERROR(ReportStructured(cnn, data, quick, json));
  if (run("sparse")) TT_RETURN_IF_ERROR(ReportSparse(mlp, *mlp90, data, quick, json));
  if (run("distill")) TT_RETURN_IF_ERROR(ReportDistillation(cnn, data, quick, json));
  if (run("int8")) TT_RETURN_IF_ERROR(ReportPrunedInt8(mlp, *mlp90, data, out_dir, json));

  const prof::MachineLoad l = load.Stop();
  std::printf("machine load during the report: %s\n", l.ToString().c_str());
  json.Add("load_avg_1m", l.load_avg_1m_after);
  json.Add("machine_busy", l.busy);
  json.Add("report_seconds", l.wall_s);
  json.Add("quick", quick);
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    TT_RETURN_IF_ERROR(json.WriteFile(path));
    std::printf("figures: %s\n", path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::compress

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it comes, also into a file
  absl::Status status = tt::compress::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "compression report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
