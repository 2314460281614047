// The caching report: what the KV cache buys when generating text, measured in one run.
//
//   bazel run -c opt //caching:report -- [--json=FILE] [--quick] [--model=gpt.ttm]
//       [--out_dir=DIR] [--train_seconds=120] [--pytorch_baseline=caching/pytorch_decode_baseline.py]
//
// On the char GPT (trained here for --train_seconds with a context of 640 positions,
// unless --model is given), batch 1, greedy, one thread everywhere (the cached engine
// runs its own one-thread kernels; the uncached baseline runs tensor::Gpt::Forward on the
// "simd" backend, which is one thread):
//   1. tokens/s with and without the cache for 64, 128, 256 and 512 new tokens after a
//      32-character prompt, interleaved, and whether both wrote the same text;
//   2. per-token latency vs position, cached (flat) vs uncached (growing): a table and
//      an SVG chart (out_dir/latency_vs_position.svg);
//   3. prefill vs decode: time, tokens/s and GFLOP/s of each phase through the profiler,
//      and where an uncached step's time goes (tensor's op table);
//   4. the cache's memory: bytes per token, the whole cache, next to the weights; and an
//      int8 cache: its memory, decode speed and how far its logits move;
//   5. cached decode with int8 and int4 weight-only Linear layers, and their validation
//      loss next to the float model's;
//   6. batch 4 (prompts of different lengths) decode throughput;
//   7. a few sampled texts (out_dir/samples.txt), within the positions the model trained on;
//   8. with --pytorch_baseline: the PyTorch eager decode of the same model (run with
//      /usr/bin/python3, alternating with ours three times) and our ratio to it.
// The JSON keys are listed in caching/README.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "caching/cached_gpt.h"
#include "caching/generate.h"
#include "caching/latency_chart.h"
#include "caching/sampling.h"
#include "caching/trained_gpt.h"
#include "profiling/profiler.h"
#include "profiling/timer.h"
#include "tensor/autograd.h"
#include "tensor/backend.h"
#include "tensor/check.h"
#include "tensor/flat_json.h"
#include "tensor/instrument.h"
#include "tensor/model_io.h"

ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(bool, quick, false, "tiny budgets: checks the report runs end to end");
ABSL_FLAG(std::string, model, "", "trained GPT (.ttm); empty: train one here");
ABSL_FLAG(double, train_seconds, 120, "training budget when training the GPT here");
ABSL_FLAG(int64_t, context, 640, "context length of the GPT trained here (>= 32 + 512)");
ABSL_FLAG(std::string, out_dir, "", "where the SVG, samples and model go (default: a fresh temp dir)");
ABSL_FLAG(std::string, pytorch_baseline, "",
          "path of caching/pytorch_decode_baseline.py to compare with (needs /usr/bin/python3 "
          "with torch); relative paths are taken from the workspace under bazel run");
ABSL_FLAG(std::string, python, "/usr/bin/python3", "python for --pytorch_baseline");

