// Roofline: measure this machine's two ceilings and place profiled ops under them.
//
// The roofline model bounds the speed of a kernel that does F FLOPs while moving B bytes
// (arithmetic intensity I = F / B) by min(peak, I * bandwidth): at low intensity the
// memory system is the limit (the sloped "memory roof"), at high intensity the FMA
// units are (the flat "compute roof"). The two meet at the ridge point I = peak /
// bandwidth. Both ceilings are measured here, not taken from a data sheet:
//   - peak: an FMA loop with 12 independent vector accumulators (enough to hide the FMA
//     latency on two FMA ports), one copy per thread, for the chosen ISA;
//   - bandwidth: a STREAM-like triad a[i] = b[i] + s * c[i] over arrays several times
//     larger than the last-level cache, counted as STREAM does: 12 bytes per element
//     (read b and c, write a), NOT counting the write-allocate read of a that plain
//     stores cause (the memory traffic is really 16 bytes per element).
//
//   tt::prof::MachinePeaks peaks = tt::prof::MeasureMachine(/*threads=*/1);
//   tt::prof::Profiler profiler;
//   ... run the model ...
//   profiler.Stop();
//   auto points = tt::prof::PlaceOnRoofline(profiler.Table(), peaks);
//   std::fputs(tt::prof::RooflineTable(points, peaks).c_str(), stdout);
//   std::string svg = tt::prof::RooflineSvg(points, peaks, "MLP forward, batch 64");
//
// No -march flag is used: the SIMD loops are compiled for their ISA with target
// attributes and only called when __builtin_cpu_supports says the CPU has it.
// Measurements are noisy on a shared machine; report the load average with them.
#ifndef TT_PROFILING_ROOFLINE_H_
#define TT_PROFILING_ROOFLINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "profiling/profiler.h"

namespace tt::prof {

// The instruction set of the FMA peak loop. kAuto is the best one the CPU supports.
enum class Isa { kAuto, kAvx512, kAvx2Fma, kScalar };

// "auto", "avx512f", "avx2+fma", "scalar".
const char* IsaName(Isa isa);
// Whether this CPU (and OS) can run `isa`; kAuto and kScalar always can.
bool IsaSupported(Isa isa);
// The best supported ISA: kAvx512, else kAvx2Fma, else kScalar.
Isa BestIsa();

struct PeakOptions {
  double seconds = 0.2;  // per repetition, per thread
  int repetitions = 3;   // the best is kept (the first also warms up clocks)
};

// FP32 GFLOP/s of `threads` concurrent copies of the FMA loop for `isa`, summed (a
// multiply-add is 2 FLOPs). kScalar is one multiply and one add per chain step, no SIMD
// and no FMA: the baseline plain code gets without -march. Returns 0 when the CPU lacks
// `isa` (check IsaSupported first) or threads < 1.
double MeasurePeakGflops(Isa isa, int threads, const PeakOptions& options = {});

struct TriadOptions {
  int repetitions = 8;  // the best is kept
};

// Elements per array for a triad far out of cache: the three arrays together take
// max(128 MiB, 4 x L3), with L3 from sysconf (32 MiB when unknown).
int64_t DefaultTriadElements();

// STREAM-like triad bandwidth in GB/s (1e9 bytes/s): three float arrays of
// `elements_per_array`, split between `threads` threads, 12 bytes counted per element
// (see the top of this file), best of options.repetitions. Returns 0 when
// elements_per_array < threads or threads < 1, or when the arrays cannot be allocated.
double MeasureTriadBandwidthGBs(int64_t elements_per_array, int threads,
                                const TriadOptions& options = {});

struct MachinePeaks {
  double peak_gflops = 0;
  double bandwidth_gbs = 0;
  std::string isa;  // "avx512f", "avx2+fma", "scalar"
  int threads = 1;
};

struct MachineOptions {
  Isa isa = Isa::kAuto;
  PeakOptions peak;
  TriadOptions triad;
  int64_t triad_elements = 0;  // per array; 0 = DefaultTriadElements()
};

// Peak (kAuto: the best ISA) and triad bandwidth with `threads` threads.
MachinePeaks MeasureMachine(int threads, const MachineOptions& options = {});

// "117.2 GFLOP/s (avx512f, 1 thread), triad 26.0 GB/s, ridge 4.51 FLOP/byte"
std::string DescribeMachine(const MachinePeaks& peaks);

struct RooflinePoint {
  std::string name;
  int64_t flops = 0, bytes = 0;
  double seconds = 0;            // self time
  double intensity = 0;          // flops / bytes
  double achieved_gflops = 0;    // flops / seconds (0 when seconds is 0)
  double attainable_gflops = 0;  // min(peak, intensity * bandwidth)
  double percent_of_attainable = 0;
  bool memory_bound = false;  // intensity < ridge point (peak / bandwidth)
};

// One point per op of `ops`, in the same order, from its flops, bytes and self time.
// Ops with 0 flops or 0 bytes (copies, reshapes; or ops that report no traffic) have no
// intensity and are skipped.
std::vector<RooflinePoint> PlaceOnRoofline(const std::vector<OpStats>& ops,
                                           const MachinePeaks& peaks);

// A self-contained SVG (no scripts, no external fonts or files): log-log axes with
// decade ticks (FLOP/byte across, GFLOP/s up), the memory and compute roofs, the ridge
// point, one labelled dot per point (blue: memory-bound, red: compute-bound), a legend.
std::string RooflineSvg(const std::vector<RooflinePoint>& points, const MachinePeaks& peaks,
                        const std::string& title);

// The points as an aligned text table under a line describing the machine.
std::string RooflineTable(const std::vector<RooflinePoint>& points, const MachinePeaks& peaks);

}  // namespace tt::prof

#endif  // TT_PROFILING_ROOFLINE_H_
