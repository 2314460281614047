// The quantization report: what int8 buys on the course's models, measured in one run.
//
//   bazel run -c opt //quantization:report -- [--json=FILE] [--quick]
//       [--mlp_model=mlp.ttm --cnn_model=cnn.ttm] [--gpt_model=gpt.ttm] [--out_dir=DIR]
//
// For the MLP and the CNN (trained here unless float model files are given):
//   - float vs int8 test accuracy on the full Fashion-MNIST test set, for every
//     calibration observer;
//   - float vs int8 model file sizes;
//   - batch-1 and batch-64 latency: int8 vs the accelerated float model (simd, one
//     thread, and auto), interleaved with the profiling Timer;
// then own int8 GEMM vs own f32 GEMM vs XNNPACK qs8 at 256/512/1024 (one thread), and
// for the character GPT: int8 and int4 weight-only sizes and validation loss.
// The JSON keys are listed in quantization/README.md.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "acceleration/cpu_features.h"
#include "profiling/profiler.h"
#include "profiling/timer.h"
#include "quantization/gemm_compare.h"
#include "quantization/gpt_quantize.h"
#include "quantization/weight_only.h"
#include "quantization/int8_isa.h"
#include "quantization/quantized_model.h"
#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/char_dataset.h"
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
ABSL_FLAG(std::string, gpt_model, "", "trained float GPT (.ttm); empty: train one here");
ABSL_FLAG(int, epochs, 4, "epochs when training the float MLP/CNN here");
ABSL_FLAG(double, gpt_train_seconds, 90, "training budget when training the GPT here");
ABSL_FLAG(std::string, observer, "minmax", "calibration observer of the headline int8 models");
ABSL_FLAG(std::string, out_dir, "", "where the model files go (default: a fresh temp dir)");

namespace tt::quant {
namespace {

using prof::Measurement;
using prof::MeasureOptions;
using tensor::Tensor;

struct Data {
  tensor::Dataset train, test;
};

tensor::DataLoader::Options LoaderOptions(bool cnn, int64_t batch) {
  tensor::DataLoader::Options o;
  o.batch_size = batch;
  o.mean = tensor::kFashionMnistMean;
  o.stddev = tensor::kFashionMnistStddev;
  if (cnn) o.example_shape = {1, 28, 28};
  return o;
}

// The float model: loaded from --mlp_model/--cnn_model, or trained here on the
// accelerated backend.
absl::StatusOr<tensor::LoadedClassifier> FloatModel(bool cnn, const Data& data, bool quick) {
  const std::string path = absl::GetFlag(cnn ? FLAGS_cnn_model : FLAGS_mlp_model);
  if (!path.empty()) return tensor::LoadClassifier(path);
  tensor::LoadedClassifier out;
  out.architecture =
      cnn ? tensor::ToArchitecture(tensor::CnnConfig{}) : tensor::ToArchitecture(tensor::MlpConfig{});
  TT_ASSIGN_OR_RETURN(out.model, tensor::BuildClassifier(out.architecture, 1));
  tensor::DataLoader::Options o = LoaderOptions(cnn, 64);
  o.order = tensor::DataLoader::Order::kShuffled;
  o.seed = 1;
  TT_ASSIGN_OR_RETURN(tensor::DataLoader loader, tensor::DataLoader::Create(&data.train, o));
  const int epochs = quick ? 1 : absl::GetFlag(FLAGS_epochs);
  tensor::Adam adam(out.model->Parameters(), {.lr = 1e-3f});
  tensor::CosineSchedule schedule({.base_lr = 1e-3f, .total_steps = epochs * loader.num_batches()});
  tensor::FitOptions fit;
  fit.epochs = epochs;
  fit.schedule = &schedule;
  fit.progress = tensor::FitOptions::Progress::kNone;
  std::fprintf(stderr, "training the float %s for %d epochs...\n", cnn ? "CNN" : "MLP", epochs);
  tensor::Fit(*out.model, adam, loader, fit, nullptr);
  out.metadata.set_dataset("fashion-mnist");
  out.metadata.set_seed(1);
  out.metadata.set_epochs(epochs);
  out.metadata.set_created_by("quantization/report");
  return out;
}

absl::Status ReportClassifier(bool cnn, const Data& data, const std::string& out_dir, bool quick,
                              tensor::FlatJson& json, double* size_ratio) {
  const char* name = cnn ? "cnn" : "mlp";
  TT_ASSIGN_OR_RETURN(tensor::Backend * simd, tensor::FindBackend("simd"));
  TT_ASSIGN_OR_RETURN(tensor::Backend * autob, tensor::FindBackend("auto"));
  tensor::ScopedBackend use_auto(autob);
  TT_ASSIGN_OR_RETURN(tensor::LoadedClassifier f, FloatModel(cnn, data, quick));
  f.model->Eval();
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test,
                      tensor::DataLoader::Create(&data.test, LoaderOptions(cnn, 500)));
  const double float_acc = tensor::Evaluate(*f.model, test).accuracy;
  f.metadata.set_accuracy(float_acc);