namespace tt::cache {
namespace {

using prof::Measurement;
using prof::MeasureOptions;

// 32 characters: the prompt of every speed measurement.
constexpr char kPrompt[] = "Q: What is the meaning of life?\n";
constexpr int64_t kTokenCounts[] = {64, 128, 256, 512};
constexpr int64_t kPositions[] = {50, 100, 200, 300, 400, 500};

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// FLOPs of one token of the GPT at position p (it attends to p + 1 positions): the
// Linear layers 2 * 12 C^2 per block plus the head 2 C V, and the attention's two
// products 2 * 2 * (p + 1) * C per block (heads * head_dim = C).
int64_t TokenFlops(const tensor::GptConfig& c, int64_t p) {
  const int64_t d = c.d_model;
  return c.num_layers * (24 * d * d + 4 * (p + 1) * d) + 2 * d * c.vocab_size;
}

struct Context {
  explicit Context(CharCorpus c) : corpus(std::move(c)) {}
  bool quick = false;
  CharCorpus corpus;
  tensor::LoadedGpt gpt;  // f32
  std::string path;       // its file
  std::string out_dir;
  int64_t sequence_length = 0;  // training length (validation window)
  double val_loss = 0.0;
  tensor::Backend* simd = nullptr;
  tensor::FlatJson json;
  bool busy = false;
};

MeasureOptions Budget(const Context& c, int64_t min_runs, double seconds) {
  MeasureOptions o;
  o.warmup = c.quick ? 0 : 1;
  o.min_runs = c.quick ? 1 : min_runs;
  o.max_runs = c.quick ? 1 : 1000;
  o.min_time_s = c.quick ? 0.0 : seconds;
  o.max_time_s = c.quick ? 0.0 : 30.0 * seconds;
  return o;
}

GenerateOptions Greedy(int64_t new_tokens, bool use_cache) {
  GenerateOptions o;
  o.max_new_tokens = new_tokens;
  o.sampling.mode = SamplingOptions::Mode::kGreedy;
  o.use_cache = use_cache;
  return o;
}

// One generation: its text and stats, or a stopped program (the inputs were checked).
std::string Run(tensor::Gpt& gpt, const Context& c, const GenerateOptions& o, GenerateStats* s) {
  absl::StatusOr<std::vector<std::string>> out = Generate(gpt, c.corpus.text, {kPrompt}, o, s);
  TT_CHECK(out.ok(), "Generate: ", out.status().ToString());
  return (*out)[0];
}

// Per-token latency of one kind of run, as the median over runs and over the 9 steps
// around each position: smooth enough to read, and a single preempted step cannot move it.
struct LatencyCurve {
  std::vector<std::vector<double>> runs;  // token_seconds of each run
  int64_t prompt = 0;
  // Latency (seconds) of the step that runs the model at position p.
  double At(int64_t p) const {
    std::vector<double> v;
    const int64_t i = p - prompt + 1;  // token_seconds[i] runs position prompt + i - 1
    for (const auto& r : runs) {
      for (int64_t j = std::max<int64_t>(1, i - 4); j <= i + 4 && j < static_cast<int64_t>(r.size()); ++j) {
        v.push_back(r[j]);
      }
    }
    return Median(v);
  }
};

// --- 0. The model -------------------------------------------------------------------

absl::Status PrepareModel(Context& c) {
  std::string path = absl::GetFlag(FLAGS_model);
  if (path.empty()) {
    CharGptTrainOptions train;
    train.seconds = c.quick ? 2.0 : absl::GetFlag(FLAGS_train_seconds);
    train.context_length = absl::GetFlag(FLAGS_context);
    train.val_windows = c.quick ? 4 : 200;
    train.created_by = "caching/report";
    std::printf("training the char GPT (context %lld, windows of %lld) for %.0f s on backend "
                "auto...\n",
                static_cast<long long>(train.context_length),
                static_cast<long long>(std::min<int64_t>(train.context_length, 128)),
                train.seconds);
    std::fflush(stdout);
    TT_ASSIGN_OR_RETURN(TrainedCharGpt trained, TrainCharGpt(c.corpus, train));
    path = c.out_dir + "/gpt_report.ttm";
    TT_RETURN_IF_ERROR(tensor::SaveGpt(path, *trained.gpt.model, trained.gpt.metadata));
    std::printf("trained %lld steps in %.0f s (last train loss %.3f); saved %s\n",
                static_cast<long long>(trained.steps), trained.seconds, trained.train_loss,
                path.c_str());
    c.json.Add("train_steps", trained.steps);
    c.json.Add("train_seconds", trained.seconds);
  }
  c.path = path;
  TT_ASSIGN_OR_RETURN(c.gpt, LoadCharGpt(path, c.corpus));
  const tensor::GptConfig& config = c.gpt.model->config();
  c.sequence_length = RecordedSequenceLength(c.gpt.metadata);
  if (c.sequence_length == 0) c.sequence_length = std::min<int64_t>(config.context_length, 128);
  const int64_t prompt = static_cast<int64_t>(sizeof(kPrompt)) - 1;
  if (config.context_length < prompt + 512) {
    return absl::InvalidArgumentError(absl::StrCat(
        c.path, ": context length ", config.context_length, " is shorter than the ", prompt,
        "-character prompt plus 512 new tokens the report generates (train one with "
        "--context=640, or leave --model empty)"));
  }
  TT_ASSIGN_OR_RETURN(c.val_loss, CharGptValidationLoss(*c.gpt.model, c.corpus,
                                                         c.quick ? 4 : 200, c.sequence_length));
  std::printf("\n== model: %s\n  %s, trained on windows of %lld characters; validation loss "
              "%.4f nats/char (%.3f bits/char)\n",
              c.path.c_str(), c.gpt.model->Describe().c_str(),
              static_cast<long long>(c.sequence_length), c.val_loss, c.val_loss / std::log(2.0));
  std::printf("  positions past %lld were never trained: text there is not the point of the "
              "512-token row, its speed is.\n",
              static_cast<long long>(c.sequence_length));
  c.json.Add("val_loss", c.val_loss);
  c.json.Add("model_context_length", config.context_length);
  c.json.Add("train_sequence_length", c.sequence_length);
  c.json.Add("vocab_size", config.vocab_size);
  c.json.Add("prompt_tokens", prompt);
  return absl::OkStatus();
}

// --- 1 and 2. Cached vs uncached, and latency by position -----------------------------

absl::Status ReportSpeed(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  tensor::ScopedBackend use(c.simd);  // the uncached baseline: tensor ops, one thread
  std::printf("\n== tokens/s with and without the KV cache (batch 1, greedy, %zu-char prompt, "
              "one thread; medians, interleaved)\n",
              sizeof(kPrompt) - 1);
  std::printf("  %-10s %14s %14s %10s %16s %10s\n", "new tokens", "cached tok/s", "uncached tok/s",
              "speedup", "cached decode/s", "same text");
  LatencyCurve cached_curve, uncached_curve;
  cached_curve.prompt = uncached_curve.prompt = static_cast<int64_t>(sizeof(kPrompt)) - 1;
  bool all_same = true;
  double median_step_256 = 0;
  for (int64_t n : kTokenCounts) {
    std::string cached_text, uncached_text;
    std::vector<double> decode_rates, steps;
    const bool curve = n == 512;
    std::vector<prof::NamedFunction> fns = {
        {"cached", [&] {
           GenerateStats s;
           cached_text = Run(gpt, c, Greedy(n, true), &s);
           decode_rates.push_back((s.new_tokens - 1) / s.decode_seconds);
           steps.insert(steps.end(), s.token_seconds.begin() + 1, s.token_seconds.end());
           if (curve) cached_curve.runs.push_back(s.token_seconds);
         }},
        {"uncached", [&] {
           GenerateStats s;
           uncached_text = Run(gpt, c, Greedy(n, false), &s);
           if (curve) uncached_curve.runs.push_back(s.token_seconds);
         }}};
    TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms,
                        prof::MeasureInterleaved(fns, Budget(c, n >= 256 ? 3 : 5, 1.0)));
    c.busy = c.busy || ms[0].load.busy;
    const double cached = n / (ms[0].summary.median * 1e-9);
    const double uncached = n / (ms[1].summary.median * 1e-9);
    const double decode = Median(decode_rates);
    const bool same = cached_text == uncached_text;
    all_same = all_same && same;
    std::printf("  %-10lld %14.0f %14.1f %9.1fx %16.0f %10s\n", static_cast<long long>(n), cached,
                uncached, cached / uncached, decode, same ? "yes" : "NO");
    c.json.Add(absl::StrCat("cached_tokens_per_s_", n), cached);
    c.json.Add(absl::StrCat("uncached_tokens_per_s_", n), uncached);
    c.json.Add(absl::StrCat("cached_vs_uncached_", n), cached / uncached);
    c.json.Add(absl::StrCat("cached_decode_tokens_per_s_", n), decode);
    if (n == 256) {
      c.json.Add("decode_tokens_per_s_batch1", decode);
      c.json.Add("cached_tokens_per_second", decode);
      c.json.Add("decode_tokens_per_s_median_step", 1.0 / Median(steps));
      median_step_256 = 1.0 / Median(steps);
    }
  }
  std::printf("  (tokens/s = new tokens / (prefill + decode time); decode/s leaves the prefill "
              "out. Both paths are greedy: the same text means the same argmax every step.)\n"
              "  1 / the median decode step at 256 tokens: %.0f tokens/s (what a step reaches "
              "when no other process preempts it)\n",
              median_step_256);
  c.json.Add("cached_equals_uncached", all_same);

