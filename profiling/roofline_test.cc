// Tests of the roofline: placement math on made-up ops and peaks, the SVG's structure,
// the table, and every measurement path the CPU has (forced in turn, with short runs).
// Measured numbers are only checked for being positive: timings are noisy.
#include "profiling/roofline.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tt::prof {
namespace {

OpStats Op(const std::string& name, int64_t flops, int64_t bytes, double self_ns) {
  OpStats s;
  s.op = name;
  s.calls = 1;
  s.total_ns = self_ns;
  s.self_ns = self_ns;
  s.flops = flops;
  s.bytes = bytes;
  return s;
}

MachinePeaks Peaks() {
  MachinePeaks peaks;
  peaks.peak_gflops = 100.0;
  peaks.bandwidth_gbs = 20.0;  // ridge point at 5 FLOP/byte
  peaks.isa = "avx2+fma";
  peaks.threads = 1;
  return peaks;
}

const RooflinePoint* Find(const std::vector<RooflinePoint>& points, const std::string& name) {
  for (const RooflinePoint& p : points) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

TEST(PlaceOnRooflineTest, IntensityAttainableAndBoundAroundTheRidge) {
  const std::vector<OpStats> ops = {
      Op("low", 1'000'000, 1'000'000, 1e5),        // I = 1: 10 GFLOP/s of 20
      Op("high", 1'000'000'000, 10'000'000, 2e7),  // I = 100: 50 GFLOP/s of 100
      Op("ridge", 5'000'000, 1'000'000, 1e5),      // I = 5 exactly: compute-bound
      Op("below", 4'900'000, 1'000'000, 1e5),      // I = 4.9: memory-bound
      Op("instant", 100, 100, 0),                  // no time: achieved 0
  };
  const std::vector<RooflinePoint> points = PlaceOnRoofline(ops, Peaks());
  ASSERT_EQ(points.size(), 5u);
  EXPECT_EQ(points[0].name, "low") << "the order of the input";

  const RooflinePoint* low = Find(points, "low");
  EXPECT_DOUBLE_EQ(low->intensity, 1.0);
  EXPECT_NEAR(low->seconds, 1e-4, 1e-15);
  EXPECT_NEAR(low->achieved_gflops, 10.0, 1e-9);
  EXPECT_DOUBLE_EQ(low->attainable_gflops, 20.0) << "intensity x bandwidth";
  EXPECT_NEAR(low->percent_of_attainable, 50.0, 1e-9);
  EXPECT_TRUE(low->memory_bound);

  const RooflinePoint* high = Find(points, "high");
  EXPECT_DOUBLE_EQ(high->intensity, 100.0);
  EXPECT_NEAR(high->achieved_gflops, 50.0, 1e-9);
  EXPECT_DOUBLE_EQ(high->attainable_gflops, 100.0) << "the compute roof";
  EXPECT_NEAR(high->percent_of_attainable, 50.0, 1e-9);
  EXPECT_FALSE(high->memory_bound);

  EXPECT_FALSE(Find(points, "ridge")->memory_bound);
  EXPECT_DOUBLE_EQ(Find(points, "ridge")->attainable_gflops, 100.0);
  EXPECT_TRUE(Find(points, "below")->memory_bound);
  EXPECT_NEAR(Find(points, "below")->attainable_gflops, 98.0, 1e-9);
  EXPECT_EQ(Find(points, "instant")->achieved_gflops, 0.0);
}

TEST(PlaceOnRooflineTest, SkipsOpsWithoutFlopsOrBytes) {
  const std::vector<OpStats> ops = {Op("copy", 0, 4096, 1e3), Op("no_bytes", 100, 0, 1e3),
                                    Op("matmul", 100, 10, 1e3)};
  const std::vector<RooflinePoint> points = PlaceOnRoofline(ops, Peaks());
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].name, "matmul");
}

// Checks that every start tag has its end tag, in order (self-closing tags count as
// both); returns "" when balanced, else what was wrong.
std::string TagBalance(const std::string& xml) {
  std::vector<std::string> open;
  for (size_t i = xml.find('<'); i != std::string::npos; i = xml.find('<', i + 1)) {
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    const std::string tag = xml.substr(i + 1, end - i - 1);
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?' || tag[0] == '!') continue;
    const size_t name_end = tag.find_first_of(" \t\n/", tag[0] == '/' ? 1 : 0);
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "unexpected </" + name + ">";
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, name_end));
    }
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

TEST(TagBalanceTest, FindsUnbalancedTags) {
  EXPECT_EQ(TagBalance("<svg><g><line/></g><text x=\"1\">a</text></svg>"), "");
  EXPECT_NE(TagBalance("<svg><g></svg>"), "");
  EXPECT_NE(TagBalance("<svg><text>"), "");
}