  // Calibration: 32 batches of 64 training images (2048), a fixed shuffled sample.
  tensor::DataLoader::Options co = LoaderOptions(cnn, 64);
  co.order = tensor::DataLoader::Order::kShuffled;
  co.seed = 7;
  TT_ASSIGN_OR_RETURN(tensor::DataLoader calib, tensor::DataLoader::Create(&data.train, co));

  std::printf("\n== %s: float test accuracy %.2f%% (%zu test images)\n", name, 100 * float_acc,
              data.test.labels.size());
  std::printf("  %-12s %10s %10s\n", "observer", "int8 acc", "change");
  const std::string headline = absl::GetFlag(FLAGS_observer);
  std::unique_ptr<QuantizedClassifier> q;
  double int8_acc = 0;
  for (const std::string observer : {"minmax", "ema", "percentile", "mse"}) {
    QuantizeOptions qo;
    qo.observer = observer;
    TT_ASSIGN_OR_RETURN(auto model, QuantizeClassifier(*f.model, f.architecture, calib, qo));
    const double acc = QuantizedAccuracy(*model, test);
    std::printf("  %-12s %9.2f%% %+9.2f\n", observer.c_str(), 100 * acc, 100 * (acc - float_acc));
    json.Add(absl::StrCat(name, "_int8_accuracy_", observer), acc);
    if (observer == headline) {
      q = std::move(model);
      int8_acc = acc;
    }
  }
  if (q == nullptr) return absl::InvalidArgumentError("--observer: unknown observer " + headline);
  std::printf("%s", q->Summary().c_str());
  json.Add(absl::StrCat(name, "_float_accuracy"), float_acc);
  json.Add(absl::StrCat(name, "_int8_accuracy"), int8_acc);
  json.Add(absl::StrCat(name, "_accuracy_drop_points"), 100 * (float_acc - int8_acc));

  // Files.
  const std::string float_path = absl::StrCat(out_dir, "/", name, "_f32.ttm");
  const std::string int8_path = absl::StrCat(out_dir, "/", name, "_int8.ttm");
  TT_RETURN_IF_ERROR(tensor::SaveClassifier(float_path, f.architecture, *f.model, f.metadata));
  tensor::proto::Metadata qmeta = f.metadata;
  qmeta.set_accuracy(int8_acc);
  TT_RETURN_IF_ERROR(SaveQuantizedClassifier(int8_path, *q, qmeta));
  TT_ASSIGN_OR_RETURN(LoadedQuantizedClassifier reloaded, LoadQuantizedClassifier(int8_path));
  const int64_t fsize = tensor::FileSize(float_path), qsize = tensor::FileSize(int8_path);
  std::printf("  files: float %lld bytes, int8 %lld bytes: %.2fx smaller  (%s)\n",
              static_cast<long long>(fsize), static_cast<long long>(qsize),
              static_cast<double>(fsize) / qsize, int8_path.c_str());
  json.Add(absl::StrCat(name, "_f32_file_bytes"), fsize);
  json.Add(absl::StrCat(name, "_int8_file_bytes"), qsize);
  json.Add(absl::StrCat(name, "_int8_size_ratio"), static_cast<double>(fsize) / qsize);
  *size_ratio = static_cast<double>(fsize) / qsize;

