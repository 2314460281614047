#include "benchmarking/system_info.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::bench {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Two logical CPUs on two cores of one socket, as a 2-vCPU cloud VM shows them.
constexpr char kX86[] =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "model name\t: Intel(R) Xeon(R) Processor\n"
    "physical id\t: 0\n"
    "core id\t\t: 0\n"
    "flags\t\t: fpu sse sse2 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512bw avx512vl "
    "avx512_vnni avx_vnni avx512_bf16 amx_tile hypervisor\n"
    "\n"
    "processor\t: 1\n"
    "vendor_id\t: GenuineIntel\n"
    "model name\t: Intel(R) Xeon(R) Processor\n"
    "physical id\t: 0\n"
    "core id\t\t: 1\n"
    "flags\t\t: fpu sse sse2 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512bw avx512vl "
    "avx512_vnni avx_vnni avx512_bf16 amx_tile hypervisor\n";

// Hyperthreads: 4 logical CPUs on 2 cores, AVX2 only.
constexpr char kX86Smt[] =
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 5\nphysical id\t: 0\n"
    "core id\t: 0\nflags\t: sse4_2 avx avx2 fma\n\n"
    "processor\t: 1\nphysical id\t: 0\ncore id\t: 0\n\n"
    "processor\t: 2\nphysical id\t: 0\ncore id\t: 1\n\n"
    "processor\t: 3\nphysical id\t: 0\ncore id\t: 1\n";

// An ARM kernel: no "model name", features under "Features", "Hardware" at the end.
constexpr char kArm[] =
    "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes asimddp i8mm bf16\n"
    "CPU implementer\t: 0x41\nCPU part\t: 0xd0b\n\n"
    "processor\t: 1\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes asimddp i8mm bf16\n"
    "CPU implementer\t: 0x41\n\n"
    "Hardware\t: BCM2712\n";

TEST(ParseCpuInfoTest, X86) {
  absl::StatusOr<CpuInfo> info = ParseCpuInfo(kX86);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->vendor, "GenuineIntel");
  EXPECT_EQ(info->model_name, "Intel(R) Xeon(R) Processor");
  EXPECT_EQ(info->logical_cores, 2);
  EXPECT_EQ(info->physical_cores, 2);
  // Only the known features, in KnownCpuFeatures() order (not the file's).
  EXPECT_THAT(info->features,
              ElementsAre("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw",
                          "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"));
}

TEST(ParseCpuInfoTest, HyperthreadsCountOnceAsPhysicalCores) {
  absl::StatusOr<CpuInfo> info = ParseCpuInfo(kX86Smt);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->logical_cores, 4);
  EXPECT_EQ(info->physical_cores, 2);
  EXPECT_THAT(info->features, ElementsAre("sse4_2", "avx", "avx2", "fma"));
}

TEST(ParseCpuInfoTest, Arm) {
  absl::StatusOr<CpuInfo> info = ParseCpuInfo(kArm);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->vendor, "0x41");
  EXPECT_EQ(info->model_name, "BCM2712");
  EXPECT_EQ(info->logical_cores, 2);
  EXPECT_EQ(info->physical_cores, 0);  // not listed
  EXPECT_THAT(info->features, ElementsAre("asimd", "asimddp", "i8mm", "bf16"));
}

TEST(ParseCpuInfoTest, NotCpuInfo) {
  EXPECT_THAT(ParseCpuInfo("").status().ToString(), HasSubstr("no 'processor' entry"));
  EXPECT_THAT(ParseCpuInfo("hello: world\n").status().ToString(),
              HasSubstr("no 'processor' entry"));
}

TEST(ParseOsReleaseTest, PrettyName) {
  EXPECT_EQ(ParseOsRelease("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                           "(bookworm)\"\nID=debian\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ParseOsRelease("PRETTY_NAME=Alpine\n"), "Alpine");
  EXPECT_EQ(ParseOsRelease("ID=x\n"), "");
}

TEST(CurrentBuildTest, KnowsTheCompilationMode) {
  const BuildInfo b = CurrentBuild();
  // Set by benchmarking/BUILD from Bazel's $(COMPILATION_MODE).
  EXPECT_THAT(b.compilation_mode, AnyOf("opt", "dbg", "fastbuild"));
  EXPECT_THAT(b.compiler, AnyOf(HasSubstr("GCC"), HasSubstr("lang")));
  EXPECT_EQ(b.cxx_standard, absl::StrCat(__cplusplus));
#ifdef NDEBUG
  EXPECT_TRUE(b.ndebug);
#else
  EXPECT_FALSE(b.ndebug);
#endif
}

TEST(DescribeSystemTest, ReadsTheGivenFiles) {
  const std::string root = std::string(std::getenv("TEST_TMPDIR"));
  {
    std::ofstream(root + "/cpuinfo") << kX86;
    std::ofstream(root + "/os-release") << "PRETTY_NAME=\"Test OS 1\"\n";
  }
  const SystemInfo info = DescribeSystem(root, root + "/os-release");
  EXPECT_EQ(info.cpu.model_name, "Intel(R) Xeon(R) Processor");
  EXPECT_THAT(info.os, HasSubstr("(Test OS 1)"));
  EXPECT_THAT(info.note, IsEmpty());
  EXPECT_GT(info.online_cores, 0);
  EXPECT_THAT(info.kernel_isa, AnyOf("scalar", "avx2+fma", "avx512"));
  const std::string line = info.ToString();
  EXPECT_THAT(line, HasSubstr("Intel(R) Xeon(R) Processor (GenuineIntel), 2 logical cores"));
  EXPECT_THAT(line, HasSubstr("avx512_vnni"));
}

TEST(DescribeSystemTest, MissingFilesAreNotedNotFatal) {
  const SystemInfo info = DescribeSystem("/nonexistent-proc", "/nonexistent-os-release");
  EXPECT_EQ(info.cpu.model_name, "unknown");
  EXPECT_THAT(info.note, HasSubstr("/nonexistent-proc/cpuinfo unreadable"));
  EXPECT_THAT(info.ToString(), HasSubstr("unknown"));
}

TEST(DescribeSystemTest, ThisMachine) {
  const SystemInfo info = DescribeSystem();
  EXPECT_GT(info.cpu.logical_cores, 0);
  EXPECT_NE(info.cpu.model_name, "");
}

}  // namespace
}  // namespace tt::bench