  std::printf("\n== per-token latency vs position (512 new tokens; median of the 9 steps around "
              "each position over %zu runs)\n",
              cached_curve.runs.size());
  std::printf("  %-9s %12s %14s %14s\n", "position", "cached us", "uncached us", "uncached/cached");
  for (int64_t p : kPositions) {
    const double a = cached_curve.At(p) * 1e6, b = uncached_curve.At(p) * 1e6;
    std::printf("  %-9lld %12.1f %14.1f %13.1fx\n", static_cast<long long>(p), a, b, b / a);
    c.json.Add(absl::StrCat("cached_latency_us_pos", p), a);
    c.json.Add(absl::StrCat("uncached_latency_us_pos", p), b);
  }
  const double ratio = cached_curve.At(500) / cached_curve.At(50);
  const double uratio = uncached_curve.At(500) / uncached_curve.At(50);
  std::printf("  position 500 vs 50: cached %.2fx, uncached %.2fx\n", ratio, uratio);
  c.json.Add("latency_ratio_pos500_pos50", ratio);
  c.json.Add("uncached_latency_ratio_pos500_pos50", uratio);
  LatencySeries uncached_line{"no cache: grows", "#d62728"}, cached_line{"KV cache: flat", "#1f77b4"};
  for (int64_t p = cached_curve.prompt; p < cached_curve.prompt + 512; p += 2) {
    cached_line.points.emplace_back(p, cached_curve.At(p) * 1e6);
    uncached_line.points.emplace_back(p, uncached_curve.At(p) * 1e6);
  }
  for (int64_t p : kPositions) {
    cached_line.marks.emplace_back(p, cached_curve.At(p) * 1e6);
    uncached_line.marks.emplace_back(p, uncached_curve.At(p) * 1e6);
  }
  const std::string svg_path = c.out_dir + "/latency_vs_position.svg";
  std::ofstream svg(svg_path);
  svg << LatencyChartSvg(
      {uncached_line, cached_line}, "Per-token latency vs position: char GPT, batch 1, one thread",
      absl::StrFormat("position 500 vs 50: cached %.2fx, uncached %.1fx", ratio, uratio),
      {"median of the 9 steps", "around each position,",
       absl::StrCat("over ", cached_curve.runs.size(), cached_curve.runs.size() == 1 ? " run" : " runs")});
  if (!svg.good()) return absl::InternalError(absl::StrCat("cannot write ", svg_path));
  std::printf("  chart: %s\n", svg_path.c_str());
  return absl::OkStatus();
}

// --- 3. Prefill vs decode --------------------------------------------------------------

absl::Status ReportSplit(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  const tensor::GptConfig& config = gpt.config();
  TT_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, c.corpus.text.Encode(kPrompt));
  const int64_t t = static_cast<int64_t>(prompt.size()), n = 256;
  TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> engine,
                      CachedGpt::Create(gpt, 1, config.context_length));
  std::vector<float> logits(static_cast<size_t>(engine->vocab_size()));
  int64_t prefill_flops = 0;
  for (int64_t p = 0; p < t; ++p) prefill_flops += TokenFlops(config, p);
  const int runs = c.quick ? 1 : 5;
  prof::Profiler profiler;
  for (int r = 0; r < runs; ++r) {
    engine->Reset();
    {
      tensor::OpScope scope("cached.prefill (32 tokens)", {}, prefill_flops,
                            engine->cache().BytesPerToken() * t);
      TT_RETURN_IF_ERROR(engine->PrefillInto(0, prompt, absl::MakeSpan(logits)));
    }
    for (int64_t i = 0; i + 1 < n; ++i) {
      const int32_t next = static_cast<int32_t>(
          std::max_element(logits.begin(), logits.begin() + c.corpus.text.vocab_size()) -
          logits.begin());
      const int64_t seq = 0;
      tensor::OpScope scope("cached.decode (1 token)", {}, TokenFlops(config, t + i),
                            engine->cache().BytesPerToken() * (t + i + 1));
      TT_RETURN_IF_ERROR(engine->DecodeInto(absl::MakeConstSpan(&seq, 1),
                                            absl::MakeConstSpan(&next, 1),
                                            absl::MakeSpan(logits)));
    }
  }
  profiler.Stop();
  double prefill_ns = 0, decode_ns = 0;
  int64_t decode_flops = 0;
  for (const prof::OpStats& s : profiler.Table()) {
    if (s.op.rfind("cached.prefill", 0) == 0) prefill_ns += s.total_ns;
    if (s.op.rfind("cached.decode", 0) == 0) decode_ns += s.total_ns, decode_flops += s.flops;
  }
  prefill_ns /= runs;
  decode_ns /= runs;
  decode_flops /= runs;
  std::printf("\n== prefill vs decode (cached engine, %lld-token prompt then %lld tokens, "
              "%d runs, profiler)\n%s",
              static_cast<long long>(t), static_cast<long long>(n - 1), runs,
              profiler.TableString(6).c_str());
  const double prefill_tps = t / (prefill_ns * 1e-9), decode_tps = (n - 1) / (decode_ns * 1e-9);
  std::printf("  prefill: %.0f us for %lld tokens = %.0f tokens/s, %.1f GFLOP/s\n",
              prefill_ns / 1e3, static_cast<long long>(t), prefill_tps, prefill_flops / prefill_ns);
  std::printf("  decode:  %.0f us for %lld tokens = %.0f tokens/s, %.1f GFLOP/s (one row per "
              "GEMM: bound by reading the weights, not by arithmetic)\n",
              decode_ns / 1e3, static_cast<long long>(n - 1), decode_tps, decode_flops / decode_ns);
  std::printf("  prefill is %.1f%% of the generation's time; per token it is %.1fx faster\n",
              100 * prefill_ns / (prefill_ns + decode_ns), prefill_tps / decode_tps);
  c.json.Add("prefill_us", prefill_ns / 1e3);
  c.json.Add("decode_us", decode_ns / 1e3);
  c.json.Add("prefill_tokens_per_s", prefill_tps);
  c.json.Add("prefill_gflops", prefill_flops / prefill_ns);
  c.json.Add("decode_gflops", decode_flops / decode_ns);
  c.json.Add("prefill_share_pct", 100 * prefill_ns / (prefill_ns + decode_ns));

  // Where one uncached step's time goes: the whole prefix again through tensor's ops.
  {
    tensor::ScopedBackend use(c.simd);
    tensor::NoGradGuard no_grad;
    std::vector<int32_t> prefix(static_cast<size_t>(t + n - 1));
    for (size_t i = 0; i < prefix.size(); ++i) prefix[i] = prompt[i % prompt.size()];
    prof::Profiler op_profiler;
    for (int r = 0; r < runs; ++r) {
      prof::KeepAlive(gpt.Forward(prefix, 1, static_cast<int64_t>(prefix.size())).logits.data());
    }
    op_profiler.Stop();
    std::printf("\n  one uncached step at position %zu (tensor::Gpt::Forward over the whole "
                "prefix, simd backend):\n%s",
                prefix.size() - 1, op_profiler.TableString(8).c_str());
  }
  return absl::OkStatus();
}