  // Latency, float (simd 1 thread, auto) vs int8, interleaved.
  tensor::NoGradGuard no_grad;
  std::printf("  %-9s %14s %14s %14s %10s\n", "latency", "float simd us", "float auto us",
              "int8 us", "speedup");
  for (int64_t batch : {int64_t{1}, int64_t{64}}) {
    const int64_t features = 784;
    std::vector<float> pixels(data.test.images.data(),
                              data.test.images.data() + batch * features);
    for (float& v : pixels) v = (v - tensor::kFashionMnistMean) / tensor::kFashionMnistStddev;
    const Tensor x = cnn ? Tensor::FromVector(pixels, {batch, 1, 28, 28})
                         : Tensor::FromVector(pixels, {batch, features});
    std::vector<prof::NamedFunction> fns = {
        {"float simd", [&] { tensor::ScopedBackend b(simd); prof::KeepAlive(f.model->Forward(x).data()); }},
        {"float auto", [&] { tensor::ScopedBackend b(autob); prof::KeepAlive(f.model->Forward(x).data()); }},
        {"int8", [&] { prof::KeepAlive(reloaded.model->Forward(x).data()); }},
    };
    TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms,
                        prof::MeasureInterleaved(fns, prof::MeasureOptions::ForReport(quick, batch == 1 ? 0.3 : 0.6)));
    const double fs = ms[0].summary.median / 1e3, fa = ms[1].summary.median / 1e3,
                 qi = ms[2].summary.median / 1e3;
    const double speedup = std::min(fs, fa) / qi;  // against the faster float backend
    std::printf("  batch %-3lld %14.1f %14.1f %14.1f %9.2fx\n", static_cast<long long>(batch), fs,
                fa, qi, speedup);
    json.Add(absl::StrCat(name, "_float_simd_latency_us_batch", batch), fs);
    json.Add(absl::StrCat(name, "_float_auto_latency_us_batch", batch), fa);
    json.Add(absl::StrCat(name, "_int8_latency_us_batch", batch), qi);
    json.Add(absl::StrCat(name, "_int8_latency_speedup_batch", batch), speedup);
    if (cnn) {  // where the int8 time goes (the int8 ops report through OpScope)
      prof::Profiler profiler;
      for (int i = 0; i < 50; ++i) prof::KeepAlive(reloaded.model->Forward(x).data());
      profiler.Stop();
      std::printf("    int8 CNN ops at batch %lld:\n%s", static_cast<long long>(batch),
                  profiler.TableString(8).c_str());
    }
  }
  return absl::OkStatus();
}

absl::Status ReportGemm(bool quick, tensor::FlatJson& json) {
  std::printf("\n== int8 GEMM vs f32 GEMM vs XNNPACK qs8 (square, one thread, packing excluded)\n");
  std::printf("  %-6s %12s %12s %12s %10s %12s\n", "size", "int8 GOP/s", "f32 GFLOP/s",
              "xnn qs8", "int8/f32", "int8/xnn");
  for (int64_t size : {int64_t{256}, int64_t{512}, int64_t{1024}}) {
    const Int8GemmFigures g = CompareInt8Gemm(size, quick ? 0.02 : 0.4);
    std::printf("  %-6lld %12.1f %12.1f %12.1f %9.2fx %11.2fx  (%s)\n",
                static_cast<long long>(size), g.int8_gops, g.f32_gflops, g.xnnpack_qs8_gops,
                g.int8_gops / g.f32_gflops, g.int8_gops / g.xnnpack_qs8_gops, g.kernel);
    json.Add(absl::StrCat("int8_gemm_gops_", size), g.int8_gops);
    json.Add(absl::StrCat("f32_gemm_gflops_", size), g.f32_gflops);
    json.Add(absl::StrCat("xnnpack_qs8_gops_", size), g.xnnpack_qs8_gops);
    json.Add(absl::StrCat("int8_vs_f32_gemm_", size), g.int8_gops / g.f32_gflops);
    json.Add(absl::StrCat("int8_vs_xnnpack_qs8_", size), g.int8_gops / g.xnnpack_qs8_gops);
  }
  return absl::OkStatus();
}

