#include "benchmarking/leaderboard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "benchmarking/result_io.h"
#include "profiling/statistics.h"

namespace tt::bench {
namespace {

using tt::prof::FormatDuration;

std::string SubmissionName(const proto::ResultPayload& p) {
  return p.submitter().empty() ? p.recipe().name()
                               : absl::StrCat(p.submitter(), "/", p.recipe().name());
}

std::string EventName(const EventBoard& e) { return absl::StrCat(e.task, " / ", e.scenario); }

// The speedup as ranked: rounded to 3 significant digits.
double RoundedSpeedup(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3g", x);
  return std::strtod(buffer, nullptr);
}

std::string FormatBytes(int64_t bytes) {
  if (bytes <= 0) return "-";
  const double b = static_cast<double>(bytes);
  if (b < 1024) return absl::StrCat(bytes, " B");
  if (b < 1024 * 1024) return absl::StrFormat("%.1f KiB", b / 1024);
  return absl::StrFormat("%.2f MiB", b / (1024 * 1024));
}

// "p90 latency" / "samples/s" value of an entry, for display.
std::string HeadlineText(const proto::ResultPayload& p) {
  absl::StatusOr<HeadlineMetric> m = HeadlineMetricOf(p);
  if (!m.ok()) return "-";
  if (absl::EndsWith(m->name, "_ns")) return FormatDuration(m->value);
  return absl::StrFormat("%.4g/s", m->value);
}

std::string HeadlineLabel(const std::string& scenario, const proto::ResultPayload& p) {
  if (scenario == "Offline") return "Samples/s";
  const double pct = p.performance().early_stopping().percentile();
  return absl::StrFormat("p%g latency (early stop)", pct > 0 ? pct : 90.0);
}

std::string AccuracyText(const proto::Accuracy& a) {
  if (a.metric().empty()) return "-";
  return absl::StrFormat("%.4f%s", a.value(), a.target_met() ? "" : " (below target)");
}

// Cost for the Pareto chart, lower is better: the latency metric, or the time per sample
// (1 / throughput) for Offline. 0 when unknown.
double ParetoCost(const proto::ResultPayload& p) {
  absl::StatusOr<HeadlineMetric> m = HeadlineMetricOf(p);
  if (!m.ok() || !(m->value > 0)) return 0.0;
  return m->lower_is_better ? m->value : 1e9 / m->value;
}

// Cuts to at most `max_chars` characters (UTF-8 code points), adding "..." if cut.
std::string Truncate(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars == max_chars) return s.substr(0, i) + "...";
    ++chars;
  }
  return s;
}

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

// --- Tables, built once and rendered three ways -----------------------------------------

struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;  // right-align this column
  std::vector<std::vector<std::string>> rows;
};

std::string TableToText(const Table& t) {
  std::vector<size_t> width(t.header.size(), 0);
  for (size_t c = 0; c < t.header.size(); ++c) width[c] = DisplayWidth(t.header[c]);
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = " ";
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - DisplayWidth(cells[c]), ' ');
      absl::StrAppend(&out, " ", t.right[c] ? pad + cells[c] : cells[c] + pad, " ");
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(t.header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string MarkdownEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|':
      case '\\':
      case '*':
      case '_':
      case '`':
      case '[':
      case ']':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string TableToMarkdown(const Table& t) {
  std::string out = "|";
  for (const std::string& h : t.header) absl::StrAppend(&out, " ", MarkdownEscape(h), " |");
  out += "\n|";
  for (size_t c = 0; c < t.header.size(); ++c) out += t.right[c] ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const std::string& cell : row) absl::StrAppend(&out, " ", MarkdownEscape(cell), " |");
    out += "\n";
  }
  return out;
}

std::string TableToHtml(const Table& t, absl::string_view css_class = "") {
  std::string out = css_class.empty()
                        ? "<table>\n<thead><tr>"
                        : absl::StrCat("<table class=\"", css_class, "\">\n<thead><tr>");
  for (const std::string& h : t.header) absl::StrAppend(&out, "<th>", HtmlEscape(h), "</th>");
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&out, t.right[c] ? "<td class=\"num\">" : "<td>", HtmlEscape(row[c]),
                      "</td>");
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  return out;
}