// --- 4. Memory ---------------------------------------------------------------------------

absl::Status ReportMemory(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  const tensor::GptConfig& config = gpt.config();
  TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> engine,
                      CachedGpt::Create(gpt, 1, config.context_length));
  const KVCache& cache = engine->cache();
  const int64_t weights = 4 * gpt.NumParameters();
  std::printf("\n== KV cache memory (float32 K and V, %lld layers x %lld heads x %lld dims)\n",
              static_cast<long long>(config.num_layers), static_cast<long long>(config.num_heads),
              static_cast<long long>(config.d_model / config.num_heads));
  std::printf("  per token: 2 x 4 B x %lld layers x %lld = %lld bytes\n",
              static_cast<long long>(config.num_layers), static_cast<long long>(config.d_model),
              static_cast<long long>(cache.BytesPerToken()));
  std::printf("  one sequence of %lld positions: %lld bytes (%.2f MB); the weights: %lld bytes "
              "(%.2f MB); engine scratch: %lld bytes\n",
              static_cast<long long>(config.context_length),
              static_cast<long long>(cache.Bytes()), cache.Bytes() / 1e6,
              static_cast<long long>(weights), weights / 1e6,
              static_cast<long long>(engine->ScratchBytes()));
  std::printf("  a full cache per sequence is %.0f%% of the weights: at batch %lld the caches "
              "outweigh the model\n",
              100.0 * cache.Bytes() / weights,
              static_cast<long long>(std::max<int64_t>(1, (weights + cache.Bytes() - 1) / cache.Bytes())));
  c.json.Add("cache_bytes_per_token", cache.BytesPerToken());
  c.json.Add("cache_bytes", cache.Bytes());
  c.json.Add("cache_max_seq_len", config.context_length);
  c.json.Add("engine_scratch_bytes", engine->ScratchBytes());
  c.json.Add("model_weight_bytes", weights);
  return absl::OkStatus();
}

