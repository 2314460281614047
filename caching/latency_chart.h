// A self-contained SVG chart of per-token latency against position: the picture of why a
// KV cache matters (the cached line stays flat, the uncached one climbs). Log-scale
// latency (whole decades, minor lines at 2..9), linear position, a legend, and dots with
// value labels at chosen positions. No scripts, fonts or external files; the style is
// profiling/roofline.h's.
//
//   LatencySeries cached{"KV cache: flat", "#1f77b4"};
//   for (int64_t p = 32; p < 544; ++p) cached.points.push_back({p, us_at(p)});
//   cached.marks = {{50, us_at(50)}, {500, us_at(500)}};
//   std::string svg = LatencyChartSvg({cached, uncached}, "Per-token latency vs position",
//                                     "position 500 vs 50: 1.2x", {"median of 9 steps"});
#ifndef TT_CACHING_LATENCY_CHART_H_
#define TT_CACHING_LATENCY_CHART_H_

#include <string>
#include <utility>
#include <vector>

namespace tt::cache {

struct LatencySeries {
  LatencySeries() = default;
  LatencySeries(std::string label_, std::string color_)
      : label(std::move(label_)), color(std::move(color_)) {}

  std::string label;  // legend text (escaped here)
  std::string color;  // an SVG color, e.g. "#1f77b4"
  // (position, latency in microseconds), drawn as one line in this order. Points whose
  // latency is not positive and finite are left out (a log axis cannot show them).
  std::vector<std::pair<double, double>> points;
  // Dots with a value label ("137 us", "21.3 ms"), same units.
  std::vector<std::pair<double, double>> marks;
};

// The chart, 900 x 540 px. The position axis runs from 0 to the largest position rounded
// up to a multiple of 100 (gridlines every 100); the latency axis covers every drawn value
// in whole decades (at least one). Series are drawn in order, so the last one is on top.
// `notes` are extra grey lines under the legend. Any input gives a valid SVG (no series
// or no points: empty axes from 1 to 10 us).
std::string LatencyChartSvg(const std::vector<LatencySeries>& series, const std::string& title,
                            const std::string& subtitle, const std::vector<std::string>& notes);

}  // namespace tt::cache

#endif  // TT_CACHING_LATENCY_CHART_H_