Table RankedTable(const EventBoard& e) {
  Table t;
  const proto::ResultPayload* first = e.ranked.empty() ? nullptr : &e.ranked.front().payload;
  t.header = {"Rank",        "Submission",
              "Speedup",     first ? HeadlineLabel(e.scenario, *first) : std::string("Metric"),
              "Accuracy",    "Model size",
              "Peak memory", "System"};
  t.right = {true, false, true, true, true, true, true, false};
  for (const EventEntry& x : e.ranked) {
    const proto::SystemDescription& s = x.payload.system();
    std::vector<std::string> system;
    if (!s.cpu_model().empty()) system.push_back(Truncate(s.cpu_model(), 32));
    if (!s.kernel_isa().empty()) system.push_back(s.kernel_isa());
    if (x.payload.load().busy()) system.push_back("BUSY");
    t.rows.push_back({absl::StrCat(x.rank), x.submission, FormatSpeedup(x.speedup),
                      HeadlineText(x.payload), AccuracyText(x.payload.accuracy()),
                      FormatBytes(x.payload.model_size_bytes()),
                      FormatBytes(x.payload.peak_memory_bytes()),
                      system.empty() ? "-" : absl::StrJoin(system, ", ")});
  }
  return t;
}

Table UnrankedTable(const EventBoard& e) {
  Table t;
  t.header = {"Submission", "Speedup", "Why not ranked", "File"};
  t.right = {false, true, false, false};
  for (const EventEntry& x : e.unranked) {
    t.rows.push_back({x.submission, x.speedup > 0 ? FormatSpeedup(x.speedup) : "-",
                      absl::StrJoin(x.reasons, "; "), x.path});
  }
  return t;
}