// The GPT: weight-only int8 (per output channel) and int4 (blocks of 64 and of 32
// consecutive weights, one float scale each): weight bytes and validation loss.
absl::Status ReportGpt(const std::string& out_dir, bool quick, tensor::FlatJson& json) {
  TT_ASSIGN_OR_RETURN(tensor::CharDataset corpus,
                      tensor::CharDataset::LoadFortunes(tensor::FortunesDir()));
  TT_ASSIGN_OR_RETURN(tensor::CharDatasetSplit split, corpus.Split(0.1));
  std::string float_path = absl::GetFlag(FLAGS_gpt_model);
  if (float_path.empty()) {
    TT_ASSIGN_OR_RETURN(tensor::Backend * autob, tensor::FindBackend("auto"));
    tensor::ScopedBackend use(autob);
    tensor::GptConfig config;
    config.vocab_size = corpus.vocab_size();
    GptTrainOptions train;
    train.max_seconds = quick ? 1.0 : absl::GetFlag(FLAGS_gpt_train_seconds);
    std::fprintf(stderr, "training the GPT for %.0f s...\n", train.max_seconds);
    TT_ASSIGN_OR_RETURN(GptTrainResult trained, TrainGpt(config, split.train, train));
    float_path = out_dir + "/gpt_f32.ttm";
    tensor::proto::Metadata meta;
    meta.set_dataset("fortunes");
    meta.set_created_by("quantization/report");
    (*meta.mutable_notes())["train_steps"] = std::to_string(trained.steps);
    TT_RETURN_IF_ERROR(tensor::SaveGpt(float_path, *trained.model, meta));
    std::printf("\n== GPT: trained %lld steps in %.0f s (last train loss %.3f)\n",
                static_cast<long long>(trained.steps), trained.seconds, trained.last_loss);
    json.Add("gpt_train_steps", trained.steps);
  } else {
    std::printf("\n== GPT: %s\n", float_path.c_str());
  }
  ValidationLossOptions vo;
  vo.window = 128;
  const int64_t windows = quick ? 4 : 200;
  TT_ASSIGN_OR_RETURN(tensor::LoadedGpt base, tensor::LoadGpt(float_path));
  TT_ASSIGN_OR_RETURN(const double float_loss,
                      GptValidationLoss(*base.model, split.validation.ids(), windows, vo));
  const int64_t float_file = tensor::FileSize(float_path);
  std::printf("  validation: %lld windows of %lld chars from the last 10%% of the text\n",
              static_cast<long long>(windows), static_cast<long long>(vo.window));
  std::printf("  %-18s %14s %9s %12s %11s %10s\n", "weights", "Linear bytes", "ratio",
              "file bytes", "val loss", "change");
  std::printf("  %-18s %14s %9s %12lld %11.4f\n", "f32", "", "1.00x",
              static_cast<long long>(float_file), float_loss);
  json.Add("gpt_float_val_loss", float_loss);
  json.Add("gpt_f32_file_bytes", float_file);
  struct Variant {
    const char* key;   // JSON key part and file name
    const char* label;
    WeightScheme scheme;
    int block_size;
  };
  for (const Variant& v : {Variant{"int8", "int8 per channel", WeightScheme::kInt8PerChannel, 32},
                           Variant{"int4", "int4 blocks of 64", WeightScheme::kInt4Block, 64},
                           Variant{"int4_b32", "int4 blocks of 32", WeightScheme::kInt4Block, 32}}) {
    TT_ASSIGN_OR_RETURN(tensor::LoadedGpt loaded, tensor::LoadGpt(float_path));
    WeightOnlyOptions options;
    options.scheme = v.scheme;
    options.block_size = v.block_size;
    TT_ASSIGN_OR_RETURN(WeightOnlyReport r, QuantizeGptWeights(*loaded.model, options));
    const std::string path = absl::StrCat(out_dir, "/gpt_", v.key, ".ttm");
    TT_RETURN_IF_ERROR(SaveQuantizedGpt(path, *loaded.model, base.metadata));
    // Measured on the reloaded file: what a user of the saved model gets.
    TT_ASSIGN_OR_RETURN(tensor::LoadedGpt reloaded, LoadQuantizedGpt(path));
    TT_ASSIGN_OR_RETURN(const double loss,
                        GptValidationLoss(*reloaded.model, split.validation.ids(), windows, vo));
    const double ratio = static_cast<double>(r.float_weight_bytes) / r.quantized_weight_bytes;
    std::printf("  %-18s %14lld %8.2fx %12lld %11.4f %+9.2f%%\n", v.label,
                static_cast<long long>(r.quantized_weight_bytes), ratio,
                static_cast<long long>(tensor::FileSize(path)), loss, 100 * (loss / float_loss - 1));
    json.Add(absl::StrCat("gpt_", v.key, "_val_loss"), loss);
    json.Add(absl::StrCat("gpt_", v.key, "_loss_change_pct"), 100 * (loss / float_loss - 1));
    json.Add(absl::StrCat("gpt_", v.key, "_file_bytes"), tensor::FileSize(path));
    json.Add(absl::StrCat(v.key, "_weight_size_ratio"), ratio);
    if (std::string(v.key) == "int4") json.Add("int4_size_ratio", ratio);  // the headline
  }
  std::printf("  (Linear bytes: the quantized weights plus one float scale per channel or "
              "block; embeddings and LayerNorms stay f32 in the files)\n");
  return absl::OkStatus();
}

