// The weight-only numbers, measured interleaved on one thread:
//   1. the GPT's Linear shapes at M = 1 (decoding one token): f32 GEMM (acceleration's
//      GemmPacked, the best one-thread f32 path) vs int8 vs int4 weights;
//   2. rows 1..256 on one shape: GEMV vs dequantize-and-GEMM (kWeightOnlyGemvMaxRows*),
//      next to the f32 GEMM;
//   3. one cached decode step of the default GPT (past of 64 positions) on the "simd"
//      backend: f32 vs int8 vs int4 Linear layers;
//   4. weight bytes of the default GptConfig, and file sizes;
//   5. with --train_seconds=S: trains the GPT on the fortunes text for S seconds and
//      reports its validation loss float vs int8 vs int4.
//
//   bazel run //quantization:weight_only_report -- --train_seconds=60
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "profiling/timer.h"
#include "quantization/gpt_quantize.h"
#include "quantization/weight_only.h"
#include "tensor/backend.h"
#include "tensor/char_dataset.h"
#include "tensor/check.h"
#include "tensor/file_io.h"
#include "tensor/idx_reader.h"
#include "tensor/model_io.h"

ABSL_FLAG(double, train_seconds, 0.0,
          "train the GPT on the fortunes text this long and compare validation losses (0: skip)");
ABSL_FLAG(int64_t, val_windows, 200, "validation windows (of the context length) to evaluate");
ABSL_FLAG(int64_t, train_batch, 16, "training batch size (windows)");
ABSL_FLAG(int64_t, train_length, 128, "training window length (characters)");
ABSL_FLAG(double, train_lr, 3e-3, "peak learning rate (AdamW, cosine decay)");
ABSL_FLAG(bool, speed, true, "measure the kernels and the decode step (false: sizes and losses only)");
ABSL_FLAG(double, max_time_s, 2.0, "time budget per interleaved measurement");