// --- 4b. An int8 KV cache --------------------------------------------------------------

absl::Status ReportInt8Cache(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  const tensor::GptConfig& config = gpt.config();
  // Accuracy: both engines read the same tokens (the float one's greedy text), so the
  // logits differ only by the rounding of the cached keys and values.
  TT_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, c.corpus.text.Encode(kPrompt));
  const int64_t n = 512;
  CachedGptOptions f32_options, int8_options;
  int8_options.kv_dtype = KVDtype::kInt8;
  TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> f32,
                      CachedGpt::Create(gpt, 1, config.context_length, f32_options));
  TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> int8,
                      CachedGpt::Create(gpt, 1, config.context_length, int8_options));
  TT_ASSIGN_OR_RETURN(std::vector<float> a, f32->Prefill(0, prompt));
  TT_ASSIGN_OR_RETURN(std::vector<float> b, int8->Prefill(0, prompt));
  const int64_t vocab = c.corpus.text.vocab_size();
  double max_diff = 0;
  int64_t argmax_agree = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < vocab; ++j) max_diff = std::max<double>(max_diff, std::abs(a[j] - b[j]));
    const int32_t ta = static_cast<int32_t>(std::max_element(a.begin(), a.begin() + vocab) - a.begin());
    const int32_t tb = static_cast<int32_t>(std::max_element(b.begin(), b.begin() + vocab) - b.begin());
    argmax_agree += ta == tb;
    if (i + 1 == n) break;
    TT_ASSIGN_OR_RETURN(a, f32->Decode({0}, {ta}));
    TT_ASSIGN_OR_RETURN(b, int8->Decode({0}, {ta}));
  }
  // Speed: greedy generation of 512 tokens, interleaved.
  std::vector<std::vector<double>> rates(2);
  std::vector<LatencyCurve> curves(2);
  curves[0].prompt = curves[1].prompt = static_cast<int64_t>(prompt.size());
  std::vector<prof::NamedFunction> fns;
  for (int k = 0; k < 2; ++k) {
    fns.push_back({k == 0 ? "f32 cache" : "int8 cache", [&, k] {
                     GenerateOptions o = Greedy(n, true);
                     o.kv_dtype = k == 0 ? KVDtype::kFloat32 : KVDtype::kInt8;
                     GenerateStats s;
                     absl::StatusOr<std::vector<std::string>> out =
                         Generate(gpt, c.corpus.text, {kPrompt}, o, &s);
                     TT_CHECK(out.ok(), out.status().ToString());
                     rates[k].push_back((s.new_tokens - 1) / s.decode_seconds);
                     curves[k].runs.push_back(s.token_seconds);
                   }});
  }
  TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms, prof::MeasureInterleaved(fns, Budget(c, 3, 1.0)));
  c.busy = c.busy || ms[0].load.busy;
  const double r32 = Median(rates[0]), r8 = Median(rates[1]);
  const int64_t bytes32 = f32->cache().BytesPerToken(), bytes8 = int8->cache().BytesPerToken();
  std::printf("\n== an int8 KV cache (one scale per cached row of %lld values; %lld tokens, "
              "interleaved)\n",
              static_cast<long long>(config.d_model / config.num_heads),
              static_cast<long long>(n));
  std::printf("  %-10s %15s %14s %14s %14s %10s\n", "cache", "bytes/token", "decode tok/s",
              "us at pos 50", "us at pos 500", "500 / 50");
  for (int k = 0; k < 2; ++k) {
    const double at50 = curves[k].At(50) * 1e6, at500 = curves[k].At(500) * 1e6;
    std::printf("  %-10s %15lld %14.0f %14.1f %14.1f %9.2fx\n", k == 0 ? "float32" : "int8",
                static_cast<long long>(k == 0 ? bytes32 : bytes8), k == 0 ? r32 : r8, at50, at500,
                at500 / at50);
  }
  std::printf("  %.2fx less memory, %.2fx the decode speed; logits within %.2g of the float "
              "cache's, the same argmax at %lld of %lld steps\n",
              static_cast<double>(bytes32) / bytes8, r8 / r32, max_diff,
              static_cast<long long>(argmax_agree), static_cast<long long>(n));
  c.json.Add("int8_kv_bytes_per_token", bytes8);
  c.json.Add("int8_kv_memory_ratio", static_cast<double>(bytes32) / bytes8);
  c.json.Add("int8_kv_decode_tokens_per_s_512", r8);
  c.json.Add("f32_kv_decode_tokens_per_s_512", r32);
  c.json.Add("int8_kv_latency_ratio_pos500_pos50", curves[1].At(500) / curves[1].At(50));
  c.json.Add("int8_kv_max_logit_diff", max_diff);
  c.json.Add("int8_kv_argmax_agreement", static_cast<double>(argmax_agree) / n);
  return absl::OkStatus();
}