absl::Status Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  tensor::FlatJson json;
  prof::LoadMonitor load;
  load.Start();
  std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    char pattern[4096];
    std::snprintf(pattern, sizeof(pattern), "%s/tt_quantization_XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(pattern) == nullptr) return absl::InternalError("cannot create a temp dir");
    out_dir = pattern;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--out_dir ", out_dir, ": ", ec.message()));
  std::printf("quantization report: int8 kernel %s, CPU %s VNNI\n",
              Int8KernelName(ActiveInt8Kernel()), HasAvx512Vnni() ? "with" : "without");
  json.Add("int8_kernel", Int8KernelName(ActiveInt8Kernel()));

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
  double mlp_ratio = 0, cnn_ratio = 0;
  TT_RETURN_IF_ERROR(ReportClassifier(false, data, out_dir, quick, json, &mlp_ratio));
  TT_RETURN_IF_ERROR(ReportClassifier(true, data, out_dir, quick, json, &cnn_ratio));
  TT_RETURN_IF_ERROR(ReportGemm(quick, json));
  TT_RETURN_IF_ERROR(ReportGpt(out_dir, quick, json));
  // The headline size ratios: the smaller of the two classifiers' int8 file ratios, and
  // the GPT's int4 weight ratio (blocks of 64).
  json.Add("int8_size_ratio", std::min(mlp_ratio, cnn_ratio));

  const prof::MachineLoad l = load.Stop();
  std::printf("\nmachine load during the report: %s\n", l.ToString().c_str());
  json.Add("load_avg_1m", l.load_avg_1m_after);
  json.Add("machine_busy", l.busy);
  json.Add("quick", quick);
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    TT_RETURN_IF_ERROR(json.WriteFile(path));
    std::printf("figures: %s\n", path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::quant

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::quant::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "quantization report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
