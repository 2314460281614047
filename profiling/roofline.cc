#include "profiling/roofline.h"

#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace tt::prof {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// --- The FMA peak loops ----------------------------------------------------------------
// Each runs `steps` rounds of 12 independent chains acc = acc * m + b. Twelve chains
// cover the FMA latency (4 cycles) times the issue rate (2 per cycle) with room to
// spare. m < 1 keeps the values bounded and normal. The result depends on every chain,
// so the loop cannot be removed.
constexpr int kChains = 12;

__attribute__((target("avx512f"))) float FmaStepsAvx512(int64_t steps) {
  const __m512 m = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(0.1f * (j + 1));
  for (int64_t i = 0; i < steps; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], m, b);
  }
  // Summed by hand: GCC 12 warns (wrongly) inside _mm512_reduce_add_ps.
  alignas(64) float lanes[16];
  float total = 0;
  for (int j = 0; j < kChains; ++j) {
    _mm512_store_ps(lanes, acc[j]);
    for (float v : lanes) total += v;
  }
  return total;
}

__attribute__((target("avx2,fma"))) float FmaStepsAvx2(int64_t steps) {
  const __m256 m = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(0.1f * (j + 1));
  for (int64_t i = 0; i < steps; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], m, b);
  }
  alignas(32) float lanes[8];
  float total = 0;
  for (int j = 0; j < kChains; ++j) {
    _mm256_store_ps(lanes, acc[j]);
    for (float v : lanes) total += v;
  }
  return total;
}

// Plain floats: one multiply and one add per step. The empty asm keeps each chain in its
// own register, so the compiler cannot pack the chains into SIMD registers (which would
// turn the scalar baseline into an SSE one).
float FmaStepsScalar(int64_t steps) {
  const float m = 0.999f, b = 0.001f;
  float a0 = 0.1f, a1 = 0.2f, a2 = 0.3f, a3 = 0.4f, a4 = 0.5f, a5 = 0.6f;
  float a6 = 0.7f, a7 = 0.8f, a8 = 0.9f, a9 = 1.0f, a10 = 1.1f, a11 = 1.2f;
  for (int64_t i = 0; i < steps; ++i) {
    a0 = a0 * m + b, a1 = a1 * m + b, a2 = a2 * m + b, a3 = a3 * m + b;
    a4 = a4 * m + b, a5 = a5 * m + b, a6 = a6 * m + b, a7 = a7 * m + b;
    a8 = a8 * m + b, a9 = a9 * m + b, a10 = a10 * m + b, a11 = a11 * m + b;
    asm(""
        : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
          "+x"(a9), "+x"(a10), "+x"(a11));
  }
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
}

struct PeakKernel {
  float (*steps)(int64_t);
  double flops_per_step;
};

PeakKernel KernelFor(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return {FmaStepsAvx512, 2.0 * 16 * kChains};
    case Isa::kAvx2Fma:
      return {FmaStepsAvx2, 2.0 * 8 * kChains};
    default:
      return {FmaStepsScalar, 2.0 * kChains};
  }
}

// All threads wait until the last one arrives. Spins with yield: on a loaded machine a
// waiting thread must not keep a core from the thread everyone waits for.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void Wait() {
    const int generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == generation) {
      std::this_thread::yield();
    }
  }

 private:
  const int n_;
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
};

// Runs body(thread_index) on `threads` threads (index 0 on the caller) and joins them.
template <typename Body>
void RunOnThreads(int threads, Body body) {
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(body, t);
  body(0);
  for (std::thread& w : workers) w.join();
}

// --- Triad ------------------------------------------------------------------------------
// a[i] = b[i] + s * c[i]: plain C, auto-vectorized (SSE2 without -march); one core's
// memory traffic does not need wider vectors.
void Triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
           int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using FloatBuffer = std::unique_ptr<float[], FreeDeleter>;