// --- 5. int8 / int4 weights ------------------------------------------------------------

absl::Status ReportQuantized(Context& c) {
  std::vector<tensor::LoadedGpt> models;
  const WeightFormat formats[] = {WeightFormat::kF32, WeightFormat::kInt8, WeightFormat::kInt4};
  std::vector<double> losses;
  for (WeightFormat f : formats) {
    TT_ASSIGN_OR_RETURN(tensor::LoadedGpt m, LoadCharGpt(c.path, c.corpus));
    TT_RETURN_IF_ERROR(SetWeights(*m.model, f));
    if (f == WeightFormat::kF32) {
      losses.push_back(c.val_loss);
    } else {
      TT_ASSIGN_OR_RETURN(double loss, CharGptValidationLoss(*m.model, c.corpus,
                                                             c.quick ? 4 : 200, c.sequence_length));
      losses.push_back(loss);
    }
    models.push_back(std::move(m));
  }
  const int64_t n = 256;
  std::vector<std::vector<double>> rates(3);
  std::vector<prof::NamedFunction> fns;
  for (int i = 0; i < 3; ++i) {
    fns.push_back({WeightFormatName(formats[i]), [&, i] {
                     GenerateStats s;
                     Run(*models[i].model, c, Greedy(n, true), &s);
                     rates[i].push_back((s.new_tokens - 1) / s.decode_seconds);
                   }});
  }
  TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms, prof::MeasureInterleaved(fns, Budget(c, 5, 1.0)));
  c.busy = c.busy || ms[0].load.busy;
  std::printf("\n== cached decode with weight-only quantized Linear layers (%lld new tokens, "
              "batch 1, one thread, interleaved)\n",
              static_cast<long long>(n));
  std::printf("  %-8s %14s %9s %11s %9s\n", "weights", "decode tok/s", "speedup", "val loss",
              "change");
  for (int i = 0; i < 3; ++i) {
    const double rate = Median(rates[i]), base = Median(rates[0]);
    const char* name = WeightFormatName(formats[i]);
    std::printf("  %-8s %14.0f %8.2fx %11.4f %+8.2f%%\n", name, rate, rate / base, losses[i],
                100 * (losses[i] / losses[0] - 1));
    c.json.Add(absl::StrCat(name, "_decode_tokens_per_s"), rate);
    if (i > 0) {
      c.json.Add(absl::StrCat(name, "_decode_speedup"), rate / base);
      c.json.Add(absl::StrCat(name, "_val_loss"), losses[i]);
      c.json.Add(absl::StrCat(name, "_loss_change_pct"), 100 * (losses[i] / losses[0] - 1));
    }
  }
  std::printf("  (int8: one scale per output channel; int4: blocks of 64 weights; embeddings, "
              "LayerNorms and the KV cache stay f32)\n");
  return absl::OkStatus();
}

// --- 6. Batch 4 ----------------------------------------------------------------------------

