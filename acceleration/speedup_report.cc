// The acceleration module's report: the GEMM ladder, XNNPACK, threads, contention, and
// what it all does for the reference models, every ratio measured side by side in one
// run with the profiling module's timer.
//
//   bazel run -c opt //acceleration:speedup_report -- --json=/tmp/acceleration.json
//
// --quick shrinks every budget and skips the full training epochs (the report's test).
// --sections=models (or any of ladder,smallm,contention,models,training) runs only those parts,
// e.g. to re-measure the batch-1 latencies without the ten-minute rest.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "acceleration/backends.h"
#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "acceleration/internal/gemm_packed_internal.h"
#include "acceleration/thread_pool.h"
#include "acceleration/xnnpack_gemm.h"
#include "profiling/roofline.h"
#include "profiling/timer.h"
#include "tensor/check.h"
#include "tensor/data_loader.h"
#include "tensor/flat_json.h"
#include "tensor/idx_reader.h"
#include "tensor/models.h"
#include "tensor/ops.h"
#include "tensor/optim.h"
#include "tensor/train.h"

ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(bool, quick, false, "tiny budgets, no full epochs: checks the report runs");
ABSL_FLAG(bool, contention, true, "also measure GEMM while a competing process runs");
ABSL_FLAG(std::string, sections, "ladder,smallm,contention,models,training",
          "comma-separated parts to run: ladder, smallm, contention, models, training");

