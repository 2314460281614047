// A quick check of the core's speed and of the int8 KV cache, one thread. The full
// report with charts and JSON is //caching:report.
//
//   bazel run //caching:decode_speed                 # tokens/s cached vs uncached for 64,
//                                                    # 128, 256 new tokens and decode latency
//                                                    # by position, interleaved (uncached on
//                                                    # the "simd" backend; pass another name)
//   bazel run //caching:decode_speed -- loop 20 f32 int8 1024
//                                                    # a bare decode loop (rounds, weights
//                                                    # f32|int8|int4, KV f32|int8, context):
//                                                    # tokens/s and latency by position
//   bazel run //caching:decode_speed -- kvacc /tmp/gpt.ttm 30 128
//                                                    # int8 vs float32 KV on a trained model:
//                                                    # validation loss, logits, memory
//
// Speed does not depend on the weights, so the first two use untrained ones.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "caching/cached_gpt.h"
#include "caching/generate.h"
#include "profiling/timer.h"
#include "quantization/gpt_quantize.h"
#include "tensor/backend.h"
#include "tensor/char_dataset.h"
#include "tensor/check.h"
#include "tensor/idx_reader.h"
#include "tensor/model_io.h"
#include "tensor/models.h"

namespace {

using tt::cache::GenerateOptions;
using tt::cache::GenerateStats;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Prefill 1 token, decode context - 1, `rounds` times: the loop to look at under a
// profiler. Arguments after "loop": rounds, weights (f32, int8, int4), kv (f32, int8),
// context length.
int DecodeLoop(int argc, char** argv) {
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 100;
  const std::string weights = argc > 3 ? argv[3] : "f32";
  const std::string kv = argc > 4 ? argv[4] : "f32";
  tt::tensor::GptConfig config;
  if (argc > 5) config.context_length = std::atoi(argv[5]);
  tt::tensor::Gpt gpt(config, 1);
  if (weights != "f32") {
    tt::quant::WeightOnlyOptions wo;
    wo.scheme = weights == "int4" ? tt::quant::WeightScheme::kInt4Block
                                  : tt::quant::WeightScheme::kInt8PerChannel;
    TT_CHECK(tt::quant::QuantizeGptWeights(gpt, wo).ok(), "quantize");
  }
  tt::cache::CachedGptOptions options;
  options.kv_dtype = kv == "int8" ? tt::cache::KVDtype::kInt8 : tt::cache::KVDtype::kFloat32;
  const int64_t n = config.context_length;
  auto engine = tt::cache::CachedGpt::Create(gpt, 1, n, options);
  TT_CHECK(engine.ok(), engine.status().ToString());
  std::vector<float> logits(96);
  int32_t token = 5;
  std::vector<double> step_seconds(static_cast<size_t>(n), 0.0);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    (*engine)->Reset();
    TT_CHECK((*engine)->PrefillInto(0, std::vector<int32_t>{token}, absl::MakeSpan(logits)).ok(),
             "prefill");
    for (int64_t i = 1; i < n; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      TT_CHECK((*engine)
                   ->DecodeInto(std::vector<int64_t>{0}, std::vector<int32_t>{token},
                                absl::MakeSpan(logits))
                   .ok(),
               "decode");
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                                   logits.begin());
      step_seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("weights %s, kv %s, context %lld: %d x %lld tokens: %.0f tokens/s (%.1f us per "
              "token)\n",
              weights.c_str(), kv.c_str(), static_cast<long long>(n), rounds,
              static_cast<long long>(n), rounds * n / s, s / (rounds * n) * 1e6);
  for (int64_t p : {int64_t{16}, int64_t{50}, n / 2, n - 12}) {
    // Mean over 8 neighbouring positions and all rounds.
    double sum = 0.0;
    for (int64_t i = p - 4; i < p + 4; ++i) sum += step_seconds[i];
    std::printf("  position %4lld: %6.1f us\n", static_cast<long long>(p), sum / (8 * rounds) * 1e6);
  }
  return 0;
}

// The int8 KV cache's effect on a trained model: teacher-forced next-character loss on
// `windows` validation windows of `length` characters with a float32 and an int8 cache,
// the largest logit difference and how often the argmax agrees.
// Arguments after "kvacc": model file, windows, length.
int KvAccuracy(int argc, char** argv) {
  TT_CHECK(argc > 2, "kvacc needs a model file");
  auto loaded = tt::tensor::LoadGpt(argv[2]);
  TT_CHECK(loaded.ok(), loaded.status().ToString());
  tt::tensor::Gpt& gpt = *loaded->model;
  const int64_t windows = argc > 3 ? std::atoi(argv[3]) : 20;
  const int64_t length = argc > 4 ? std::atoi(argv[4]) : 128;
  auto corpus = tt::tensor::CharDataset::LoadFortunes(tt::tensor::FortunesDir());
  TT_CHECK(corpus.ok(), corpus.status().ToString());
  TT_CHECK(corpus->vocab_size() <= gpt.config().vocab_size, "vocabulary");
  auto split = corpus->Split(0.1);
  TT_CHECK(split.ok(), split.status().ToString());
  const std::vector<int32_t>& ids = split->validation.ids();
  const int64_t v = gpt.config().vocab_size;
  std::unique_ptr<tt::cache::CachedGpt> engines[2];
  for (int e = 0; e < 2; ++e) {
    tt::cache::CachedGptOptions options;
    options.kv_dtype = e == 0 ? tt::cache::KVDtype::kFloat32 : tt::cache::KVDtype::kInt8;
    engines[e] = std::move(tt::cache::CachedGpt::Create(gpt, 1, length, options)).value();
  }
  double loss[2] = {0.0, 0.0};
  float worst = 0.0f;
  int64_t agree = 0, count = 0;
  std::vector<float> logits[2] = {std::vector<float>(v), std::vector<float>(v)};
  for (int64_t w = 0; w < windows; ++w) {
    const int64_t start =
        w * (static_cast<int64_t>(ids.size()) - length - 1) / std::max<int64_t>(1, windows - 1);
    for (int e = 0; e < 2; ++e) engines[e]->Reset();
    for (int64_t t = 0; t < length; ++t) {
      for (int e = 0; e < 2; ++e) {
        const absl::Status status =
            t == 0 ? engines[e]->PrefillInto(0, std::vector<int32_t>{ids[start]},
                                             absl::MakeSpan(logits[e]))
                   : engines[e]->DecodeInto(std::vector<int64_t>{0},
                                            std::vector<int32_t>{ids[start + t]},
                                            absl::MakeSpan(logits[e]));
        TT_CHECK(status.ok(), status.ToString());
        // Cross-entropy of the next character, log-sum-exp in double.
        double max = logits[e][0], sum = 0.0;
        for (float x : logits[e]) max = std::max(max, static_cast<double>(x));
        for (float x : logits[e]) sum += std::exp(x - max);
        loss[e] += max + std::log(sum) - logits[e][ids[start + t + 1]];
      }
      for (int64_t i = 0; i < v; ++i) worst = std::max(worst, std::fabs(logits[0][i] - logits[1][i]));
      agree += std::max_element(logits[0].begin(), logits[0].end()) - logits[0].begin() ==
               std::max_element(logits[1].begin(), logits[1].end()) - logits[1].begin();
      ++count;
    }
  }
  std::printf("%s: %lld validation windows of %lld characters, teacher-forced\n", argv[2],
              static_cast<long long>(windows), static_cast<long long>(length));
  std::printf("  loss float32 KV %.4f nats/char, int8 KV %.4f (%+.4f)\n", loss[0] / count,
              loss[1] / count, (loss[1] - loss[0]) / count);
  std::printf("  largest logit difference %.4f, argmax agreement %.2f%%\n", worst,
              100.0 * agree / count);
  std::printf("  cache bytes per token: float32 %lld, int8 %lld (%.2fx smaller)\n",
              static_cast<long long>(engines[0]->cache().BytesPerToken()),
              static_cast<long long>(engines[1]->cache().BytesPerToken()),
              static_cast<double>(engines[0]->cache().BytesPerToken()) /
                  engines[1]->cache().BytesPerToken());
  return 0;
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "loop") return DecodeLoop(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "kvacc") return KvAccuracy(argc, argv);
  const std::string backend_name = argc > 1 ? argv[1] : "simd";
  auto backend = tt::tensor::FindBackend(backend_name);
  TT_CHECK(backend.ok(), backend.status().ToString());
  tt::tensor::ScopedBackend use(*backend);