FloatBuffer AllocateFloats(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  return FloatBuffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAuto:
      return "auto";
    case Isa::kAvx512:
      return "avx512f";
    case Isa::kAvx2Fma:
      return "avx2+fma";
    case Isa::kScalar:
      return "scalar";
  }
  return "?";
}

bool IsaSupported(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f");
    case Isa::kAvx2Fma:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAuto:
    case Isa::kScalar:
      return true;
  }
  return false;
}

Isa BestIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2Fma)) return Isa::kAvx2Fma;
  return Isa::kScalar;
}

double MeasurePeakGflops(Isa isa, int threads, const PeakOptions& options) {
  if (isa == Isa::kAuto) isa = BestIsa();
  if (threads < 1 || !IsaSupported(isa)) return 0.0;
  const PeakKernel kernel = KernelFor(isa);
  // 6.4 MFLOP per chunk (about 50 us at 117 GFLOP/s): the clock is read rarely, yet the
  // end of the run is precise.
  const int64_t chunk = static_cast<int64_t>(6.4e6 / kernel.flops_per_step);
  std::vector<double> gflops(threads);
  std::vector<float> sinks(threads);
  double best = 0.0;
  for (int rep = 0; rep < std::max(options.repetitions, 1); ++rep) {
    SpinBarrier start(threads);
    RunOnThreads(threads, [&](int t) {
      start.Wait();
      const Clock::time_point t0 = Clock::now();
      int64_t steps = 0;
      float sink = 0.0f;
      double elapsed = 0.0;
      do {
        sink += kernel.steps(chunk);
        steps += chunk;
        elapsed = SecondsSince(t0);
      } while (elapsed < options.seconds);
      gflops[t] = static_cast<double>(steps) * kernel.flops_per_step / elapsed * 1e-9;
      sinks[t] = sink;
    });
    double sum = 0.0;
    for (double g : gflops) sum += g;
    best = std::max(best, sum);
  }
  // The sinks are finite by construction; reading them keeps the loops' results live.
  for (float s : sinks) {
    if (!std::isfinite(s)) return 0.0;
  }
  return best;
}

int64_t DefaultTriadElements() {
  int64_t l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 <= 0) l3 = int64_t{32} << 20;
  int64_t total = std::max<int64_t>(int64_t{128} << 20, 4 * l3);
  // Never more than a quarter of physical memory.
  const int64_t pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) total = std::min(total, pages * page / 4);
  return total / (3 * static_cast<int64_t>(sizeof(float)));
}

double MeasureTriadBandwidthGBs(int64_t elements_per_array, int threads,
                                const TriadOptions& options) {
  if (threads < 1 || elements_per_array < threads) return 0.0;
  const int64_t n = elements_per_array;
  FloatBuffer a = AllocateFloats(n), b = AllocateFloats(n), c = AllocateFloats(n);
  if (!a || !b || !c) return 0.0;
  const int reps = std::max(options.repetitions, 1);
  std::vector<double> seconds(reps);
  SpinBarrier barrier(threads);
  RunOnThreads(threads, [&](int t) {
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    // First touch by the thread that will stream the slice (page placement).
    for (int64_t i = begin; i < end; ++i) {
      a[i] = 0.0f;
      b[i] = 1.0f;
      c[i] = 2.0f;
    }
    for (int rep = 0; rep < reps; ++rep) {
      barrier.Wait();
      const Clock::time_point t0 = Clock::now();
      Triad(a.get() + begin, b.get() + begin, c.get() + begin, 3.0f, end - begin);
      barrier.Wait();
      if (t == 0) seconds[rep] = SecondsSince(t0);
    }
  });
  const double best = *std::min_element(seconds.begin(), seconds.end());
  // a[i] = 1 + 3 * 2 everywhere: a cheap check that the loop really ran.
  if (a[0] != 7.0f || a[n - 1] != 7.0f || best <= 0) return 0.0;
  return 3.0 * sizeof(float) * static_cast<double>(n) / best * 1e-9;
}