absl::Status ReportBatch(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  const std::vector<std::string> prompts = {kPrompt, "The ", "Once upon a time, ",
                                            "Q: How many programmers does it take?\nA: "};
  const int64_t n = 128;
  std::vector<double> batch_rates, single_rates;
  std::vector<prof::NamedFunction> fns = {
      {"batch 4", [&] {
         GenerateStats s;
         absl::StatusOr<std::vector<std::string>> out =
             Generate(gpt, c.corpus.text, prompts, Greedy(n, true), &s);
         TT_CHECK(out.ok(), out.status().ToString());
         batch_rates.push_back((s.new_tokens - static_cast<int64_t>(prompts.size())) /
                               s.decode_seconds);
       }},
      {"batch 1", [&] {
         GenerateStats s;
         Run(gpt, c, Greedy(n, true), &s);
         single_rates.push_back((s.new_tokens - 1) / s.decode_seconds);
       }}};
  TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms, prof::MeasureInterleaved(fns, Budget(c, 5, 1.0)));
  c.busy = c.busy || ms[0].load.busy;
  const double b4 = Median(batch_rates), b1 = Median(single_rates);
  std::printf("\n== batch 4, prompts of 4 to 42 characters, %lld new tokens each: %.0f decode "
              "tokens/s over the batch, %.2fx batch 1's %.0f\n",
              static_cast<long long>(n), b4, b4 / b1, b1);
  c.json.Add("batch4_decode_tokens_per_s", b4);
  c.json.Add("batch4_vs_batch1", b4 / b1);
  return absl::OkStatus();
}

// --- 7. Samples ------------------------------------------------------------------------------

// Written with the engine and a Sampler directly (what Generate does inside), with the
// engine's window set to the length the model trained on: the re-based sliding window
// then keeps every position the model sees within the trained ones, however long the
// text gets.
absl::Status ReportSamples(Context& c) {
  tensor::Gpt& gpt = *c.gpt.model;
  const std::vector<std::string> prompts = {"Q: Why did the chicken cross the road?\nA: ",
                                            "The computer ", "Love is "};
  const int64_t window = std::min(c.sequence_length, gpt.config().context_length);
  const int64_t max_new = c.quick ? 40 : 300;
  const std::string stop = "\n%\n";  // the fortune files' separator line
  TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> engine,
                      CachedGpt::Create(gpt, 1, window, CacheFullPolicy::kSlidingWindow));
  const int64_t vocab = c.corpus.text.vocab_size();
  std::printf("\n== samples (top-p 0.9, temperature 0.8, up to %lld characters, until a "
              "fortune ends; window %lld: re-based every %lld tokens)\n",
              static_cast<long long>(max_new), static_cast<long long>(window),
              static_cast<long long>(window - SlidingWindowKeep(window, 1)));
  std::string all;
  int64_t chars = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingOptions so;
    so.mode = SamplingOptions::Mode::kTopP;
    so.temperature = 0.8f;
    so.top_p = 0.9f;
    so.seed = 7 + i;
    TT_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(so));
    TT_ASSIGN_OR_RETURN(std::vector<int32_t> ids, c.corpus.text.Encode(prompts[i]));
    engine->Reset();
    TT_ASSIGN_OR_RETURN(std::vector<float> logits, engine->Prefill(0, ids));
    std::string text;
    for (int64_t k = 0; k < max_new; ++k) {
      const int32_t next = sampler.Next(logits.data(), vocab);
      text += c.corpus.text.vocabulary()[next];
      if (text.size() >= stop.size() && text.compare(text.size() - stop.size(), stop.size(), stop) == 0) {
        text.resize(text.size() - stop.size());
        break;
      }
      TT_ASSIGN_OR_RETURN(logits, engine->Decode({0}, {next}));
    }
    chars += static_cast<int64_t>(text.size());
    const std::string full = prompts[i] + text;
    absl::StrAppend(&all, full, "\n----\n");
    std::printf("  | %s\n  ----\n", absl::StrReplaceAll(full, {{"\n", "\n  | "}}).c_str());
  }
  const std::string path = c.out_dir + "/samples.txt";
  std::ofstream f(path);
  f << all;
  if (!f.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
  c.json.Add("sample_chars", chars);
  return absl::OkStatus();
}

// --- 8. PyTorch eager ------------------------------------------------------------------------

struct PytorchFigures {
  double decode = 0;       // pytorch_cached_decode_tokens_per_s
  double median_step = 0;  // pytorch_decode_tokens_per_s_median_step
};

absl::StatusOr<double> JsonNumber(const std::string& text, const std::string& key,
                                  const std::string& path) {
  const std::string quoted = absl::StrCat("\"", key, "\":");
  const size_t at = text.find(quoted);
  if (at == std::string::npos) return absl::DataLossError(absl::StrCat(path, ": no ", key));
  const size_t begin = at + quoted.size(), end = text.find_first_of(",}\n", begin);
  double v = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(text.substr(begin, end - begin)), &v)) {
    return absl::DataLossError(absl::StrCat(path, ": ", key, " is not a number"));
  }
  return v;
}