  tt::tensor::Gpt gpt(tt::tensor::GptConfig{}, 1);
  for (auto& [name, p] : gpt.NamedParameters()) p.set_requires_grad(false);
  // A tokenizer over the 96 ids: '\n' and the printable ASCII characters.
  std::string chars = "\n";
  for (char c = ' '; c <= '~'; ++c) chars += c;
  auto vocab = tt::tensor::CharDataset::FromText(chars);
  TT_CHECK(vocab.ok() && vocab->vocab_size() == 96, "tokenizer");
  // One prompt token, so 256 new tokens fit the context of 256 (255 are fed back).
  const std::vector<std::string> prompt = {"T"};

  const std::vector<int64_t> lengths = {64, 128, 256};
  std::vector<tt::prof::NamedFunction> functions;
  std::vector<std::vector<double>> steps(257);  // cached 256: step seconds by position
  for (int64_t n : lengths) {
    for (bool cached : {true, false}) {
      functions.push_back({absl::StrCat(cached ? "cached " : "uncached ", n), [&, n, cached] {
                             GenerateOptions options;
                             options.max_new_tokens = n;
                             options.use_cache = cached;
                             GenerateStats stats;
                             auto out = tt::cache::Generate(gpt, *vocab, prompt, options, &stats);
                             TT_CHECK(out.ok() && (*out)[0].size() == static_cast<size_t>(n),
                                      out.status().ToString());
                             if (cached && n == 256) {
                               // token_seconds[i], i >= 1: the step at position i.
                               for (size_t i = 1; i < stats.token_seconds.size(); ++i) {
                                 steps[i].push_back(stats.token_seconds[i]);
                               }
                             }
                           }});
    }
  }
  tt::prof::MeasureOptions options;
  options.warmup = 1;
  options.min_runs = 5;
  options.max_runs = 15;
  options.min_time_s = 1.0;
  options.max_time_s = 60.0;
  auto measured = tt::prof::MeasureInterleaved(functions, options);
  TT_CHECK(measured.ok(), measured.status().ToString());

  std::printf("Generate, default GptConfig (vocab 96, d_model 128, 4 heads, 4 layers, "
              "context 256), batch 1, greedy, one thread; uncached on backend '%s'\n",
              backend_name.c_str());
  std::printf("%s\n\n", (*measured)[0].load.ToString().c_str());
  std::printf("%-10s %14s %14s %10s\n", "new tokens", "cached tok/s", "uncached tok/s",
              "speedup");
  for (size_t i = 0; i < lengths.size(); ++i) {
    const double cached = (*measured)[2 * i].summary.median * 1e-9;
    const double uncached = (*measured)[2 * i + 1].summary.median * 1e-9;
    std::printf("%-10lld %14.0f %14.0f %9.1fx\n", static_cast<long long>(lengths[i]),
                lengths[i] / cached, lengths[i] / uncached, uncached / cached);
  }
  std::printf("\nCached decode step latency by position (median over %zu runs of 256 tokens):\n",
              steps[16].size());
  const double base = Median(steps[16]);
  for (int p : {16, 64, 128, 200, 250}) {
    const double s = Median(steps[p]);
    std::printf("  position %3d: %7.1f us  (%.2fx position 16)\n", p, s * 1e6, s / base);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