namespace tt::quant {
namespace {

using tensor::Activation;
using tensor::Tensor;

constexpr int kCallsPerSample = 20;  // GEMV calls are ~1 us: time a loop of them

WeightOnlyOptions Options(WeightScheme scheme) {
  WeightOnlyOptions o;
  o.scheme = scheme;
  return o;
}

prof::MeasureOptions Measuring() {
  prof::MeasureOptions m;
  m.warmup = 20;
  m.min_runs = 50;
  m.max_runs = 20000;
  m.min_time_s = 0.5;
  m.max_time_s = absl::GetFlag(FLAGS_max_time_s);
  return m;
}

// Medians in microseconds per call, in the order of `fns`.
std::vector<double> MedianUs(const std::vector<prof::NamedFunction>& fns, int calls,
                             bool* busy) {
  absl::StatusOr<std::vector<prof::Measurement>> ms = prof::MeasureInterleaved(fns, Measuring());
  TT_CHECK(ms.ok(), ms.status().ToString());
  std::vector<double> out;
  for (const prof::Measurement& m : *ms) out.push_back(m.summary.median / 1e3 / calls);
  *busy = *busy || (*ms)[0].load.busy;
  return out;
}

void GemvTable(bool* busy) {
  std::printf("\n## Linear layers at M = 1 (one token), one thread, %s, interleaved\n\n",
              accel::IsaName(accel::ActiveIsa()));
  std::printf("| K x N | f32 GEMM us | int8 us | int4 us | int8 speedup | int4 speedup |\n");
  std::printf("|---|---|---|---|---|---|\n");
  double f32_sum = 0, int8_sum = 0, int4_sum = 0;
  for (auto [k, n] : {std::pair{128, 384}, {128, 128}, {128, 512}, {512, 128}, {128, 96}}) {
    tensor::Rng rng(1);
    Tensor w = Tensor::Uniform({k, n}, rng, -0.1f, 0.1f);
    Tensor x = Tensor::Uniform({1, k}, rng, -1.0f, 1.0f);
    std::vector<float> y(static_cast<size_t>(n));
    auto int8 = *MakeWeightOnlyLinear(w, Tensor(), Options(WeightScheme::kInt8PerChannel));
    auto int4 = *MakeWeightOnlyLinear(w, Tensor(), Options(WeightScheme::kInt4Block));
    accel::GemmArgs g;
    g.m = 1;
    g.n = n;
    g.k = k;
    g.a = x.data();
    g.lda = k;
    g.b = w.data();
    g.ldb = n;
    g.c = y.data();
    g.ldc = n;
    const accel::Isa isa = accel::ActiveIsa();
    auto loop = [&](auto fn) {
      return [fn, &y] {
        for (int i = 0; i < kCallsPerSample; ++i) fn();
        prof::KeepAlive(y[0]);
      };
    };
    const std::vector<double> us = MedianUs(
        {{"f32", loop([&] { accel::GemmPacked(g, isa); })},
         {"int8", loop([&] { int8->Run(x.data(), 1, y.data(), Activation::kNone); })},
         {"int4", loop([&] { int4->Run(x.data(), 1, y.data(), Activation::kNone); })}},
        kCallsPerSample, busy);
    f32_sum += us[0];
    int8_sum += us[1];
    int4_sum += us[2];
    std::printf("| %d x %d | %.3f | %.3f | %.3f | %.2fx | %.2fx |\n", k, n, us[0], us[1], us[2],
                us[0] / us[1], us[0] / us[2]);
  }
  std::printf("| all five | %.3f | %.3f | %.3f | %.2fx | %.2fx |\n", f32_sum, int8_sum, int4_sum,
              f32_sum / int8_sum, f32_sum / int4_sum);
}

void RowsTable(bool* busy) {
  std::printf("\n## GEMV vs dequantize + f32 GEMM by rows, 128 x 512, us per call (the "
              "GEMMs are GemmFast: two threads from 12 MFLOP)\n\n");
  std::printf("| M | int8 GEMV | int8 dequant+GEMM | int4 GEMV | int4 dequant+GEMM | f32 GEMM |\n");
  std::printf("|---|---|---|---|---|---|\n");
  const int64_t k = 128, n = 512;
  tensor::Rng rng(2);
  Tensor w = Tensor::Uniform({k, n}, rng, -0.1f, 0.1f);
  auto int8 = *MakeWeightOnlyLinear(w, Tensor(), Options(WeightScheme::kInt8PerChannel));
  auto int4 = *MakeWeightOnlyLinear(w, Tensor(), Options(WeightScheme::kInt4Block));
  for (int64_t m : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
    Tensor x = Tensor::Uniform({m, k}, rng, -1.0f, 1.0f);
    std::vector<float> y(static_cast<size_t>(m * n));
    accel::GemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = x.data();
    g.lda = k;
    g.b = w.data();
    g.ldb = n;
    g.c = y.data();
    g.ldc = n;
    auto run = [&](const WeightOnlyLinear* q, WeightOnlyPath path) {
      return [&, q, path] {
        q->Run(x.data(), m, y.data(), Activation::kNone, path);
        prof::KeepAlive(y[0]);
      };
    };
    const std::vector<double> us = MedianUs(
        {{"int8 gemv", run(int8.get(), WeightOnlyPath::kGemv)},
         {"int8 gemm", run(int8.get(), WeightOnlyPath::kDequantGemm)},
         {"int4 gemv", run(int4.get(), WeightOnlyPath::kGemv)},
         {"int4 gemm", run(int4.get(), WeightOnlyPath::kDequantGemm)},
         {"f32", [&] {
            accel::GemmFast(g);
            prof::KeepAlive(y[0]);
          }}},
        1, busy);
    std::printf("| %lld | %.3f | %.3f | %.3f | %.3f | %.3f |\n", static_cast<long long>(m), us[0],
                us[1], us[2], us[3], us[4]);
  }
}

void DecodeTable(bool* busy) {
  tensor::GptConfig config;
  std::printf("\n## One cached decode step of the default GPT (d_model %lld, %lld layers, "
              "past 64), backend simd, one thread\n\n",
              static_cast<long long>(config.d_model), static_cast<long long>(config.num_layers));
  tensor::Gpt f32(config, 1), int8(config, 1), int4(config, 1);
  TT_CHECK(QuantizeGptWeights(int8, Options(WeightScheme::kInt8PerChannel)).ok(), "int8");
  TT_CHECK(QuantizeGptWeights(int4, Options(WeightScheme::kInt4Block)).ok(), "int4");
  tensor::NoGradGuard no_grad;
  f32.Eval();
  std::vector<int32_t> prompt(64);
  for (int i = 0; i < 64; ++i) prompt[i] = (i * 7) % static_cast<int>(config.vocab_size);
  auto past_f32 = f32.Forward(prompt, 1, 64).present;
  auto past_int8 = int8.Forward(prompt, 1, 64).present;
  auto past_int4 = int4.Forward(prompt, 1, 64).present;
  const std::vector<double> us = MedianUs(
      {{"f32", [&] { prof::KeepAlive(f32.Forward({5}, 1, 1, &past_f32).logits.data()[0]); }},
       {"int8", [&] { prof::KeepAlive(int8.Forward({5}, 1, 1, &past_int8).logits.data()[0]); }},
       {"int4", [&] { prof::KeepAlive(int4.Forward({5}, 1, 1, &past_int4).logits.data()[0]); }}},
      1, busy);
  std::printf("| weights | us per token | tokens/s | speedup |\n|---|---|---|---|\n");
  const char* names[] = {"f32", "int8", "int4"};
  for (int i = 0; i < 3; ++i) {
    std::printf("| %s | %.1f | %.0f | %.2fx |\n", names[i], us[i], 1e6 / us[i], us[0] / us[i]);
  }
}

// Quantizes copies of `model_path`'s GPT, prints bytes, and (with `val`) losses.
void SizesAndLosses(const std::string& model_path, const std::vector<int32_t>* val,
                    int64_t window = 0) {
  ValidationLossOptions validation;
  validation.window = window;
  const std::string dir = std::filesystem::temp_directory_path().string();
  std::printf("\n| weights | Linear weight bytes | ratio | file bytes | file ratio |%s\n",
              val != nullptr ? " val loss (nats/char) | change |" : "");
  std::printf("|---|---|---|---|---|%s\n", val != nullptr ? "---|---|" : "");
  auto loaded = tensor::LoadGpt(model_path);
  TT_CHECK(loaded.ok(), loaded.status().ToString());
  const int64_t f32_file = tensor::FileSize(model_path);
  double f32_loss = 0;
  if (val != nullptr) {
    f32_loss = *GptValidationLoss(*loaded->model, *val, absl::GetFlag(FLAGS_val_windows), validation);
  }
  int64_t f32_bytes = 0;
  std::vector<std::string> rows;
  std::vector<WeightOnlyOptions> variants = {Options(WeightScheme::kInt8PerChannel)};
  for (int bs : {32, 64, 128}) {
    variants.push_back(Options(WeightScheme::kInt4Block));
    variants.back().block_size = bs;
  }
  for (const WeightOnlyOptions& options : variants) {
    const bool int8 = options.scheme == WeightScheme::kInt8PerChannel;
    auto gpt = tensor::LoadGpt(model_path);
    WeightOnlyReport r = *QuantizeGptWeights(*gpt->model, options);
    f32_bytes = r.float_weight_bytes;
    const std::string path = absl::StrCat(
        dir, "/wo_report_", int8 ? std::string("int8") : absl::StrCat("int4_", options.block_size),
        ".ttm");
    TT_CHECK(SaveQuantizedGpt(path, *gpt->model, gpt->metadata).ok(), "save");
    auto back = LoadQuantizedGpt(path);
    TT_CHECK(back.ok(), back.status().ToString());
    std::string row = absl::StrFormat(
        "| %s | %lld | %.2fx smaller | %lld | %.2fx smaller |",
        int8 ? std::string("int8 per channel")
             : absl::StrCat("int4 blocks of ", options.block_size),
        static_cast<long long>(r.quantized_weight_bytes),
        static_cast<double>(r.float_weight_bytes) / r.quantized_weight_bytes,
        static_cast<long long>(tensor::FileSize(path)), static_cast<double>(f32_file) / tensor::FileSize(path));
    if (val != nullptr) {
      const double loss = *GptValidationLoss(*back->model, *val, absl::GetFlag(FLAGS_val_windows),
                                            validation);
      absl::StrAppendFormat(&row, " %.4f | %+.4f |", loss, loss - f32_loss);
    }
    rows.push_back(row);
    std::filesystem::remove(path);
  }
  std::printf("| f32 | %lld | 1x | %lld | 1x |", static_cast<long long>(f32_bytes),
              static_cast<long long>(f32_file));
  if (val != nullptr) std::printf(" %.4f | |", f32_loss);
  std::printf("\n");
  for (const std::string& row : rows) std::printf("%s\n", row.c_str());
}

int Main() {
  tensor::ScopedBackend simd(*tensor::FindBackend("simd"));
  if (absl::GetFlag(FLAGS_speed)) {
    bool busy = false;
    GemvTable(&busy);
    RowsTable(&busy);
    DecodeTable(&busy);
    if (busy) std::printf("\nBUSY MACHINE: other processes ran during the measurements\n");
  }

  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string fresh = dir + "/wo_report_f32.ttm";
  tensor::GptConfig config;
  {
    tensor::Gpt gpt(config, 1);
    TT_CHECK(tensor::SaveGpt(fresh, gpt, {}).ok(), "save");
  }
  std::printf("\n## Weight bytes of the default GptConfig (vocab %lld, d_model %lld, %lld "
              "layers)\n",
              static_cast<long long>(config.vocab_size), static_cast<long long>(config.d_model),
              static_cast<long long>(config.num_layers));
  SizesAndLosses(fresh, nullptr);
  std::filesystem::remove(fresh);

  const double seconds = absl::GetFlag(FLAGS_train_seconds);
  if (seconds <= 0) return 0;
  auto corpus = tensor::CharDataset::LoadFortunes(tensor::FortunesDir());
  TT_CHECK(corpus.ok(), corpus.status().ToString());
  auto split = corpus->Split(0.1);
  TT_CHECK(split.ok(), split.status().ToString());
  config.vocab_size = corpus->vocab_size();
  GptTrainOptions train;
  train.max_seconds = seconds;
  train.batch_size = absl::GetFlag(FLAGS_train_batch);
  train.sequence_length = absl::GetFlag(FLAGS_train_length);
  train.learning_rate = static_cast<float>(absl::GetFlag(FLAGS_train_lr));
  auto trained = TrainGpt(config, split->train, train);
  TT_CHECK(trained.ok(), trained.status().ToString());
  std::printf("\n## Trained %lld steps in %.1f s on fortunes (%lld chars, vocab %d), last train "
              "loss %.3f\n",
              static_cast<long long>(trained->steps), trained->seconds,
              static_cast<long long>(split->train.size()), corpus->vocab_size(),
              trained->last_loss);
  const std::string path = dir + "/wo_report_trained.ttm";
  TT_CHECK(tensor::SaveGpt(path, *trained->model, {}).ok(), "save");
  std::printf("validation: %lld windows of %lld chars (the training length) from the last 10%% "
              "of the text\n",
              static_cast<long long>(absl::GetFlag(FLAGS_val_windows)),
              static_cast<long long>(train.sequence_length));
  SizesAndLosses(path, &split->validation.ids(), train.sequence_length);
  std::filesystem::remove(path);
  return 0;
}

}  // namespace
}  // namespace tt::quant

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tt::quant::Main();
}