Table AllAroundTable(const Leaderboard& b) {
  Table t;
  t.header = {"Rank", "Submission", "Score (geomean)", "Events"};
  t.right = {true, false, true, true};
  for (const EventBoard& e : b.events) {
    t.header.push_back(EventName(e));
    t.right.push_back(true);
  }
  for (const AllAroundEntry& a : b.all_around) {
    std::vector<std::string> row = {
        a.rank > 0 ? absl::StrCat(a.rank) : "-", a.submission, FormatSpeedup(a.score),
        absl::StrCat(a.events_entered, a.complete ? "" : " (incomplete)")};
    for (double s : a.speedups) row.push_back(s > 0 ? FormatSpeedup(s) : "-");
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string Header(const Leaderboard& b) {
  int ranked = 0, unranked = 0;
  for (const EventBoard& e : b.events) {
    ranked += static_cast<int>(e.ranked.size());
    unranked += static_cast<int>(e.unranked.size());
  }
  return absl::StrCat(b.source.empty() ? "" : absl::StrCat("from ", b.source, ": "), b.files_read,
                      " result files; ", ranked, " ranked, ", unranked, " not ranked, ",
                      b.rejected.size(), " rejected");
}

constexpr char kRulesText[] =
    "Ranked by speedup over the baseline measured in the same run, among valid results; "
    "speedups equal to 3 significant digits tie (1, 2, 2, 4). All-around: geometric mean "
    "of the speedups; only submissions ranked in every event are ranked.";

// --- SVG charts -------------------------------------------------------------------------

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

std::string SpeedupBars(const EventBoard& e) {
  if (e.ranked.empty()) return "";
  const double left = 230, right_pad = 70, bar = 18, gap = 6, top = 24;
  const double width = 720;
  const double height = top + (bar + gap) * static_cast<double>(e.ranked.size()) + 24;
  double max_speedup = 1.0;
  for (const EventEntry& x : e.ranked) max_speedup = std::max(max_speedup, x.speedup);
  max_speedup *= 1.05;
  auto xpos = [&](double s) { return left + (width - left - right_pad) * s / max_speedup; };
  std::string svg = absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Num(width),
                                 "\" height=\"", Num(height), "\" viewBox=\"0 0 ", Num(width), " ",
                                 Num(height), "\" role=\"img\">\n", "<title>",
                                 HtmlEscape(absl::StrCat("Speedup over baseline: ", EventName(e))),
                                 "</title>\n", "<text x=\"", Num(left),
                                 "\" y=\"16\" class=\"caption\">speedup over baseline "
                                 "(higher is better)</text>\n");
  double y = top;
  for (const EventEntry& x : e.ranked) {
    absl::StrAppend(
        &svg, "<text x=\"", Num(left - 6), "\" y=\"", Num(y + bar - 5), "\" text-anchor=\"end\">",
        HtmlEscape(Truncate(x.submission, 32)), "</text>\n", "<rect x=\"", Num(left), "\" y=\"",
        Num(y), "\" width=\"", Num(std::max(1.0, xpos(x.speedup) - left)), "\" height=\"", Num(bar),
        "\" class=\"bar\"><title>", HtmlEscape(x.submission), ": ", FormatSpeedup(x.speedup),
        "</title></rect>\n", "<text x=\"", Num(xpos(x.speedup) + 4), "\" y=\"", Num(y + bar - 5),
        "\">", FormatSpeedup(x.speedup), "</text>\n");
    y += bar + gap;
  }
  const double x1 = xpos(1.0);
  absl::StrAppend(&svg, "<line x1=\"", Num(x1), "\" y1=\"", Num(top - 4), "\" x2=\"", Num(x1),
                  "\" y2=\"", Num(y), "\" class=\"baseline\"/>\n", "<text x=\"", Num(x1), "\" y=\"",
                  Num(y + 14), "\" text-anchor=\"middle\">1x baseline</text>\n", "</svg>\n");
  return svg;
}

std::string ParetoChart(const EventBoard& e) {
  struct Point {
    double cost, quality;
    const EventEntry* entry;
  };
  std::vector<Point> points;
  bool higher_is_better = true;
  std::string metric;
  for (const EventEntry& x : e.ranked) {
    const double cost = ParetoCost(x.payload);
    if (cost <= 0 || x.payload.accuracy().metric().empty()) continue;
    if (metric.empty()) {
      metric = x.payload.accuracy().metric();
      higher_is_better = x.payload.accuracy().higher_is_better();
    }
    points.push_back({cost, x.payload.accuracy().value(), &x});
  }
  if (points.empty()) return "";
  // The quality target (the first entry's; one task has one), drawn as a dashed line.
  double target = std::nan("");
  for (const EventEntry& x : e.ranked) {
    if (x.payload.accuracy().metric() == metric) {
      target = x.payload.accuracy().target_value();
      break;
    }
  }
  std::vector<std::pair<double, double>> cq;
  for (const Point& p : points) cq.push_back({p.cost, higher_is_better ? p.quality : -p.quality});
  const std::vector<bool> front = ParetoFront(cq);

  const double width = 720, height = 380, ml = 80, mr = 160, mt = 28, mb = 56;
  double cmin = points[0].cost, cmax = cmin, qmin = points[0].quality, qmax = qmin;
  for (const Point& p : points) {
    cmin = std::min(cmin, p.cost);
    cmax = std::max(cmax, p.cost);
    qmin = std::min(qmin, p.quality);
    qmax = std::max(qmax, p.quality);
  }
  if (std::isfinite(target)) {
    qmin = std::min(qmin, target);
    qmax = std::max(qmax, target);
  }
  double lmin = std::log10(cmin), lmax = std::log10(cmax);
  if (lmax - lmin < 0.2) {
    lmin -= 0.1;
    lmax += 0.1;
  }
  const double lpad = 0.05 * (lmax - lmin);
  lmin -= lpad;
  lmax += lpad;
  if (qmax - qmin < 1e-9) {
    const double d = std::max(1e-3, 0.01 * std::fabs(qmax));
    qmin -= d;
    qmax += d;
  }
  const double qpad = 0.08 * (qmax - qmin);
  qmin -= qpad;
  qmax += qpad;
  auto px = [&](double cost) {
    return ml + (width - ml - mr) * (std::log10(cost) - lmin) / (lmax - lmin);
  };
  auto py = [&](double q) { return mt + (height - mt - mb) * (qmax - q) / (qmax - qmin); };

  const bool offline = e.scenario == "Offline";
  std::string svg = absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Num(width), "\" height=\"", Num(height),
      "\" viewBox=\"0 0 ", Num(width), " ", Num(height), "\" role=\"img\">\n", "<title>",
      HtmlEscape(absl::StrCat("Accuracy vs latency: ", EventName(e))), "</title>\n", "<text x=\"",
      Num(ml), "\" y=\"16\" class=\"caption\">", HtmlEscape(metric),
      " vs latency; filled: the Pareto front (nothing is both faster and better)</text>\n",
      "<rect x=\"", Num(ml), "\" y=\"", Num(mt), "\" width=\"", Num(width - ml - mr),
      "\" height=\"", Num(height - mt - mb), "\" class=\"frame\"/>\n");
  // Axes: 5 ticks each.
  for (int i = 0; i <= 4; ++i) {
    const double l = lmin + (lmax - lmin) * i / 4.0;
    const double x = px(std::pow(10.0, l));
    absl::StrAppend(&svg, "<text x=\"", Num(x), "\" y=\"", Num(height - mb + 16),
                    "\" text-anchor=\"middle\">", HtmlEscape(FormatDuration(std::pow(10.0, l))),
                    "</text>\n");
    const double q = qmin + (qmax - qmin) * i / 4.0;
    absl::StrAppend(&svg, "<text x=\"", Num(ml - 6), "\" y=\"", Num(py(q) + 4),
                    "\" text-anchor=\"end\">", absl::StrFormat("%.4g", q), "</text>\n");
  }
  absl::StrAppend(&svg, "<text x=\"", Num(ml + (width - ml - mr) / 2), "\" y=\"", Num(height - 12),
                  "\" text-anchor=\"middle\">",
                  offline ? "time per sample, 1/throughput (log scale; left is faster)"
                          : "early-stopping latency (log scale; left is faster)",
                  "</text>\n", "<text x=\"14\" y=\"", Num(mt + (height - mt - mb) / 2),
                  "\" transform=\"rotate(-90 14 ", Num(mt + (height - mt - mb) / 2),
                  ")\" text-anchor=\"middle\">",
                  HtmlEscape(absl::StrCat(
                      metric, higher_is_better ? " (higher is better)" : " (lower is better)")),
                  "</text>\n");
  // The front: its points by cost, joined.
  std::vector<const Point*> on_front;
  for (size_t i = 0; i < points.size(); ++i) {
    if (front[i]) on_front.push_back(&points[i]);
  }
  std::sort(on_front.begin(), on_front.end(),
            [](const Point* a, const Point* b) { return a->cost < b->cost; });
  if (std::isfinite(target)) {
    absl::StrAppend(&svg, "<line x1=\"", Num(ml), "\" y1=\"", Num(py(target)), "\" x2=\"",
                    Num(width - mr), "\" y2=\"", Num(py(target)), "\" class=\"baseline\"/>\n",
                    "<text x=\"", Num(width - mr + 4), "\" y=\"", Num(py(target) + 4),
                    "\">quality target</text>\n");
  }
  // A staircase: up to the next front point's cost, the best quality on offer is the
  // current point's; at that cost it steps up to the next one's.
  if (on_front.size() > 1) {
    std::string d =
        absl::StrCat("M", Num(px(on_front[0]->cost)), " ", Num(py(on_front[0]->quality)));
    for (size_t i = 1; i < on_front.size(); ++i) {
      absl::StrAppend(&d, " H", Num(px(on_front[i]->cost)), " V", Num(py(on_front[i]->quality)));
    }
    absl::StrAppend(&svg, "<path d=\"", d, "\" class=\"front\"/>\n");
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const std::string name = p.entry->submission;
    absl::StrAppend(
        &svg, "<circle cx=\"", Num(px(p.cost)), "\" cy=\"", Num(py(p.quality)),
        "\" r=\"5\" class=\"", front[i] ? "on-front" : "off-front", "\"><title>",
        HtmlEscape(absl::StrFormat("%s: %s, %s %.4f%s", name, FormatDuration(p.cost), metric,
                                   p.quality, front[i] ? " (Pareto-optimal)" : "")),
        "</title></circle>\n", "<text x=\"", Num(px(p.cost) + 8), "\" y=\"", Num(py(p.quality) + 4),
        "\" class=\"label\">", HtmlEscape(Truncate(name, 24)), "</text>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

constexpr char kCss[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}"
    "table{border-collapse:collapse;margin:0.5em 0 1em 0}"
    "th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f0f0f0}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.unranked td{color:#933}"
    "svg{display:block;margin:0.5em 0 1.5em 0;font-size:12px}"
    "svg .bar{fill:#4878a8}svg .baseline{stroke:#c33;stroke-dasharray:4 3}"
    "svg .frame{fill:none;stroke:#999}svg .front{fill:none;stroke:#d2691e;stroke-width:2}"
    "svg .on-front{fill:#d2691e}svg .off-front{fill:#fff;stroke:#4878a8;stroke-width:1.5}"
    "svg .caption{font-weight:bold}svg .label{font-size:11px}"
    ".note{color:#555}";

}  // namespace

std::string FormatSpeedup(double speedup) {
  const double r = RoundedSpeedup(speedup);
  if (!std::isfinite(r)) return absl::StrCat(r, "x");
  const double a = std::fabs(r);
  if (a >= 100) return absl::StrFormat("%.0fx", r);
  if (a >= 10) return absl::StrFormat("%.1fx", r);
  if (a >= 1) return absl::StrFormat("%.2fx", r);
  return absl::StrFormat("%.3gx", r);
}

std::vector<bool> ParetoFront(const std::vector<std::pair<double, double>>& cq) {
  std::vector<bool> front(cq.size(), true);
  for (size_t i = 0; i < cq.size(); ++i) {
    for (size_t j = 0; j < cq.size() && front[i]; ++j) {
      const bool as_good = cq[j].first <= cq[i].first && cq[j].second >= cq[i].second;
      const bool better = cq[j].first < cq[i].first || cq[j].second > cq[i].second;
      if (as_good && better) front[i] = false;
    }
  }
  return front;
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Leaderboard BuildLeaderboard(std::vector<LoadedResult> results,
                             std::vector<RejectedFile> rejected) {
  Leaderboard board;
  board.files_read = static_cast<int>(results.size() + rejected.size());
  std::sort(results.begin(), results.end(), [](const LoadedResult& a, const LoadedResult& b) {
    return std::tie(a.path, a.result.payload_sha256()) <
           std::tie(b.path, b.result.payload_sha256());
  });

  // Rule 1 (again, for in-memory results) and rule 2: one result per checksum, then the
  // newest per (event, submission).
  std::map<std::string, std::string> path_of_checksum;
  using Key = std::tuple<std::string, int, std::string>;  // task, scenario, submission
  std::map<Key, const LoadedResult*> newest;
  std::vector<std::pair<Key, const LoadedResult*>> all;
  for (const LoadedResult& r : results) {
    absl::Status status = VerifyResult(r.result);
    if (!status.ok()) {
      rejected.push_back({r.path, std::string(status.message())});
      continue;
    }
    auto [it, inserted] = path_of_checksum.emplace(r.result.payload_sha256(), r.path);
    if (!inserted) {
      board.notes.push_back(
          absl::StrCat(r.path, ": same result as ", it->second, " (counted once)"));
      continue;
    }
    const proto::ResultPayload& p = r.result.payload();
    const Key key{p.task(), static_cast<int>(p.scenario()), SubmissionName(p)};
    all.push_back({key, &r});
    auto [slot, fresh] = newest.emplace(key, &r);
    if (!fresh) {
      const LoadedResult* old = slot->second;
      // Sorted by path, so on equal times the later path wins by coming later.
      if (p.end_time_unix_ms() >= old->result.payload().end_time_unix_ms()) slot->second = &r;
    }
  }
  for (const auto& [key, r] : all) {
    const LoadedResult* winner = newest.at(key);
    if (winner != r) {
      board.notes.push_back(absl::StrCat(r->path, ": superseded by the newer ", winner->path,
                                         " (same submission and event)"));
    }
  }

  // Rules 3 and 4: per-event boards.
  std::map<std::pair<std::string, int>, EventBoard> events;
  for (const auto& [key, r] : newest) {
    const proto::ResultPayload& p = r->result.payload();
    EventBoard& e = events[{p.task(), static_cast<int>(p.scenario())}];
    e.task = p.task();
    e.scenario = ScenarioProtoName(p.scenario());
    EventEntry x;
    x.submission = std::get<2>(key);
    x.path = r->path;
    x.payload = p;
    if (p.has_baseline()) x.speedup = p.baseline().speedup();
    if (!p.validity().valid()) {
      x.reasons.assign(p.validity().reasons().begin(), p.validity().reasons().end());
      if (x.reasons.empty()) x.reasons.push_back("invalid");
      e.unranked.push_back(std::move(x));
    } else if (!p.has_baseline()) {
      x.reasons.push_back("no baseline comparison recorded (no speedup to rank by)");
      e.unranked.push_back(std::move(x));
    } else {
      e.ranked.push_back(std::move(x));
    }
  }
  for (auto& [key, e] : events) {
    std::sort(e.ranked.begin(), e.ranked.end(), [](const EventEntry& a, const EventEntry& b) {
      const double ra = RoundedSpeedup(a.speedup), rb = RoundedSpeedup(b.speedup);
      if (ra != rb) return ra > rb;
      return a.submission < b.submission;
    });
    for (size_t i = 0; i < e.ranked.size(); ++i) {
      const bool tie =
          i > 0 && RoundedSpeedup(e.ranked[i].speedup) == RoundedSpeedup(e.ranked[i - 1].speedup);
      e.ranked[i].rank = tie ? e.ranked[i - 1].rank : static_cast<int>(i) + 1;
    }
    std::sort(e.unranked.begin(), e.unranked.end(),
              [](const EventEntry& a, const EventEntry& b) { return a.submission < b.submission; });
    if (!e.ranked.empty()) e.metric = e.ranked.front().payload.baseline().metric();
    board.events.push_back(std::move(e));
  }

  // Rule 5: all-around.
  std::map<std::string, AllAroundEntry> subs;
  int scored_events = 0;
  for (size_t ei = 0; ei < board.events.size(); ++ei) {
    const EventBoard& e = board.events[ei];
    if (!e.ranked.empty()) ++scored_events;
    for (const EventEntry& x : e.ranked) {
      AllAroundEntry& a = subs[x.submission];
      a.submission = x.submission;
      a.speedups.resize(board.events.size(), 0.0);
      a.speedups[ei] = x.speedup;
    }
  }
  for (auto& [name, a] : subs) {
    double log_sum = 0;
    for (double s : a.speedups) {
      if (s > 0) {
        log_sum += std::log(s);
        ++a.events_entered;
      }
    }
    a.score = std::exp(log_sum / a.events_entered);
    a.complete = a.events_entered == scored_events;
    board.all_around.push_back(a);
  }
  std::sort(board.all_around.begin(), board.all_around.end(),
            [](const AllAroundEntry& a, const AllAroundEntry& b) {
              if (a.complete != b.complete) return a.complete;
              if (!a.complete && a.events_entered != b.events_entered) {
                return a.events_entered > b.events_entered;
              }
              const double ra = RoundedSpeedup(a.score), rb = RoundedSpeedup(b.score);
              if (ra != rb) return ra > rb;
              return a.submission < b.submission;
            });
  for (size_t i = 0; i < board.all_around.size() && board.all_around[i].complete; ++i) {
    AllAroundEntry& a = board.all_around[i];
    const bool tie =
        i > 0 && RoundedSpeedup(a.score) == RoundedSpeedup(board.all_around[i - 1].score);
    a.rank = tie ? board.all_around[i - 1].rank : static_cast<int>(i) + 1;
  }

  std::sort(rejected.begin(), rejected.end(), [](const RejectedFile& a, const RejectedFile& b) {
    return std::tie(a.path, a.reason) < std::tie(b.path, b.reason);
  });
  board.rejected = std::move(rejected);
  std::sort(board.notes.begin(), board.notes.end());
  return board;
}

absl::StatusOr<Leaderboard> BuildLeaderboardFromDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("leaderboard: '", dir, "' is not a directory",
                                            ec ? absl::StrCat(" (", ec.message(), ")") : ""));
  }
  std::vector<std::string> paths;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaderboard: cannot list '", dir, "': ", ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("leaderboard: cannot list '", dir, "': ", ec.message()));
    }
    const std::string path = it->path().string();
    if (absl::EndsWith(path, kTextResultSuffix) || absl::EndsWith(path, kBinaryResultSuffix)) {
      paths.push_back(path);
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<LoadedResult> results;
  std::vector<RejectedFile> rejected;
  for (const std::string& path : paths) {
    absl::StatusOr<proto::Result> r = ReadResult(path);
    if (r.ok()) {
      results.push_back({path, *std::move(r)});
    } else {
      // ReadResult's message starts with "result file '<path>': "; the path is shown
      // separately.
      std::string reason(r.status().message());
      const std::string prefix = absl::StrCat("result file '", path, "': ");
      if (absl::StartsWith(reason, prefix)) reason = reason.substr(prefix.size());
      rejected.push_back({path, reason});
    }
  }
  Leaderboard board = BuildLeaderboard(std::move(results), std::move(rejected));
  board.source = dir;
  return board;
}

