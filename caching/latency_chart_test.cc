#include "caching/latency_chart.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::cache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

LatencySeries Line(const std::string& label, double us_at_0, double us_per_position) {
  LatencySeries s{label, "#1f77b4"};
  for (int p = 32; p < 544; p += 2) s.points.emplace_back(p, us_at_0 + us_per_position * p);
  s.marks = {{50, us_at_0 + us_per_position * 50}, {500, us_at_0 + us_per_position * 500}};
  return s;
}

TEST(LatencyChartTest, DrawsEverySeriesWithItsMarksAndLegend) {
  const std::string svg =
      LatencyChartSvg({Line("no cache", 1000, 160), Line("KV cache", 130, 0.2)}, "Latency",
                      "position 500 vs 50", {"median of 9 steps"});
  EXPECT_THAT(svg, StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("</svg>\n"));
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  EXPECT_EQ(Count(svg, "<circle"), 4);
  EXPECT_THAT(svg, HasSubstr(">no cache</text>"));
  EXPECT_THAT(svg, HasSubstr(">KV cache</text>"));
  EXPECT_THAT(svg, HasSubstr(">median of 9 steps</text>"));
  // 130 us .. 81 ms: decades from 100 us to 100 ms, and position ticks up to 600.
  EXPECT_THAT(svg, HasSubstr(">100 us</text>"));
  EXPECT_THAT(svg, HasSubstr(">100.0 ms</text>"));
  EXPECT_THAT(svg, Not(HasSubstr(">10 us</text>")));
  EXPECT_THAT(svg, HasSubstr(">600</text>"));
  EXPECT_THAT(svg, Not(HasSubstr(">700</text>")));
  // Mark labels: microseconds below a millisecond, milliseconds above.
  EXPECT_THAT(svg, HasSubstr(">140 us</text>"));
  EXPECT_THAT(svg, HasSubstr(">81.0 ms</text>"));
}

TEST(LatencyChartTest, EscapesText) {
  LatencySeries s{"a<b & \"c\"", "#000"};
  s.points = {{1, 5}};
  const std::string svg = LatencyChartSvg({s}, "x < y", "p & q", {"<note>"});
  EXPECT_THAT(svg, HasSubstr("a&lt;b &amp; &quot;c&quot;"));
  EXPECT_THAT(svg, HasSubstr(">x &lt; y</text>"));
  EXPECT_THAT(svg, HasSubstr(">p &amp; q</text>"));
  EXPECT_THAT(svg, HasSubstr(">&lt;note&gt;</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("<note>")));
}

TEST(LatencyChartTest, SkipsValuesALogAxisCannotShow) {
  LatencySeries s{"s", "#000"};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  s.points = {{10, 0}, {20, -3}, {30, nan}, {40, inf}, {50, 20}};
  s.marks = {{10, 0}, {50, 20}};
  const std::string svg = LatencyChartSvg({s}, "t", "", {});
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("inf")));
  EXPECT_EQ(Count(svg, "<circle"), 1);
  // Only the point at 50 is drawn: the polyline holds one coordinate pair.
  const size_t at = svg.find("points=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string points = svg.substr(at + 8, svg.find('"', at + 8) - at - 8);
  EXPECT_EQ(Count(points, ","), 1);
}

TEST(LatencyChartTest, EmptyInputStillGivesAValidChart) {
  for (const auto& series : {std::vector<LatencySeries>{}, std::vector<LatencySeries>{LatencySeries("e", "#000")}}) {
    const std::string svg = LatencyChartSvg(series, "empty", "", {});
    EXPECT_THAT(svg, StartsWith("<svg"));
    EXPECT_THAT(svg, HasSubstr("</svg>\n"));
    EXPECT_THAT(svg, HasSubstr(">1 us</text>"));
    EXPECT_THAT(svg, HasSubstr(">10 us</text>"));
    EXPECT_THAT(svg, Not(HasSubstr("nan")));
  }
}

}  // namespace
}  // namespace tt::cache