absl::StatusOr<PytorchFigures> RunPytorch(const std::string& script, const std::string& out_json) {
  const std::string cmd = absl::StrCat(absl::GetFlag(FLAGS_python), " '", script,
                                       "' --no_uncached --repeats=5 --new_tokens=256 --prompt_len=",
                                       sizeof(kPrompt) - 1, " --json='", out_json, "' >/dev/null");
  if (std::system(cmd.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("the PyTorch baseline failed: ", cmd));
  }
  std::ifstream f(out_json);
  std::stringstream text;
  text << f.rdbuf();
  PytorchFigures out;
  TT_ASSIGN_OR_RETURN(out.decode,
                      JsonNumber(text.str(), "pytorch_cached_decode_tokens_per_s", out_json));
  TT_ASSIGN_OR_RETURN(out.median_step,
                      JsonNumber(text.str(), "pytorch_decode_tokens_per_s_median_step", out_json));
  return out;
}

absl::Status ReportPytorch(Context& c) {
  std::string script = absl::GetFlag(FLAGS_pytorch_baseline);
  if (script.empty()) return absl::OkStatus();
  if (script[0] != '/' && std::getenv("BUILD_WORKSPACE_DIRECTORY") != nullptr) {
    script = absl::StrCat(std::getenv("BUILD_WORKSPACE_DIRECTORY"), "/", script);
  }
  tensor::Gpt& gpt = *c.gpt.model;
  std::vector<double> ours, ours_step, theirs, theirs_step;
  for (int round = 0; round < 3; ++round) {
    std::vector<double> rates, steps;
    for (int r = 0; r < 5; ++r) {
      GenerateStats s;
      Run(gpt, c, Greedy(256, true), &s);
      rates.push_back((s.new_tokens - 1) / s.decode_seconds);
      steps.insert(steps.end(), s.token_seconds.begin() + 1, s.token_seconds.end());
    }
    ours.push_back(Median(rates));
    ours_step.push_back(1.0 / Median(steps));
    TT_ASSIGN_OR_RETURN(PytorchFigures t, RunPytorch(script, c.out_dir + "/pytorch_decode.json"));
    theirs.push_back(t.decode);
    theirs_step.push_back(t.median_step);
  }
  const double a = Median(ours), b = Median(theirs);
  const double as = Median(ours_step), bs = Median(theirs_step);
  std::printf("\n== vs PyTorch eager (the same GPT with its own KV cache, batch 1, one thread, "
              "256 tokens; 3 alternating rounds of 5 generations each)\n"
              "  decode tokens/s:          ours %6.0f, PyTorch %6.0f: %.2fx\n"
              "  1 / median decode step:   ours %6.0f, PyTorch %6.0f: %.2fx\n",
              a, b, a / b, as, bs, as / bs);
  c.json.Add("pytorch_decode_tokens_per_s", b);
  c.json.Add("decode_vs_pytorch", a / b);
  c.json.Add("pytorch_decode_tokens_per_s_median_step", bs);
  c.json.Add("decode_vs_pytorch_median_step", as / bs);
  return absl::OkStatus();
}

absl::Status Main() {
  TT_ASSIGN_OR_RETURN(CharCorpus corpus, LoadCharCorpus());
  Context c(std::move(corpus));
  c.quick = absl::GetFlag(FLAGS_quick);
  const auto start = std::chrono::steady_clock::now();
  prof::LoadMonitor load;
  load.Start();
  c.out_dir = absl::GetFlag(FLAGS_out_dir);
  if (c.out_dir.empty()) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    char pattern[4096];
    std::snprintf(pattern, sizeof(pattern), "%s/tt_caching_XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(pattern) == nullptr) return absl::InternalError("cannot create a temp dir");
    c.out_dir = pattern;
  }
  std::error_code ec;
  std::filesystem::create_directories(c.out_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--out_dir ", c.out_dir, ": ", ec.message()));
  }
  TT_ASSIGN_OR_RETURN(c.simd, tensor::FindBackend("simd"));
  std::printf("caching report%s: out_dir %s\n", c.quick ? " (--quick: plumbing only)" : "",
              c.out_dir.c_str());
  TT_RETURN_IF_ERROR(PrepareModel(c));
  TT_RETURN_IF_ERROR(ReportSpeed(c));
  TT_RETURN_IF_ERROR(ReportSplit(c));
  TT_RETURN_IF_ERROR(ReportMemory(c));
  TT_RETURN_IF_ERROR(ReportInt8Cache(c));
  TT_RETURN_IF_ERROR(ReportQuantized(c));
  TT_RETURN_IF_ERROR(ReportBatch(c));
  TT_RETURN_IF_ERROR(ReportSamples(c));
  TT_RETURN_IF_ERROR(ReportPytorch(c));

  const prof::MachineLoad l = load.Stop();
  std::printf("\nmachine load during the report: %s%s\n", l.ToString().c_str(),
              c.busy ? " (a measurement was flagged BUSY)" : "");
  c.json.Add("load_avg_1m", l.load_avg_1m_after);
  c.json.Add("machine_busy", l.busy || c.busy);
  c.json.Add("quick", c.quick);
  c.json.Add("report_seconds",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    TT_RETURN_IF_ERROR(c.json.WriteFile(path));
    std::printf("figures: %s\n", path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::cache

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::cache::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "caching report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