// --- Rendering ----------------------------------------------------------------------------

std::string RenderText(const Leaderboard& b) {
  std::string out = absl::StrCat("TinyMLPerf leaderboard (", Header(b), ")\n", kRulesText, "\n");
  for (const EventBoard& e : b.events) {
    absl::StrAppend(&out, "\n== ", EventName(e), " ==\n");
    if (!e.ranked.empty()) {
      out += TableToText(RankedTable(e));
    } else {
      out += "  (no ranked results)\n";
    }
    if (!e.unranked.empty()) {
      out += "  Not ranked:\n";
      out += TableToText(UnrankedTable(e));
    }
  }
  absl::StrAppend(&out, "\n== All-around ==\n");
  out += b.all_around.empty() ? "  (no ranked results)\n" : TableToText(AllAroundTable(b));
  if (!b.rejected.empty()) {
    absl::StrAppend(&out, "\n== Rejected files ==\n");
    for (const RejectedFile& r : b.rejected)
      absl::StrAppend(&out, "  ", r.path, ": ", r.reason, "\n");
  }
  if (!b.notes.empty()) {
    absl::StrAppend(&out, "\n== Notes ==\n");
    for (const std::string& n : b.notes) absl::StrAppend(&out, "  ", n, "\n");
  }
  return out;
}