namespace tt::accel {
namespace {

using prof::KeepAlive;
using prof::Measurement;
using prof::MeasureOptions;
using tensor::Tensor;

MeasureOptions Budget(bool quick, double seconds) {
  MeasureOptions o;
  o.warmup = quick ? 0 : 2;
  o.min_runs = quick ? 1 : 5;
  o.max_runs = quick ? 2 : 2000;
  o.min_time_s = quick ? 0.0 : seconds;
  o.max_time_s = quick ? 1.0 : 20.0 * seconds;
  return o;
}

double Median(const std::vector<Measurement>& ms, size_t i) { return ms[i].summary.median; }

// One square (or model-shaped) GEMM problem with its buffers.
struct Problem {
  std::string name;
  int64_t m, n, k;
  std::vector<float> a, b, c;
  Problem(std::string label, int64_t m_, int64_t n_, int64_t k_)
      : name(std::move(label)), m(m_), n(n_), k(k_), a(m_ * k_), b(k_ * n_), c(m_ * n_) {
    tensor::Rng rng(1);
    for (float& v : a) v = rng.Uniform(-1, 1);
    for (float& v : b) v = rng.Uniform(-1, 1);
  }
  GemmArgs Args() {
    GemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = a.data();
    g.lda = k;
    g.b = b.data();
    g.ldb = n;
    g.c = c.data();
    g.ldc = n;
    return g;
  }
  double flops() const { return 2.0 * m * n * k; }
};

struct LadderRow {
  double naive = 0, ikj = 0, blocked = 0, packed = 0, threaded = 0, xnn1 = 0, xnn2 = 0;  // GFLOP/s
};

absl::StatusOr<LadderRow> MeasureLadder(Problem& p, bool quick, bool with_naive,
                                        ThreadPool* pool, pthreadpool_t xnn_pool) {
  const double budget = p.flops() > 5e8 ? 0.5 : 0.2;
  std::vector<prof::NamedFunction> fns;
  if (with_naive) fns.push_back({"naive", [&] { GemmNaive(p.Args()); }});
  fns.push_back({"ikj", [&] { GemmIkj(p.Args()); }});
  fns.push_back({"blocked", [&] { GemmBlocked(p.Args()); }});
  fns.push_back({"packed", [&] { GemmPacked(p.Args(), ActiveIsa()); }});
  fns.push_back({"threaded", [&] { GemmThreaded(p.Args(), ActiveIsa(), pool); }});
  // XNNPACK with B as pinned weights: packed once, as a layer's weights would be.
  auto fc = XnnpackFullyConnected::Create(p.b.data(), nullptr, p.k, p.n);
  if (fc.ok()) {
    fns.push_back({"xnnpack1", [&] { TT_CHECK((*fc)->Run(p.a.data(), p.m, p.c.data(), nullptr).ok(), "xnnpack"); }});
    fns.push_back({"xnnpack2", [&] { TT_CHECK((*fc)->Run(p.a.data(), p.m, p.c.data(), xnn_pool).ok(), "xnnpack"); }});
  }
  MeasureOptions o = Budget(quick, budget);
  if (with_naive && p.flops() > 1e9) {  // naive 1024: seconds per call; a few runs
    o.min_runs = quick ? 1 : 3;
    o.min_time_s = 0;
  }
  TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms, prof::MeasureInterleaved(fns, o));
  LadderRow row;
  size_t i = 0;
  auto gflops = [&](size_t j) { return p.flops() / Median(ms, j); };
  if (with_naive) row.naive = gflops(i++);
  row.ikj = gflops(i++);
  row.blocked = gflops(i++);
  row.packed = gflops(i++);
  row.threaded = gflops(i++);
  if (fc.ok()) {
    row.xnn1 = gflops(i++);
    row.xnn2 = gflops(i++);
  }
  return row;
}

// The batch-1 layers of the reference models (and the row-count crossover) through
// GemmSmallM, against the packed path it replaced for them, the i-k-j rung, tensor's
// reference GEMM and XNNPACK (weights packed once); one thread, interleaved.
absl::Status MeasureSmallM(bool quick, tensor::FlatJson& json) {
  std::printf("\n== small M (batch-1 layers), one thread: GFLOP/s, and B's bytes / time in GB/s\n");
  std::printf("%-22s %8s %8s %8s %9s %8s %9s %9s\n", "layer", "small-M", "packed", "ikj",
              "reference", "xnnpack", "small/xnn", "B GB/s");
  struct Layer {
    const char* name;
    int64_t m, n, k;
    const char* key;  // JSON key, or nullptr
  };
  const Layer layers[] = {
      {"mlp fc1 1x784x256", 1, 256, 784, "smallm_gflops_mlp_fc1"},
      {"mlp fc2 1x256x128", 1, 128, 256, nullptr},
      {"mlp fc3 1x128x10", 1, 10, 128, nullptr},
      {"cnn fc1 1x1568x128", 1, 128, 1568, "smallm_gflops_cnn_fc1"},
      {"4x784x256", 4, 256, 784, nullptr},
      {"7x784x256", 7, 256, 784, nullptr},
  };
  const Isa isa = ActiveIsa();
  const internal::Blocking bl = internal::DefaultBlocking(internal::UkernelFor(isa));
  for (const Layer& l : layers) {
    Problem p(l.name, l.m, l.n, l.k);
    std::vector<prof::NamedFunction> fns = {
        {"small-M", [&] { GemmSmallM(p.Args(), isa); }},
        {"packed", [&] { internal::GemmPackedWithBlocking(p.Args(), isa, bl); }},
        {"ikj", [&] { GemmIkj(p.Args()); }},
        {"reference", [&] {
           tensor::ReferenceBackend().Gemm(tensor::Trans::kNo, tensor::Trans::kNo, p.m, p.n, p.k,
                                           1.0f, p.a.data(), p.k, p.b.data(), p.n, 0.0f,
                                           p.c.data(), p.n);
         }},
    };
    auto fc = XnnpackFullyConnected::Create(p.b.data(), nullptr, p.k, p.n);
    if (fc.ok()) {
      fns.push_back({"xnnpack", [&] {
                       TT_CHECK((*fc)->Run(p.a.data(), p.m, p.c.data(), nullptr).ok(), "xnnpack");
                     }});
    }
    TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms,
                        prof::MeasureInterleaved(fns, Budget(quick, 0.2)));
    auto gflops = [&](size_t i) { return p.flops() / Median(ms, i); };
    const double xnn = fc.ok() ? gflops(4) : 0.0;
    std::printf("%-22s %8.1f %8.1f %8.1f %9.1f %8.1f %8.2fx %9.1f\n", l.name, gflops(0), gflops(1),
                gflops(2), gflops(3), xnn, xnn > 0 ? gflops(0) / xnn : 0.0,
                4.0 * p.k * p.n / Median(ms, 0));
    if (l.key != nullptr) {
      json.Add(l.key, gflops(0));
      if (xnn > 0) json.Add(absl::StrCat(l.key, "_vs_xnnpack"), gflops(0) / xnn);
    }
  }
  // Where packing starts to pay: M rows against the 784x256 weights, and the CNN's
  // convolution GEMMs (filters x patches) at batch 1 and 64.
  std::printf("\nGemmSmallM / packed time ratio (< 1: small-M faster); M x N x K\n");
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<Shape> shapes;
  for (int64_t m : {1, 2, 4, 7, 8, 10, 14, 16, 28, 64}) shapes.push_back({m, 256, 784});
  for (Shape conv : {Shape{16, 784, 9}, Shape{32, 196, 144}, Shape{16, 64 * 784, 9},
                     Shape{32, 64 * 196, 144}}) {
    shapes.push_back(conv);
  }
  for (const Shape& sh : shapes) {
    const int64_t m = sh.m;
    Problem p(absl::StrCat(m), m, sh.n, sh.k);
    std::vector<prof::NamedFunction> fns = {
        {"small-M", [&] { GemmSmallM(p.Args(), isa); }},
        {"packed", [&] { internal::GemmPackedWithBlocking(p.Args(), isa, bl); }},
    };
    TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms,
                        prof::MeasureInterleaved(fns, Budget(quick, 0.1)));
    std::printf("  %4lld x %5lld x %4lld %6.2f  (%.1f vs %.1f GFLOP/s)\n",
                static_cast<long long>(m), static_cast<long long>(sh.n),
                static_cast<long long>(sh.k), Median(ms, 0) / Median(ms, 1),
                p.flops() / Median(ms, 0), p.flops() / Median(ms, 1));
  }
  return absl::OkStatus();
}