MachinePeaks MeasureMachine(int threads, const MachineOptions& options) {
  MachinePeaks peaks;
  const Isa isa = options.isa == Isa::kAuto ? BestIsa() : options.isa;
  peaks.isa = IsaName(isa);
  peaks.threads = threads;
  peaks.peak_gflops = MeasurePeakGflops(isa, threads, options.peak);
  const int64_t elements =
      options.triad_elements > 0 ? options.triad_elements : DefaultTriadElements();
  peaks.bandwidth_gbs = MeasureTriadBandwidthGBs(elements, threads, options.triad);
  return peaks;
}

std::string DescribeMachine(const MachinePeaks& peaks) {
  const double ridge = peaks.bandwidth_gbs > 0 ? peaks.peak_gflops / peaks.bandwidth_gbs : 0;
  return absl::StrFormat(
      "peak %.1f GFLOP/s (%s, %d thread%s), triad %.1f GB/s, ridge %.2f "
      "FLOP/byte",
      peaks.peak_gflops, peaks.isa, peaks.threads, peaks.threads == 1 ? "" : "s",
      peaks.bandwidth_gbs, ridge);
}

std::vector<RooflinePoint> PlaceOnRoofline(const std::vector<OpStats>& ops,
                                           const MachinePeaks& peaks) {
  const double ridge = peaks.bandwidth_gbs > 0 ? peaks.peak_gflops / peaks.bandwidth_gbs : 0;
  std::vector<RooflinePoint> points;
  for (const OpStats& op : ops) {
    if (op.flops <= 0 || op.bytes <= 0) continue;
    RooflinePoint p;
    p.name = op.op;
    p.flops = op.flops;
    p.bytes = op.bytes;
    p.seconds = op.self_ns * 1e-9;
    p.intensity = static_cast<double>(op.flops) / static_cast<double>(op.bytes);
    p.achieved_gflops = p.seconds > 0 ? static_cast<double>(op.flops) / p.seconds * 1e-9 : 0;
    p.attainable_gflops = std::min(peaks.peak_gflops, p.intensity * peaks.bandwidth_gbs);
    p.percent_of_attainable =
        p.attainable_gflops > 0 ? 100.0 * p.achieved_gflops / p.attainable_gflops : 0;
    p.memory_bound = p.intensity < ridge;
    points.push_back(std::move(p));
  }
  return points;
}

