#include "caching/latency_chart.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace tt::cache {
namespace {

std::string XmlEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

bool Drawable(double us) { return std::isfinite(us) && us > 0; }

std::string FormatLatency(double us) {
  if (us >= 1000) return absl::StrFormat("%.1f ms", us / 1e3);
  return absl::StrFormat("%.0f us", us);
}

}  // namespace

std::string LatencyChartSvg(const std::vector<LatencySeries>& series, const std::string& title,
                            const std::string& subtitle, const std::vector<std::string>& notes) {
  const double left = 84, top = 70, width = 600, height = 400;
  double lo = 0, hi = 0, x_last = 0;
  for (const LatencySeries& s : series) {
    for (const auto* v : {&s.points, &s.marks}) {
      for (const auto& [p, us] : *v) {
        if (!Drawable(us) || !std::isfinite(p)) continue;
        lo = lo > 0 ? std::min(lo, us) : us;
        hi = std::max(hi, us);
        x_last = std::max(x_last, p);
      }
    }
  }
  if (!(hi > 0)) lo = 1, hi = 10;
  const int y0 = static_cast<int>(std::floor(std::log10(lo)));
  const int y1 = std::max(y0 + 1, static_cast<int>(std::ceil(std::log10(hi))));
  const double x_max = std::max(100.0, std::ceil(x_last / 100) * 100);
  auto X = [&](double p) { return left + std::clamp(p, 0.0, x_max) / x_max * width; };
  auto Y = [&](double us) {
    const double l = std::log10(std::max(us, std::pow(10.0, y0)));
    return top + height - (l - y0) / (y1 - y0) * height;
  };
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"540\" "
      "viewBox=\"0 0 900 540\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect x=\"0\" y=\"0\" width=\"900\" height=\"540\" fill=\"white\"/>\n"
      "<text x=\"%.1f\" y=\"30\" font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\" "
      "fill=\"#222\">%s</text>\n"
      "<text x=\"%.1f\" y=\"52\" font-size=\"13\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n",
      left + width / 2, XmlEscape(title), left + width / 2, XmlEscape(subtitle));
  // Grid: decades of latency with faint lines at 2..9 times each, positions every 100.
  for (int k = y0; k <= y1; ++k) {
    for (int m = 1; m <= (k < y1 ? 9 : 1); ++m) {
      const double y = Y(m * std::pow(10.0, k));
      absl::StrAppendFormat(&s,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                            left, y, left + width, y, m == 1 ? "#c8c8c8" : "#ececec");
    }
    absl::StrAppendFormat(&s,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
                          "fill=\"#333\">%s</text>\n",
                          left - 8, Y(std::pow(10.0, k)) + 4, FormatLatency(std::pow(10.0, k)));
  }
  for (double p = 0; p <= x_max; p += 100) {
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c8c8c8\"/>\n"
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                          "fill=\"#333\">%.0f</text>\n",
                          X(p), top, X(p), top + height, X(p), top + height + 18, p);
  }
  absl::StrAppendFormat(
      &s,
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n"
      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\">position "
      "of the token the step runs the model on</text>\n"
      "<text x=\"22\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\" "
      "transform=\"rotate(-90 22 %.1f)\">latency per token (log scale)</text>\n",
      left, top, width, height, left + width / 2, top + height + 42, top + height / 2,
      top + height / 2);
  for (const LatencySeries& ser : series) {
    absl::StrAppendFormat(&s,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                          "stroke-linejoin=\"round\" points=\"",
                          XmlEscape(ser.color));
    for (const auto& [p, us] : ser.points) {
      if (Drawable(us) && std::isfinite(p)) absl::StrAppendFormat(&s, "%.1f,%.1f ", X(p), Y(us));
    }
    s += "\"/>\n";
  }
  for (const LatencySeries& ser : series) {
    for (const auto& [p, us] : ser.marks) {
      if (!Drawable(us) || !std::isfinite(p)) continue;
      // A white halo keeps the label readable over the grid and the other line.
      absl::StrAppendFormat(&s,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"white\" "
                            "stroke-width=\"1.5\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                            "text-anchor=\"middle\" fill=\"#222\" stroke=\"white\" "
                            "stroke-width=\"3\" paint-order=\"stroke\">%s</text>\n",
                            X(p), Y(us), XmlEscape(ser.color), X(p), Y(us) - 9,
                            FormatLatency(us));
    }
  }
  // The legend: one row per series, then the notes.
  const double lx = left + width + 16, ly = top;
  const double box = 36 + 22 * series.size() + 15 * notes.size() + 8;
  absl::StrAppendFormat(&s,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"190\" height=\"%.1f\" rx=\"5\" "
                        "fill=\"#fafafa\" stroke=\"#cccccc\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                        "font-size=\"13\" font-weight=\"bold\" fill=\"#222\">legend</text>\n",
                        lx, ly, box, lx + 12, ly + 22);
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = ly + 42 + 22 * i;
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"2.5\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                          "fill=\"#222\">%s</text>\n",
                          lx + 12, y, lx + 36, y, XmlEscape(series[i].color), lx + 44, y + 4,
                          XmlEscape(series[i].label));
  }
  for (size_t i = 0; i < notes.size(); ++i) {
    absl::StrAppendFormat(&s,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">%s</text>\n",
                          lx + 12, ly + 42 + 22 * series.size() + 15 * i, XmlEscape(notes[i]));
  }
  s += "</svg>\n";
  return s;
}

}  // namespace tt::cache