// A child process that burns one core until killed: the "competing process".
pid_t StartBusyProcess() {
  pid_t pid = fork();
  if (pid == 0) {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  return pid;
}

void StopBusyProcess(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

struct ModelTimes {
  double reference_ms, simd_ms, auto_ms;
};

absl::StatusOr<ModelTimes> TimeForward(const std::string& name, const std::function<void()>& fn,
                                       bool quick) {
  tensor::Backend* reference = *tensor::FindBackend("reference");
  std::vector<prof::NamedFunction> fns = {
      {name + " reference", [&] { tensor::ScopedBackend b(reference); fn(); }},
      {name + " simd", [&] { tensor::ScopedBackend b(&SimdSingleThreaded()); fn(); }},
      {name + " auto", [&] { tensor::ScopedBackend b(&Auto()); fn(); }},
  };
  TT_ASSIGN_OR_RETURN(std::vector<Measurement> ms,
                      prof::MeasureInterleaved(fns, Budget(quick, 0.3)));
  return ModelTimes{Median(ms, 0) / 1e6, Median(ms, 1) / 1e6, Median(ms, 2) / 1e6};
}

struct EpochResult {
  double seconds = 0, accuracy = 0;
};

absl::StatusOr<EpochResult> TrainOneEpoch(bool cnn, tensor::Backend* backend,
                                          const tensor::Dataset& train,
                                          const tensor::Dataset& test) {
  tensor::ScopedBackend use(backend);
  tensor::DataLoader::Options o;
  o.batch_size = 64;
  o.mean = tt::tensor::kFashionMnistMean;
  o.stddev = tt::tensor::kFashionMnistStddev;
  if (cnn) o.example_shape = {1, 28, 28};
  tensor::DataLoader::Options shuffled = o;
  shuffled.order = tensor::DataLoader::Order::kShuffled;
  shuffled.seed = 1;
  TT_ASSIGN_OR_RETURN(tensor::DataLoader train_loader, tensor::DataLoader::Create(&train, shuffled));
  o.batch_size = 500;
  TT_ASSIGN_OR_RETURN(tensor::DataLoader test_loader, tensor::DataLoader::Create(&test, o));
  std::unique_ptr<tensor::Sequential> model =
      cnn ? tensor::MakeCnn(tensor::CnnConfig{}, 1) : tensor::MakeMlp(tensor::MlpConfig{}, 1);
  tensor::Adam adam(model->Parameters(), {.lr = 1e-3f});
  tensor::FitOptions fit;
  fit.epochs = 1;
  fit.progress = tensor::FitOptions::Progress::kNone;
  std::vector<tensor::EpochStats> h = tensor::Fit(*model, adam, train_loader, fit, &test_loader);
  return EpochResult{h[0].seconds, h[0].validation.accuracy};
}

absl::Status Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  std::set<std::string> sections;
  const std::string section_list = absl::GetFlag(FLAGS_sections);
  for (absl::string_view s : absl::StrSplit(section_list, ',', absl::SkipEmpty())) {
    if (s != "ladder" && s != "smallm" && s != "contention" && s != "models" && s != "training") {
      return absl::InvalidArgumentError(absl::StrCat("--sections: unknown section '", s,
                                                     "' (expected ladder, smallm, contention, "
                                                     "models, training)"));
    }
    sections.insert(std::string(s));
  }
  auto wants = [&](const char* section) { return sections.count(section) > 0; };
  tensor::FlatJson json;
  prof::LoadMonitor load;
  load.Start();
  ThreadPool& pool = DefaultThreadPool();
  pthreadpool_t xnn_pool = pthreadpool_create(2);

  // --- The machine --------------------------------------------------------------------
  prof::PeakOptions peak_options;
  peak_options.seconds = quick ? 0.01 : 0.2;
  const double peak1 = prof::MeasurePeakGflops(prof::Isa::kAuto, 1, peak_options);
  const double peak2 = prof::MeasurePeakGflops(prof::Isa::kAuto, 2, peak_options);
  std::printf("machine: %s micro-kernels; measured FP32 FMA peak %.1f GFLOP/s (1 thread), "
              "%.1f (2 threads); %d threads in the pool\n",
              IsaName(ActiveIsa()), peak1, peak2, pool.size());
  json.Add("isa", IsaName(ActiveIsa()));
  json.Add("peak_gflops", peak1);
  json.Add("peak_gflops_2t", peak2);

  // --- The ladder -----------------------------------------------------------------------
  if (wants("ladder")) {
    std::printf("\n== GEMM ladder, GFLOP/s (speedup over naive); C(M,N) = A(M,K) B(K,N)\n");
    std::printf("%-22s %8s %8s %8s %8s %9s %9s %9s %8s\n", "shape", "naive", "ikj", "blocked",
                "packed", "2 threads", "xnnpack", "xnn 2t", "own/xnn");
  }
  std::vector<Problem> problems;
  for (int64_t s : {64, 128, 256, 512, 1024}) problems.emplace_back(absl::StrCat(s, "^3"), s, s, s);
  problems.emplace_back("mlp 64x784x256", 64, 256, 784);
  problems.emplace_back("mlp 64x256x128", 64, 128, 256);
  problems.emplace_back("mlp b1 1x784x256", 1, 256, 784);
  problems.emplace_back("conv2 32x196x144", 32, 196, 144);
  problems.emplace_back("gpt qkv 256x384x128", 256, 384, 128);
  problems.emplace_back("gpt mlp 256x512x128", 256, 512, 128);
  if (!wants("ladder")) problems.clear();
  for (Problem& p : problems) {
    const bool square = p.m == p.n && p.n == p.k;
    const bool naive = !quick || p.m <= 128;
    if (quick && p.m > 256) continue;
    TT_ASSIGN_OR_RETURN(LadderRow r, MeasureLadder(p, quick, naive, &pool, xnn_pool));
    auto cell = [&](double g) {
      return r.naive > 0 ? absl::StrFormat("%5.1f(%.0fx)", g, g / r.naive)
                         : absl::StrFormat("%8.1f", g);
    };
    std::printf("%-22s %8.2f %8.1f %8.1f %s %9.1f %9.1f %9.1f %7.2fx\n", p.name.c_str(),
                r.naive, r.ikj, r.blocked, cell(r.packed).c_str(), r.threaded, r.xnn1, r.xnn2,
                r.xnn1 > 0 ? r.packed / r.xnn1 : 0.0);
    if (square) {
      const std::string s = absl::StrCat(p.m);
      json.Add("naive_gflops_" + s, r.naive);
      json.Add("packed_gflops_" + s, r.packed);
      json.Add("threaded_gflops_" + s, r.threaded);
      json.Add("xnnpack_gflops_" + s, r.xnn1);
      json.Add("own_vs_xnnpack_" + s, r.packed / r.xnn1);
      json.Add("threads2_vs_threads1_" + s, r.threaded / r.packed);
      if (r.naive > 0) json.Add("best_vs_naive_" + s, std::max(r.packed, r.threaded) / r.naive);
      if (p.m == 1024) json.Add("own_fraction_of_peak_1024", r.packed / peak1);
    }
  }

  if (wants("smallm")) TT_RETURN_IF_ERROR(MeasureSmallM(quick, json));

  // --- Contention -------------------------------------------------------------------------
  if (absl::GetFlag(FLAGS_contention) && wants("contention")) {
    std::printf("\n== 1024^3 GEMM with a competing process burning one core\n");
    Problem p("1024", quick ? 256 : 1024, quick ? 256 : 1024, quick ? 256 : 1024);
    auto fc = XnnpackFullyConnected::Create(p.b.data(), nullptr, p.k, p.n);
    std::vector<prof::NamedFunction> fns = {
        {"own 1 thread", [&] { GemmPacked(p.Args(), ActiveIsa()); }},
        {"own 2 threads", [&] { GemmThreaded(p.Args(), ActiveIsa(), &pool); }},
    };
    if (fc.ok()) {
      fns.push_back({"xnnpack 2 threads", [&] { (void)(*fc)->Run(p.a.data(), p.m, p.c.data(), xnn_pool); }});
    }
    MeasureOptions o = Budget(quick, 0.5);
    TT_ASSIGN_OR_RETURN(std::vector<Measurement> quiet, prof::MeasureInterleaved(fns, o));
    const pid_t busy = StartBusyProcess();
    absl::StatusOr<std::vector<Measurement>> loaded = prof::MeasureInterleaved(fns, o);
    StopBusyProcess(busy);
    TT_RETURN_IF_ERROR(loaded.status());
    for (size_t i = 0; i < fns.size(); ++i) {
      std::printf("%-18s quiet %8.2f ms   contended %8.2f ms   (%.2fx)  load: %s\n",
                  fns[i].name.c_str(), Median(quiet, i) / 1e6, Median(*loaded, i) / 1e6,
                  Median(*loaded, i) / Median(quiet, i), (*loaded)[i].load.ToString().c_str());
    }
    json.Add("contended_own_2t_ms", Median(*loaded, 1) / 1e6);
    json.Add("contended_own_1t_ms", Median(*loaded, 0) / 1e6);
    json.Add("quiet_own_2t_ms", Median(quiet, 1) / 1e6);
    if (fc.ok()) json.Add("contended_xnnpack_2t_ms", Median(*loaded, 2) / 1e6);
  }

  // --- Models -----------------------------------------------------------------------------
  if (wants("models")) {
    std::printf("\n== model forward passes (median), reference vs simd (1 thread) vs auto\n");
    tensor::NoGradGuard no_grad;  // inference: lets Linear + activation fuse
    auto mlp = tensor::MakeMlp(tensor::MlpConfig{}, 1);
    auto cnn = tensor::MakeCnn(tensor::CnnConfig{}, 1);
    tensor::GptConfig gpt_config;
    gpt_config.context_length = quick ? 16 : 256;
    tensor::Gpt gpt(gpt_config, 1);
    tensor::Rng rng(3);
    const Tensor mlp1 = Tensor::Randn({1, 784}, rng), mlp64 = Tensor::Randn({64, 784}, rng);
    const Tensor cnn1 = Tensor::Randn({1, 1, 28, 28}, rng), cnn64 = Tensor::Randn({64, 1, 28, 28}, rng);
    std::vector<int32_t> ids(static_cast<size_t>(gpt_config.context_length), 5);
    struct Case {
      std::string name;
      std::function<void()> fn;
      std::string key;
    };
    const Case cases[] = {
        {"mlp batch 1", [&] { KeepAlive(mlp->Forward(mlp1).data()[0]); }, "mlp_latency_us_batch1"},
        {"cnn batch 1", [&] { KeepAlive(cnn->Forward(cnn1).data()[0]); }, "cnn_latency_us_batch1"},
        {"mlp batch 64", [&] { KeepAlive(mlp->Forward(mlp64).data()[0]); }, "mlp_forward_us_batch64"},
        {"cnn batch 64", [&] { KeepAlive(cnn->Forward(cnn64).data()[0]); }, "cnn_forward_us_batch64"},
        {"gpt T=256", [&] { KeepAlive(gpt.Forward(ids, 1, gpt_config.context_length).logits.data()[0]); },
         "gpt_forward_us"},
    };
    std::printf("%-14s %14s %14s %14s %10s\n", "forward", "reference", "simd 1t", "auto", "speedup");
    for (const Case& c : cases) {
      TT_ASSIGN_OR_RETURN(ModelTimes t, TimeForward(c.name, c.fn, quick));
      const double best = std::min(t.simd_ms, t.auto_ms);
      std::printf("%-14s %11.1f us %11.1f us %11.1f us %9.1fx\n", c.name.c_str(),
                  t.reference_ms * 1e3, t.simd_ms * 1e3, t.auto_ms * 1e3, t.reference_ms / best);
      json.Add(c.key, best * 1e3);
      json.Add(c.key + "_reference", t.reference_ms * 1e3);
      json.Add(c.key + "_1t", t.simd_ms * 1e3);
    }
  }  // inference

  // --- Training steps, interleaved ----------------------------------------------------------
  // One step (forward, cross-entropy, backward, Adam) at batch 64 on random data: the
  // epoch's inner loop, timed side by side so that load on the machine hits every
  // backend alike (the epochs below run one after the other).
  if (wants("models")) {
    std::printf(
        "\n== one training step, batch 64 (median), reference vs simd (1 thread) vs auto\n");
    std::printf("%-14s %14s %14s %14s %10s\n", "step", "reference", "simd 1t", "auto", "speedup");
    for (bool is_cnn : {false, true}) {
      auto model = is_cnn ? tensor::MakeCnn(tensor::CnnConfig{}, 1)
                          : tensor::MakeMlp(tensor::MlpConfig{}, 1);
      tensor::Adam adam(model->Parameters(), {.lr = 1e-3f});
      tensor::Rng rng(4);
      const Tensor x = is_cnn ? Tensor::Randn({64, 1, 28, 28}, rng) : Tensor::Randn({64, 784}, rng);
      std::vector<int32_t> labels(64);
      for (int32_t& l : labels) l = static_cast<int32_t>(rng.UniformInt(10));
      const std::string name = is_cnn ? "cnn step" : "mlp step";
      TT_ASSIGN_OR_RETURN(ModelTimes t, TimeForward(name, [&] {
        adam.ZeroGrad();
        tensor::CrossEntropy(model->Forward(x), labels).Backward();
        adam.Step();
      }, quick));
      const double best = std::min(t.simd_ms, t.auto_ms);
      std::printf("%-14s %11.2f ms %11.2f ms %11.2f ms %9.1fx\n", name.c_str(), t.reference_ms,
                  t.simd_ms, t.auto_ms, t.reference_ms / best);
      const std::string key = is_cnn ? "cnn_step_ms_batch64" : "mlp_step_ms_batch64";
      json.Add(key, t.simd_ms);
      json.Add(key + "_reference", t.reference_ms);
      json.Add(key + "_2t", t.auto_ms);
    }
  }

  // --- Training ---------------------------------------------------------------------------
  if (wants("training")) {
    std::printf("\n== one training epoch on Fashion-MNIST (60,000 images, batch 64, Adam)\n");
    tensor::LoadOptions train_limit, test_limit;
    train_limit.limit = quick ? 640 : -1;
    test_limit.limit = quick ? 500 : -1;
    TT_ASSIGN_OR_RETURN(tensor::Dataset train,
                        tensor::LoadFashionMnist(tensor::FashionMnistDir(), tensor::Split::kTrain,
                                                 train_limit));
    TT_ASSIGN_OR_RETURN(tensor::Dataset test,
                        tensor::LoadFashionMnist(tensor::FashionMnistDir(), tensor::Split::kTest,
                                                 test_limit));
    std::printf("%-6s %-16s %10s %10s\n", "model", "backend", "s/epoch", "accuracy");
    for (bool is_cnn : {false, true}) {
      const char* model = is_cnn ? "cnn" : "mlp";
      double reference_s = 0;
      for (tensor::Backend* b : {*tensor::FindBackend("reference"),
                                 static_cast<tensor::Backend*>(&SimdSingleThreaded()),
                                 static_cast<tensor::Backend*>(&Auto())}) {
        TT_ASSIGN_OR_RETURN(EpochResult r, TrainOneEpoch(is_cnn, b, train, test));
        if (b->name() == "reference") reference_s = r.seconds;
        std::printf("%-6s %-16s %10.2f %10.4f  (%.1fx the reference)\n", model, b->name().c_str(),
                    r.seconds, r.accuracy, reference_s / r.seconds);
        const std::string prefix = absl::StrCat(model, "_epoch_seconds");
        if (b->name() == "simd") json.Add(prefix, r.seconds);
        if (b->name() == "auto") json.Add(prefix + "_2t", r.seconds);
        if (b->name() == "reference") json.Add(prefix + "_reference", r.seconds);
        json.Add(absl::StrCat(model, "_accuracy_1epoch_", b->name()), r.accuracy);
      }
    }
  }

  pthreadpool_destroy(xnn_pool);
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
}  // namespace tt::accel

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status status = tt::accel::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "speedup_report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
