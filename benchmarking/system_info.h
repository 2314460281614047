// What machine and build a result was measured on: the "system description" of a
// TinyMLPerf result. A speedup measured on an AVX-512 server says little about a laptop
// without it, and a debug build is no benchmark; the result file records both, so a
// reader (and the leaderboard) can tell.
//
//   tt::bench::SystemInfo info = tt::bench::DescribeSystem();
//   std::puts(info.ToString().c_str());
//   // Intel(R) Xeon(R) Processor (GenuineIntel), 2 logical cores (2 physical), features
//   // avx avx2 fma ... avx512_vnni; kernels avx512; GCC 12.2.0, opt, NDEBUG; Linux ...
//
// Everything is parsed from text (ParseCpuInfo, ParseOsRelease) so tests pass fixed
// inputs; DescribeSystem only gathers the text from the running machine.
#ifndef TT_BENCHMARKING_SYSTEM_INFO_H_
#define TT_BENCHMARKING_SYSTEM_INFO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tt::bench {

// The CPU as Linux's /proc/cpuinfo describes it.
struct CpuInfo {
  std::string vendor;      // "vendor_id" (x86), e.g. "GenuineIntel"; "CPU implementer" (ARM)
  std::string model_name;  // "model name"; ARM kernels often lack it: "Model", "Hardware"
  // The flags that matter to ML kernels (KnownCpuFeatures()), in that list's order, as
  // cpuinfo spells them ("avx512_vnni", not "avx512vnni"). Other flags are dropped.
  std::vector<std::string> features;
  int logical_cores = 0;   // "processor" entries
  int physical_cores = 0;  // distinct ("physical id", "core id") pairs; 0 when not listed
};

// The feature flags recorded, in order: SIMD width and the int8/bf16/fp16 dot-product
// and matrix extensions (x86: sse4_2 ... amx_int8; ARM: asimd ... sme).
const std::vector<std::string>& KnownCpuFeatures();

// Parses /proc/cpuinfo text: "key<tabs>: value" lines, one block per logical CPU;
// the first block's vendor/model/flags describe the CPU (blocks of one machine agree).
// InvalidArgument when the text has no "processor" entry (not cpuinfo at all).
absl::StatusOr<CpuInfo> ParseCpuInfo(absl::string_view text);

// PRETTY_NAME from /etc/os-release text (quotes removed), e.g. "Debian GNU/Linux 12
// (bookworm)"; empty when absent.
std::string ParseOsRelease(absl::string_view text);

// How this code was compiled (of this translation unit; a Bazel build uses the same
// flags for the whole build).
struct BuildInfo {
  std::string compiler;          // "GCC 12.2.0" / "Clang 14.0.6" (from __VERSION__)
  std::string compilation_mode;  // Bazel's --compilation_mode: "opt", "dbg", "fastbuild"
  bool ndebug = false;           // NDEBUG defined: assert() compiled out
  bool optimized = false;        // __OPTIMIZE__: built with -O1 or higher
  std::string sanitizers;        // "address" when built with -fsanitize=address, else ""
  std::string cxx_standard;      // __cplusplus, e.g. "201703"
};
BuildInfo CurrentBuild();

struct SystemInfo {
  CpuInfo cpu;
  int online_cores = 0;    // sysconf(_SC_NPROCESSORS_ONLN): what threads can use now
  std::string kernel_isa;  // tt::accel::IsaName(ActiveIsa()): the SIMD path in use
  BuildInfo build;
  std::string os;    // "Linux 6.1.0-18-amd64 x86_64 (Debian GNU/Linux 12 (bookworm))"
  std::string note;  // empty, or what could not be read

  // One line, as in the header comment.
  std::string ToString() const;
};

// Gathers the description of this machine and build from <proc_root>/cpuinfo,
// `os_release_path`, uname() and sysconf(). Never fails: unreadable parts are left empty
// (model "unknown") and named in `note`.
SystemInfo DescribeSystem(const std::string& proc_root = "/proc",
                          const std::string& os_release_path = "/etc/os-release");

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_SYSTEM_INFO_H_
