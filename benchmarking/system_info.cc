#include "benchmarking/system_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "acceleration/cpu_features.h"

// Bazel passes its --compilation_mode in (benchmarking/BUILD: $(COMPILATION_MODE)).
#ifndef TT_COMPILATION_MODE
#define TT_COMPILATION_MODE "unknown"
#endif

namespace tt::bench {
namespace {

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

}  // namespace

const std::vector<std::string>& KnownCpuFeatures() {
  static const std::vector<std::string>* features = new std::vector<std::string>{
      // x86: 128 -> 256 -> 512-bit SIMD, then int8 / bf16 / fp16 dot products, AMX tiles.
      "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
      "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
      // ARM: NEON, int8 dot product, int8 matrix multiply, bf16, SVE, SME.
      "asimd", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme"};
  return *features;
}

absl::StatusOr<CpuInfo> ParseCpuInfo(absl::string_view text) {
  CpuInfo info;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical_id;
  std::set<std::string> flags;
  bool first_block = true;  // still inside the first processor's block
  std::string arm_model, arm_hardware;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (key == "processor") {
      // ARM kernels start with a "Processor : <model>" line (capital P) in some versions;
      // only the lower-case key counts a logical CPU.
      if (info.logical_cores > 0) first_block = false;
      ++info.logical_cores;
      physical_id.clear();
    } else if (key == "physical id") {
      physical_id = std::string(value);
    } else if (key == "core id") {
      cores.emplace(physical_id, std::string(value));
    } else if (key == "Hardware" || key == "Model") {
      // ARM: machine-wide lines after the last processor block.
      (key == "Model" ? arm_model : arm_hardware) = std::string(value);
    } else if (!first_block) {
      continue;
    } else if (key == "vendor_id" || key == "CPU implementer") {
      if (info.vendor.empty()) info.vendor = std::string(value);
    } else if (key == "model name") {
      if (info.model_name.empty()) info.model_name = std::string(value);
    } else if (key == "flags" || key == "Features") {
      for (absl::string_view f : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
        flags.insert(std::string(f));
      }
    }
  }
  if (info.logical_cores == 0) {
    return absl::InvalidArgumentError(
        "cpuinfo: no 'processor' entry (is this /proc/cpuinfo text?)");
  }
  if (info.model_name.empty()) info.model_name = !arm_model.empty() ? arm_model : arm_hardware;
  if (info.model_name.empty()) info.model_name = "unknown";
  for (const std::string& f : KnownCpuFeatures()) {
    if (flags.count(f) > 0) info.features.push_back(f);
  }
  info.physical_cores = static_cast<int>(cores.size());
  return info;
}

std::string ParseOsRelease(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "PRETTY_NAME=")) {
      line = absl::StripAsciiWhitespace(line);
      if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') &&
          line.back() == line.front()) {
        line = line.substr(1, line.size() - 2);
      }
      return std::string(line);
    }
  }
  return "";
}

BuildInfo CurrentBuild() {
  BuildInfo b;
#if defined(__clang__)
  b.compiler = absl::StartsWith(__VERSION__, "Clang") || absl::StrContains(__VERSION__, "clang")
                   ? std::string(__VERSION__)
                   : absl::StrCat("Clang ", __VERSION__);
#elif defined(__GNUC__)
  b.compiler = absl::StrCat("GCC ", __VERSION__);
#else
  b.compiler = "unknown compiler";
#endif
  b.compilation_mode = TT_COMPILATION_MODE;
#ifdef NDEBUG
  b.ndebug = true;
#endif
#ifdef __OPTIMIZE__
  b.optimized = true;
#endif
#if defined(__SANITIZE_ADDRESS__)
  b.sanitizers = "address";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  b.sanitizers = "address";
#endif
#endif
  b.cxx_standard = absl::StrCat(__cplusplus);
  return b;
}

SystemInfo DescribeSystem(const std::string& proc_root, const std::string& os_release_path) {
  SystemInfo info;
  std::vector<std::string> missing;
  std::string text;
  const std::string cpuinfo_path = proc_root + "/cpuinfo";
  if (ReadText(cpuinfo_path, &text)) {
    absl::StatusOr<CpuInfo> cpu = ParseCpuInfo(text);
    if (cpu.ok()) {
      info.cpu = *std::move(cpu);
    } else {
      missing.push_back(absl::StrCat(cpuinfo_path, ": ", cpu.status().message()));
    }
  } else {
    missing.push_back(absl::StrCat(cpuinfo_path, " unreadable"));
  }
  if (info.cpu.model_name.empty()) info.cpu.model_name = "unknown";
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  info.online_cores = online > 0 ? static_cast<int>(online) : 0;
  info.kernel_isa = tt::accel::IsaName(tt::accel::ActiveIsa());
  info.build = CurrentBuild();

  struct utsname u;
  if (uname(&u) == 0) {
    info.os = absl::StrCat(u.sysname, " ", u.release, " ", u.machine);
  } else {
    missing.push_back("uname failed");
  }
  std::string os_release;
  if (ReadText(os_release_path, &os_release)) {
    const std::string pretty = ParseOsRelease(os_release);
    if (!pretty.empty()) absl::StrAppend(&info.os, info.os.empty() ? "" : " ", "(", pretty, ")");
  }
  info.note = absl::StrJoin(missing, "; ");
  return info;
}

std::string SystemInfo::ToString() const {
  std::string out = absl::StrCat(cpu.model_name);
  if (!cpu.vendor.empty()) absl::StrAppend(&out, " (", cpu.vendor, ")");
  absl::StrAppend(&out, ", ", cpu.logical_cores, " logical cores");
  if (cpu.physical_cores > 0) absl::StrAppend(&out, " (", cpu.physical_cores, " physical)");
  if (online_cores != cpu.logical_cores) absl::StrAppend(&out, ", ", online_cores, " online");
  absl::StrAppend(
      &out, ", features ", cpu.features.empty() ? "none known" : absl::StrJoin(cpu.features, " "),
      "; kernels ", kernel_isa, "; ", build.compiler, ", ", build.compilation_mode,
      build.ndebug ? ", NDEBUG" : "", build.optimized ? "" : ", unoptimized",
      build.sanitizers.empty() ? "" : absl::StrCat(", ", build.sanitizers, " sanitizer"), "; ",
      os.empty() ? "unknown OS" : os);
  if (!note.empty()) absl::StrAppend(&out, " [", note, "]");
  return out;
}

}  // namespace tt::bench