std::string RenderMarkdown(const Leaderboard& b) {
  std::string out = absl::StrCat("# TinyMLPerf leaderboard\n\n", MarkdownEscape(Header(b)), ".\n\n",
                                 MarkdownEscape(kRulesText), "\n");
  for (const EventBoard& e : b.events) {
    absl::StrAppend(&out, "\n## ", MarkdownEscape(EventName(e)), "\n\n");
    out += e.ranked.empty() ? "No ranked results.\n" : TableToMarkdown(RankedTable(e));
    if (!e.unranked.empty()) {
      out += "\nNot ranked:\n\n";
      out += TableToMarkdown(UnrankedTable(e));
    }
  }
  out += "\n## All-around\n\n";
  out += b.all_around.empty() ? "No ranked results.\n" : TableToMarkdown(AllAroundTable(b));
  if (!b.rejected.empty()) {
    out += "\n## Rejected files\n\n";
    for (const RejectedFile& r : b.rejected) {
      absl::StrAppend(&out, "- ", MarkdownEscape(r.path), ": ", MarkdownEscape(r.reason), "\n");
    }
  }
  if (!b.notes.empty()) {
    out += "\n## Notes\n\n";
    for (const std::string& n : b.notes) absl::StrAppend(&out, "- ", MarkdownEscape(n), "\n");
  }
  return out;
}