TEST(RooflineSvgTest, HasTheRoofsTheLabelsAndBalancedTags) {
  std::vector<OpStats> ops = {
      Op("matmul", 1'000'000'000, 10'000'000, 2e7), Op("add", 1'000'000, 12'000'000, 1e6),
      Op("relu", 1'000'000, 8'000'000, 1e6), Op("a<b & \"c\"", 3'000'000, 1'000'000, 1e5)};
  const std::vector<RooflinePoint> points = PlaceOnRoofline(ops, Peaks());
  const std::string svg = RooflineSvg(points, Peaks(), "MLP forward & backward");
  EXPECT_TRUE(absl::StartsWith(svg, "<svg")) << svg.substr(0, 80);
  EXPECT_TRUE(absl::StrContains(svg, "</svg>"));
  for (const char* text :
       {">matmul<", ">add<", ">relu<", "a&lt;b &amp; &quot;c&quot;", "MLP forward &amp; backward",
        "memory roof 20.0 GB/s", "compute roof 100.0 GFLOP/s", "ridge 5.00 FLOP/B"}) {
    EXPECT_TRUE(absl::StrContains(svg, text)) << text;
  }
  EXPECT_EQ(TagBalance(svg), "");
  EXPECT_FALSE(absl::StrContains(svg, "nan"));
  EXPECT_FALSE(absl::StrContains(svg, "inf"));
  // Decade tick labels on both axes: 0.1 .. 100 FLOP/byte and 1 .. 1000 GFLOP/s at least.
  for (const char* tick : {">0.1<", ">1<", ">10<", ">100<", ">1000<"}) {
    EXPECT_TRUE(absl::StrContains(svg, tick)) << tick;
  }
}

TEST(RooflineSvgTest, DegenerateInputStillMakesAFiniteSvg) {
  for (const MachinePeaks& peaks : {MachinePeaks{}, Peaks()}) {
    const std::string svg = RooflineSvg({}, peaks, "empty");
    EXPECT_EQ(TagBalance(svg), "");
    EXPECT_FALSE(absl::StrContains(svg, "nan"));
    EXPECT_FALSE(absl::StrContains(svg, "inf"));
  }
}

TEST(RooflineTableTest, ListsEachOpWithItsBound) {
  const std::vector<RooflinePoint> points = PlaceOnRoofline(
      {Op("matmul", 1'000'000'000, 10'000'000, 2e7), Op("relu", 1'000'000, 8'000'000, 1e6)},
      Peaks());
  const std::string table = RooflineTable(points, Peaks());
  EXPECT_TRUE(absl::StrContains(table, "ridge 5.00 FLOP/byte")) << table;
  for (const std::string& line : {std::string("matmul"), std::string("relu")}) {
    EXPECT_TRUE(absl::StrContains(table, line)) << table;
  }
  EXPECT_TRUE(absl::StrContains(table, "compute")) << table;
  EXPECT_TRUE(absl::StrContains(table, "memory")) << table;
}

TEST(IsaTest, SupportMatchesTheCpuAndBestIsTheWidest) {
  __builtin_cpu_init();
  EXPECT_EQ(IsaSupported(Isa::kAvx512), static_cast<bool>(__builtin_cpu_supports("avx512f")));
  EXPECT_EQ(IsaSupported(Isa::kAvx2Fma),
            __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  const Isa best = BestIsa();
  EXPECT_TRUE(IsaSupported(best));
  if (IsaSupported(Isa::kAvx512)) {
    EXPECT_EQ(best, Isa::kAvx512);
  }
  EXPECT_STREQ(IsaName(Isa::kAvx2Fma), "avx2+fma");
}

PeakOptions Short() {
  PeakOptions options;
  options.seconds = 0.02;
  options.repetitions = 1;
  return options;
}

TEST(MeasurePeakTest, EveryPathTheCpuHasMeasuresSomething) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512, Isa::kAuto}) {
    const double gflops = MeasurePeakGflops(isa, 1, Short());
    if (IsaSupported(isa)) {
      EXPECT_GT(gflops, 0.0) << IsaName(isa);
    } else {
      EXPECT_EQ(gflops, 0.0) << IsaName(isa) << " must not run on this CPU";
    }
  }
  EXPECT_GT(MeasurePeakGflops(Isa::kScalar, 2, Short()), 0.0) << "two threads";
  EXPECT_EQ(MeasurePeakGflops(Isa::kScalar, 0, Short()), 0.0);
}

TEST(MeasureTriadTest, SmallArraysOnOneAndTwoThreads) {
  TriadOptions options;
  options.repetitions = 2;
  EXPECT_GT(MeasureTriadBandwidthGBs(1 << 16, 1, options), 0.0);
  EXPECT_GT(MeasureTriadBandwidthGBs((1 << 16) + 3, 2, options), 0.0) << "uneven split";
  EXPECT_EQ(MeasureTriadBandwidthGBs(1 << 16, 0, options), 0.0);
  EXPECT_EQ(MeasureTriadBandwidthGBs(1, 2, options), 0.0);
}

TEST(MeasureTriadTest, DefaultArraysAreFarLargerThanTheCache) {
  EXPECT_GE(DefaultTriadElements() * 12, int64_t{128} << 20);
}

TEST(MeasureMachineTest, FillsEveryField) {
  MachineOptions options;
  options.isa = Isa::kScalar;
  options.peak = Short();
  options.triad.repetitions = 1;
  options.triad_elements = 1 << 16;
  const MachinePeaks peaks = MeasureMachine(1, options);
  EXPECT_GT(peaks.peak_gflops, 0.0);
  EXPECT_GT(peaks.bandwidth_gbs, 0.0);
  EXPECT_EQ(peaks.isa, "scalar");
  EXPECT_EQ(peaks.threads, 1);
  EXPECT_TRUE(absl::StrContains(DescribeMachine(peaks), "scalar, 1 thread"))
      << DescribeMachine(peaks);
}

}  // namespace
}  // namespace tt::prof
