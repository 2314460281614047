#include "compression/accuracy_chart.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tt::compress {

// Accuracy (percent) vs sparsity, one panel per model: the pruned models without and
// with fine-tuning and the dense control. Points below the panel's floor (pruning
// without fine-tuning can fall far) sit on the floor as a triangle with their value.
std::string AccuracySvg(const std::vector<Sweep>& sweeps) {
  const double pw = 400, ph = 330, top = 70, left0 = 70, gap = 90;
  const double width = left0 + sweeps.size() * (pw + gap) - gap + 30, height = top + ph + 140;
  std::string s = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n"
      "<text x=\"%.1f\" y=\"30\" font-size=\"17\" font-weight=\"bold\" text-anchor=\"middle\" "
      "fill=\"#222\">Fashion-MNIST test accuracy vs global magnitude sparsity</text>\n",
      width, height, width, height, width, height, width / 2);
  const char* kNoFt = "#9a9a9a";
  const char* kFt = "#1f77b4";
  const char* kControl = "#d62728";
  const char* kGradual = "#2ca02c";
  for (size_t panel = 0; panel < sweeps.size(); ++panel) {
    const Sweep& w = sweeps[panel];
    const double left = left0 + panel * (pw + gap);
    // The y range: every fine-tuned point, both dense figures, 1 point of air above and
    // 3 below, on a grid of 1, 2, 5 or 10 points.
    double lo = std::min(w.base_accuracy, w.control_accuracy),
           hi = std::max(w.base_accuracy, w.control_accuracy);
    for (const SweepPoint& p : w.points) {
      lo = std::min(lo, p.finetuned_accuracy);
      hi = std::max(hi, p.finetuned_accuracy);
    }
    lo = 100 * lo - 3;
    hi = 100 * hi + 1;
    double step = 1;
    for (double c : {1.0, 2.0, 5.0, 10.0}) {
      step = c;
      if ((hi - lo) / c <= 8) break;
    }
    lo = std::max(0.0, std::floor(lo / step) * step);
    hi = std::min(100.0, std::ceil(hi / step) * step);
    // x: -log10(kept fraction), so that 90% and 95% are as far apart as 50% and 70%.
    const double xmax = -std::log10(1 - 0.97);
    auto X = [&](double sparsity) { return left + pw * -std::log10(1 - sparsity) / xmax; };
    auto Y = [&](double acc) { return top + ph * (hi - 100 * acc) / (hi - lo); };
    absl::StrAppendFormat(&s,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\" "
                          "text-anchor=\"middle\" fill=\"#222\">%s</text>\n",
                          left + pw / 2, top - 12, w.title);
    for (double v = lo; v <= hi + 1e-9; v += step) {
      const double y = top + ph * (hi - v) / (hi - lo);
      absl::StrAppendFormat(
          &s,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n"
          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
          "fill=\"#333\">%g%%</text>\n",
          left, y, left + pw, y, left - 6, y + 4, v);
    }
    for (int t : {0, 50, 70, 80, 90, 95}) {
      const double x = X(t / 100.0);
      absl::StrAppendFormat(
          &s,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>\n"
          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
          "fill=\"#333\">%d%%</text>\n",
          x, top, x, top + ph, x, top + ph + 18, t);
    }
    absl::StrAppendFormat(
        &s,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
        "stroke=\"#444\"/>\n"
        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
        "fill=\"#222\">sparsity (axis: log of the fraction kept)</text>\n",
        left, top, pw, ph, left + pw / 2, top + ph + 40);
    if (panel == 0) {
      absl::StrAppendFormat(
          &s,
          "<text x=\"18\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
          "fill=\"#222\" transform=\"rotate(-90 18 %.1f)\">test accuracy</text>\n",
          top + ph / 2, top + ph / 2);
    }
    // The dense control: a dashed horizontal line.
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>\n",
                          left, Y(w.control_accuracy), left + pw, Y(w.control_accuracy), kControl);
    // The curves: no fine-tuning, one-shot + fine-tuning, gradual. The fine-tuned ones
    // start at the control (0% pruned, fine-tuned the same way).
    for (int curve = 0; curve < 3; ++curve) {
      const bool ft = curve > 0;
      std::vector<std::pair<double, double>> pts = {
          {0.0, ft ? w.control_accuracy : w.base_accuracy}};
      for (const SweepPoint& p : w.points) {
        pts.emplace_back(p.sparsity, curve == 0   ? p.pruned_accuracy
                                     : curve == 1 ? p.finetuned_accuracy
                                                  : p.gradual_accuracy);
      }
      const char* color = curve == 0 ? kNoFt : curve == 1 ? kFt : kGradual;
      std::string poly;
      for (const auto& [sp, acc] : pts) {
        absl::StrAppendFormat(&poly, "%.1f,%.1f ", X(sp), std::min(Y(acc), top + ph));
      }
      absl::StrAppendFormat(
          &s,
          "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
          "%s/>\n",
          poly, color, ft ? "" : "stroke-dasharray=\"4,3\" ");
      for (size_t i = 0; i < pts.size(); ++i) {
        const double x = X(pts[i].first), y = Y(pts[i].second);
        if (y > top + ph) {  // below the floor: a triangle on it, with the value
          absl::StrAppendFormat(&s,
                                "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n"
                                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" "
                                "fill=\"%s\">%.1f%%</text>\n",
                                x - 5, top + ph - 8, x + 5, top + ph - 8, x, top + ph, color, x - 7,
                                top + ph - 3, color, 100 * pts[i].second);
          continue;
        }
        absl::StrAppendFormat(&s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x, y,
                              color);
        if (ft && i > 0) {
          // Points vs the control, above the dot of the upper fine-tuned curve and below
          // the dot of the lower one, so that the two labels do not collide.
          const SweepPoint& p = w.points[i - 1];
          const bool upper = curve == 1 ? p.finetuned_accuracy >= p.gradual_accuracy
                                        : p.gradual_accuracy > p.finetuned_accuracy;
          absl::StrAppendFormat(
              &s,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
              "fill=\"%s\">%+.2f</text>\n",
              x, upper ? y - 7 : y + 15, color, 0.0 + 100 * (pts[i].second - w.control_accuracy));
        }
      }
    }
  }
  // The legend, under the panels.
  const double ly = top + ph + 70;
  const int epochs = sweeps.empty() ? 1 : sweeps[0].finetune_epochs;
  const std::string ft_label = absl::StrCat("one-shot pruning, then fine-tuned ", epochs,
                                            " epoch(s) with the masks (label: points vs control)");
  const std::string gradual_label =
      absl::StrCat("gradual pruning during the same ", epochs, " epoch(s) of fine-tuning");
  struct Entry {
    const char* color;
    const char* dash;
    std::string label;
  };
  const Entry entries[] = {{kFt, "", ft_label},
                           {kGradual, "", gradual_label},
                           {kNoFt, "stroke-dasharray=\"4,3\" ", "pruned, no fine-tuning"},
                           {kControl, "stroke-dasharray=\"6,4\" ",
                            "dense control, fine-tuned the same epochs from the same model"}};
  for (size_t i = 0; i < 4; ++i) {
    const double y = ly + 18 * i;
    absl::StrAppendFormat(&s,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"2\" %s/>\n"
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#222\">%s</text>\n",
                          left0, y, left0 + 30, y, entries[i].color, entries[i].dash, left0 + 38,
                          y + 4, entries[i].label);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace tt::compress