std::string RenderHtml(const Leaderboard& b) {
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n",
      "<title>TinyMLPerf leaderboard</title>\n<style>", kCss, "</style>\n</head>\n<body>\n",
      "<h1>TinyMLPerf leaderboard</h1>\n<p>", HtmlEscape(Header(b)), ".</p>\n<p class=\"note\">",
      HtmlEscape(kRulesText), "</p>\n");
  out += "<h2>All-around</h2>\n";
  out += b.all_around.empty() ? "<p>No ranked results.</p>\n" : TableToHtml(AllAroundTable(b));
  for (size_t i = 0; i < b.events.size(); ++i) {
    const EventBoard& e = b.events[i];
    absl::StrAppend(&out, "<h2 id=\"event-", i, "\">", HtmlEscape(EventName(e)), "</h2>\n");
    if (e.ranked.empty()) {
      out += "<p>No ranked results.</p>\n";
    } else {
      out += TableToHtml(RankedTable(e));
      out += SpeedupBars(e);
      out += ParetoChart(e);
    }
    if (!e.unranked.empty()) {
      out += "<h3>Not ranked</h3>\n";
      out += TableToHtml(UnrankedTable(e), "unranked");
    }
  }
  if (!b.rejected.empty()) {
    out += "<h2>Rejected files</h2>\n<ul>\n";
    for (const RejectedFile& r : b.rejected) {
      absl::StrAppend(&out, "<li><code>", HtmlEscape(r.path), "</code>: ", HtmlEscape(r.reason),
                      "</li>\n");
    }
    out += "</ul>\n";
  }
  if (!b.notes.empty()) {
    out += "<h2>Notes</h2>\n<ul class=\"note\">\n";
    for (const std::string& n : b.notes) absl::StrAppend(&out, "<li>", HtmlEscape(n), "</li>\n");
    out += "</ul>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace tt::bench