// --- SVG ---------------------------------------------------------------------------------
namespace {

std::string XmlEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// Log-log axes: data values to pixels. x0..x1 and y0..y1 are whole decades (log10).
struct LogAxes {
  int x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double left = 80, top = 56, width = 560, height = 440;  // the plot area, in pixels
  double X(double v) const { return left + (std::log10(v) - x0) / (x1 - x0) * width; }
  double Y(double v) const { return top + height - (std::log10(v) - y0) / (y1 - y0) * height; }
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

std::string DecadeLabel(int k) {
  if (k >= -3 && k <= 5) return absl::StrFormat("%g", std::pow(10.0, k));
  return absl::StrCat("1e", k);
}

// Appends <line> and <text> elements; `attributes` are the remaining ones, verbatim, and
// `text` must be escaped already.
void Line(std::string* s, double x1, double y1, double x2, double y2, const char* attributes) {
  absl::StrAppendFormat(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x1, y1,
                        x2, y2, attributes);
}
void Text(std::string* s, double x, double y, const char* attributes, const std::string& text) {
  absl::StrAppendFormat(s, "<text x=\"%.1f\" y=\"%.1f\" %s>%s</text>\n", x, y, attributes, text);
}

struct Box {
  double x0, y0, x1, y1;
  bool Overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

}  // namespace

std::string RooflineSvg(const std::vector<RooflinePoint>& points, const MachinePeaks& peaks,
                        const std::string& title) {
  const double peak = std::max(peaks.peak_gflops, 1e-3);
  const double bw = std::max(peaks.bandwidth_gbs, 1e-3);
  const double ridge = peak / bw;
  // Ranges: every point and the ridge, at least 3 decades across and up, at most 7 up.
  double imin = ridge, imax = ridge, pmin = peak;
  for (const RooflinePoint& p : points) {
    if (p.intensity > 0) imin = std::min(imin, p.intensity), imax = std::max(imax, p.intensity);
    if (p.achieved_gflops > 0) pmin = std::min(pmin, p.achieved_gflops);
  }
  LogAxes ax;
  ax.x0 = static_cast<int>(std::floor(std::log10(imin / 2)));
  ax.x1 = static_cast<int>(std::ceil(std::log10(imax * 2)));
  ax.y1 = static_cast<int>(std::ceil(std::log10(peak * 1.6)));
  while (ax.x1 - ax.x0 < 3) {  // widen on both sides in turn
    if ((ax.x1 - ax.x0) % 2 == 0) {
      --ax.x0;
    } else {
      ++ax.x1;
    }
  }
  ax.y0 =
      static_cast<int>(std::floor(std::log10(std::min(pmin, bw * std::pow(10.0, ax.x0)) / 1.5)));
  ax.y0 = std::min(std::max(ax.y0, ax.y1 - 7), ax.y1 - 3);
  const double ymin = std::pow(10.0, ax.y0);

  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"580\" "
      "viewBox=\"0 0 900 580\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect x=\"0\" y=\"0\" width=\"900\" height=\"580\" fill=\"white\"/>\n"
      "<text x=\"%.1f\" y=\"32\" font-size=\"17\" font-weight=\"bold\" "
      "text-anchor=\"middle\" fill=\"#222\">%s</text>\n",
      ax.left + ax.width / 2, XmlEscape(title));
  // The attainable region, under both roofs.
  const double xa = std::max(std::pow(10.0, ax.x0), ymin / bw);
  absl::StrAppendFormat(&s,
                        "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
                        "fill=\"#eef3fa\"/>\n",
                        ax.X(xa), ax.bottom(), ax.X(xa), ax.Y(bw * xa), ax.X(ridge), ax.Y(peak),
                        ax.right(), ax.Y(peak), ax.right(), ax.bottom());
  // Grid: decades, and faint lines at 2..9 times each decade.
  for (int k = ax.x0; k <= ax.x1; ++k) {
    for (int m = 1; m <= (k < ax.x1 ? 9 : 1); ++m) {
      const double x = ax.X(m * std::pow(10.0, k));
      Line(&s, x, ax.top, x, ax.bottom(), m == 1 ? "stroke=\"#c8c8c8\"" : "stroke=\"#ececec\"");
    }
    Text(&s, ax.X(std::pow(10.0, k)), ax.bottom() + 18,
         "font-size=\"12\" text-anchor=\"middle\" fill=\"#333\"", DecadeLabel(k));
  }
  for (int k = ax.y0; k <= ax.y1; ++k) {
    for (int m = 1; m <= (k < ax.y1 ? 9 : 1); ++m) {
      const double y = ax.Y(m * std::pow(10.0, k));
      Line(&s, ax.left, y, ax.right(), y, m == 1 ? "stroke=\"#c8c8c8\"" : "stroke=\"#ececec\"");
    }
    Text(&s, ax.left - 8, ax.Y(std::pow(10.0, k)) + 4,
         "font-size=\"12\" text-anchor=\"end\" fill=\"#333\"", DecadeLabel(k));
  }
  absl::StrAppendFormat(
      &s,
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
      "stroke=\"#444\"/>\n"
      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\">"
      "arithmetic intensity (FLOP/byte)</text>\n"
      "<text x=\"22\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\" "
      "transform=\"rotate(-90 22 %.1f)\">performance (GFLOP/s)</text>\n",
      ax.left, ax.top, ax.width, ax.height, ax.left + ax.width / 2, ax.bottom() + 42,
      ax.top + ax.height / 2, ax.top + ax.height / 2);
  // Where the ops go, first: the roof labels are placed where no dot is.
  std::vector<std::pair<double, double>> xy;
  std::vector<Box> taken;
  for (const RooflinePoint& p : points) {
    const double x = ax.X(std::max(p.intensity, std::pow(10.0, ax.x0)));
    const double y = ax.Y(std::min(std::max(p.achieved_gflops, ymin), std::pow(10.0, ax.y1)));
    xy.emplace_back(x, y);
    taken.push_back({x - 6, y - 6, x + 6, y + 6});
  }
  // The roofs and the ridge.
  absl::StrAppendFormat(
      &s,
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
      "stroke-dasharray=\"5,4\"/>\n"
      "<polyline points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"none\" stroke=\"#222\" "
      "stroke-width=\"2.5\" stroke-linejoin=\"round\"/>\n"
      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"white\" stroke=\"#222\" "
      "stroke-width=\"2\"/>\n"
      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">ridge %.2f FLOP/B</text>\n",
      ax.X(ridge), ax.Y(peak), ax.X(ridge), ax.bottom(), ax.X(xa), ax.Y(bw * xa), ax.X(ridge),
      ax.Y(peak), ax.right(), ax.Y(peak), ax.X(ridge), ax.Y(peak), ax.X(ridge) + 5, ax.bottom() - 6,
      ridge);
  // The compute roof's label sits on the flat roof right of the ridge when it fits there,
  // else left of the ridge, above the memory roof, where no op can be.
  const std::string compute_label =
      absl::StrFormat("compute roof %.1f GFLOP/s (%s)", peak, peaks.isa);
  const double cw = 6.9 * compute_label.size();
  const bool right_of_ridge = ax.X(ridge) + 10 + cw <= ax.right() - 4;
  const double cx = right_of_ridge ? ax.X(ridge) + 10 : ax.X(ridge) - 10;
  Text(&s, cx, ax.Y(peak) - 8,
       right_of_ridge ? "font-size=\"12\" fill=\"#222\""
                      : "font-size=\"12\" fill=\"#222\" text-anchor=\"end\"",
       XmlEscape(compute_label));
  taken.push_back({right_of_ridge ? cx : cx - cw, ax.Y(peak) - 20, right_of_ridge ? cx + cw : cx,
                   ax.Y(peak) - 4});
  // The memory roof's label runs along the slope, where the fewest dots are near it.
  // (u: along the roof; n: its upward normal; text spans s = 3..21 px along n.)
  const std::string memory_label = absl::StrFormat("memory roof %.1f GB/s", bw);
  const double mw = 6.9 * memory_label.size();
  const double angle = std::atan2(ax.Y(bw * ridge) - ax.Y(bw * xa), ax.X(ridge) - ax.X(xa));
  const double ux = std::cos(angle), uy = std::sin(angle), nx = uy, ny = -ux;
  double mx = 0, my = 0;
  auto in_memory_label = [&](double x, double y, double margin) {
    const double t = (x - mx) * ux + (y - my) * uy, n = (x - mx) * nx + (y - my) * ny;
    return t > -margin && t < mw + margin && n > 3 - margin && n < 21 + margin;
  };
  {
    const double l0 = std::log10(xa), l1 = std::log10(ridge);
    // Candidates every 5% of the slope, nearest to 15% first; the fewest dots nearby wins.
    int best_hits = -1;
    double best_x = ax.X(xa), best_y = ax.Y(bw * xa);
    for (int step = 0; step <= 34 && best_hits != 0; ++step) {
      const double f = 0.15 + (step % 2 == 0 ? 1 : -1) * 0.05 * ((step + 1) / 2);
      if (f < -1e-9 || f > 0.85 + 1e-9) continue;
      const double lx = std::pow(10.0, l0 + f * (l1 - l0));
      mx = ax.X(lx), my = ax.Y(bw * lx);
      if (mx + ux * mw > ax.right() || my + uy * mw < ax.top) continue;
      int hits = 0;
      for (const auto& [x, y] : xy) hits += in_memory_label(x, y, 7);
      if (best_hits < 0 || hits < best_hits) best_hits = hits, best_x = mx, best_y = my;
    }
    mx = best_x, my = best_y;
    absl::StrAppendFormat(&s,
                          "<text font-size=\"12\" fill=\"#222\" transform=\"translate(%.1f "
                          "%.1f) rotate(%.1f)\" dy=\"-7\">%s</text>\n",
                          mx, my, angle * 180 / M_PI, XmlEscape(memory_label));
  }
  // The ops: a dotted line up to the roof above each (the gap), the dots, then the
  // labels, each at the first nearby place that overlaps no dot, label or roof label.
  for (size_t i = 0; i < points.size(); ++i) {
    const RooflinePoint& p = points[i];
    if (p.attainable_gflops > p.achieved_gflops) {
      Line(&s, xy[i].first, xy[i].second, xy[i].first, ax.Y(std::max(p.attainable_gflops, ymin)),
           "stroke=\"#9a9a9a\" stroke-dasharray=\"2,3\"");
    }
  }
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppendFormat(&s,
                          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5.5\" fill=\"%s\" "
                          "stroke=\"white\" stroke-width=\"1.5\"/>\n",
                          xy[i].first, xy[i].second,
                          points[i].memory_bound ? "#1f77b4" : "#d62728");
  }
  struct Place {
    double dx, dy;
    bool end;
  };
  const Place kPlaces[] = {{9, 4, false},   {-9, 4, true},  {7, -9, false},  {7, 17, false},
                           {-7, -9, true},  {-7, 17, true}, {9, -22, false}, {9, 30, false},
                           {-9, -22, true}, {-9, 30, true}};
  auto is_free = [&](const Box& b) {
    if (b.x0 < ax.left || b.x1 > ax.right() || b.y0 < ax.top || b.y1 > ax.bottom()) return false;
    for (const Box& t : taken) {
      if (t.Overlaps(b)) return false;
    }
    for (double fx : {0.0, 0.5, 1.0}) {
      for (double fy : {0.0, 1.0}) {
        if (in_memory_label(b.x0 + fx * (b.x1 - b.x0), b.y0 + fy * (b.y1 - b.y0), 0)) {
          return false;
        }
      }
    }
    return true;
  };
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string label = XmlEscape(points[i].name);
    const double w = 6.6 * points[i].name.size();
    const auto [x, y] = xy[i];
    const Place* chosen = &kPlaces[0];  // when no place is free: right of the dot
    Box box{x + 9, y - 6, x + 9 + w, y + 7};
    for (const Place& pl : kPlaces) {
      const double bx = pl.end ? x + pl.dx - w : x + pl.dx;
      const Box b{bx, y + pl.dy - 10, bx + w, y + pl.dy + 3};
      if (is_free(b)) {
        chosen = &pl;
        box = b;
        break;
      }
    }
    taken.push_back(box);
    if (chosen - kPlaces >= 2) {  // not beside the dot: a leader line says whose it is
      const double tx = std::clamp(x, box.x0, box.x1), ty = std::clamp(y, box.y0, box.y1);
      const double d = std::hypot(tx - x, ty - y);
      if (d > 8) {
        Line(&s, x + (tx - x) * 6 / d, y + (ty - y) * 6 / d, tx, ty,
             "stroke=\"#888\" stroke-width=\"0.8\"");
      }
    }
    // A white halo keeps the label readable over grid and roof lines.
    Text(&s, x + chosen->dx, y + chosen->dy,
         chosen->end ? "font-size=\"11\" fill=\"#222\" text-anchor=\"end\" stroke=\"white\" "
                       "stroke-width=\"3\" paint-order=\"stroke\""
                     : "font-size=\"11\" fill=\"#222\" stroke=\"white\" stroke-width=\"3\" "
                       "paint-order=\"stroke\"",
         label);
  }
  // The legend: a sample mark (drawn at y = 0, moved to its row) and its text per row.
  const double lx = 664, ly = ax.top;
  absl::StrAppendFormat(&s,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"222\" height=\"262\" rx=\"5\" "
                        "fill=\"#fafafa\" stroke=\"#cccccc\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                        "font-size=\"13\" font-weight=\"bold\" fill=\"#222\">legend</text>\n",
                        lx, ly, lx + 12, ly + 22);
  const std::pair<const char*, const char*> kRows[] = {
      {"<line x1=\"12\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#222\" stroke-width=\"2.5\"/>",
       "roofs (measured)"},
      {"<circle cx=\"24\" cy=\"0\" r=\"5.5\" fill=\"#1f77b4\"/>", "memory-bound op"},
      {"<circle cx=\"24\" cy=\"0\" r=\"5.5\" fill=\"#d62728\"/>", "compute-bound op"},
      {"<line x1=\"12\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#9a9a9a\" "
       "stroke-dasharray=\"2,3\"/>",
       "gap to the roof"},
      {"<line x1=\"12\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#777\" "
       "stroke-dasharray=\"5,4\"/>",
       "ridge point"}};
  for (size_t i = 0; i < 5; ++i) {
    absl::StrAppendFormat(&s,
                          "<g transform=\"translate(%.1f %.1f)\">%s<text x=\"44\" y=\"4\" "
                          "font-size=\"12\" fill=\"#222\">%s</text></g>\n",
                          lx, ly + 42 + 22 * i, kRows[i].first, kRows[i].second);
  }
  const std::string machine[] = {
      absl::StrFormat("peak %.1f GFLOP/s", peaks.peak_gflops),
      absl::StrFormat("  %s, %d thread%s", peaks.isa, peaks.threads, peaks.threads == 1 ? "" : "s"),
      absl::StrFormat("triad %.1f GB/s", peaks.bandwidth_gbs),
      absl::StrFormat("ridge %.2f FLOP/byte", ridge),
      absl::StrFormat("%d ops plotted", points.size())};
  Line(&s, lx + 12, ly + 150, lx + 210, ly + 150, "stroke=\"#dddddd\"");
  for (size_t i = 0; i < 5; ++i) {
    Text(&s, lx + 12, ly + 172 + 20 * i, "font-size=\"12\" fill=\"#333\" xml:space=\"preserve\"",
         XmlEscape(machine[i]));
  }
  s += "</svg>\n";
  return s;
}

std::string RooflineTable(const std::vector<RooflinePoint>& points, const MachinePeaks& peaks) {
  size_t width = 16;
  for (const RooflinePoint& p : points) width = std::max(width, p.name.size());
  width = std::min<size_t>(width, 36);
  std::string out = absl::StrCat("roofline: ", DescribeMachine(peaks), "\n");
  const std::string header =
      absl::StrFormat("%-*s %10s %11s %10s %11s %8s  %s", width, "op", "FLOP/B", "self", "GFLOP/s",
                      "attainable", "of roof", "bound by");
  absl::StrAppend(&out, header, "\n", std::string(header.size(), '-'), "\n");
  for (const RooflinePoint& p : points) {
    std::string name = p.name.size() > width ? p.name.substr(0, width - 3) + "..." : p.name;
    absl::StrAppendFormat(&out, "%-*s %10.3f %11s %10.2f %11.2f %7.1f%%  %s\n", width, name,
                          p.intensity, FormatDuration(p.seconds * 1e9), p.achieved_gflops,
                          p.attainable_gflops, p.percent_of_attainable,
                          p.memory_bound ? "memory" : "compute");
  }
  return out;
}

}  // namespace tt::prof
