#include "profiling/profiler.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "profiling/statistics.h"
#include "tensor/flat_json.h"
#include "tensor/tensor.h"

namespace tt::prof {
namespace {

std::atomic<uint64_t> g_next_profiler_id{1};

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The calling thread's state for the profiler it last recorded for: one compare on the
// hot path. Profiler ids are never reused, so a stale entry can never match.
struct ThreadCache {
  uint64_t profiler_id = 0;
  void* state = nullptr;
};
thread_local ThreadCache t_cache;

std::string Truncate(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 3) + "...";
}

std::string FormatCount(double v) {
  if (v >= 1e12) return absl::StrFormat("%.2fT", v * 1e-12);
  if (v >= 1e9) return absl::StrFormat("%.2fG", v * 1e-9);
  if (v >= 1e6) return absl::StrFormat("%.2fM", v * 1e-6);
  if (v >= 1e3) return absl::StrFormat("%.2fk", v * 1e-3);
  return absl::StrFormat("%.0f", v);
}

}  // namespace

Profiler::Profiler(const ProfilerOptions& options)
    : options_(options),
      id_(g_next_profiler_id.fetch_add(1, std::memory_order_relaxed)),
      start_(SteadyNowNs()) {
  // Make the installing thread's buffer now, so the first op does not pay for it.
  Local();
  tensor::AddOpObserver(this);
}

Profiler::~Profiler() { Stop(); }

void Profiler::Stop() {
  if (!running_) return;
  tensor::RemoveOpObserver(this);
  stop_ns_ = NowNs();
  running_ = false;
}

int64_t Profiler::NowNs() const { return SteadyNowNs() - start_; }

Profiler::ThreadState* Profiler::Local() {
  if (__builtin_expect(t_cache.profiler_id == id_, 1)) {
    return static_cast<ThreadState*>(t_cache.state);
  }
  return LocalSlow();
}

Profiler::ThreadState* Profiler::LocalSlow() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::thread::id me = std::this_thread::get_id();
  ThreadState* found = nullptr;
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (thread_ids_[i] == me) found = threads_[i].get();
  }
  if (found == nullptr) {
    auto state = std::make_unique<ThreadState>();
    state->thread_number = static_cast<int>(threads_.size()) + 1;
    state->ops.reserve(static_cast<size_t>(std::max<int64_t>(options_.reserve_ops, 0)));
    state->op_stack.reserve(64);
    state->layer_stack.reserve(16);
    if (options_.record_shapes) state->shapes.reserve(state->ops.capacity() * 8);
    found = state.get();
    threads_.push_back(std::move(state));
    thread_ids_.push_back(me);
  }
  t_cache.profiler_id = id_;
  t_cache.state = found;
  return found;
}

int32_t Profiler::InternName(const char* name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = name_index_.try_emplace(name, static_cast<int32_t>(names_.size()));
  if (inserted) names_.emplace_back(name);
  return it->second;
}

int32_t Profiler::InternLayer(int32_t parent, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string path = parent < 0 ? name : absl::StrCat(layer_paths_[parent].path, "/", name);
  auto it = layer_index_.find(path);
  if (it != layer_index_.end()) return it->second;
  const int32_t id = static_cast<int32_t>(layer_paths_.size());
  layer_index_.emplace(path, id);
  layer_paths_.push_back({std::move(path), name, parent});
  return id;
}

void Profiler::OnOpBegin(const tensor::OpEvent& event) {
  ThreadState* t = Local();
  if (static_cast<int64_t>(t->ops.size()) >= options_.max_ops_per_thread) {
    t->op_stack.push_back(-1);  // keeps begin/end pairing for the ops inside
    ++t->dropped;
    return;
  }
  int32_t name_id;
  auto it = t->name_ids.find(event.name);
  if (__builtin_expect(it != t->name_ids.end(), 1)) {
    name_id = it->second;
  } else {
    name_id = InternName(event.name);
    t->name_ids.emplace(event.name, name_id);
  }
  OpRecord r;
  r.name_ptr = event.name;
  r.name_id = name_id;
  r.parent = t->op_stack.empty() ? -1 : t->op_stack.back();
  r.depth = static_cast<int32_t>(t->op_stack.size());
  r.layer = t->layer_stack.empty() ? -1 : t->layers[t->layer_stack.back()].path_id;
  r.flops = event.flops;
  r.bytes = event.bytes;
  r.end_ns = -1;
  r.shapes_at = -1;
  if (options_.record_shapes) {
    r.shapes_at = static_cast<int64_t>(t->shapes.size());
    t->shapes.push_back(static_cast<int64_t>(event.input_shapes.size()));
    for (const tensor::Shape& s : event.input_shapes) {
      t->shapes.push_back(static_cast<int64_t>(s.size()));
      t->shapes.insert(t->shapes.end(), s.begin(), s.end());
    }
  }
  t->op_stack.push_back(static_cast<int32_t>(t->ops.size()));
  // Last, so that the bookkeeping above is not counted in the op's time.
  r.begin_ns = NowNs();
  t->ops.push_back(r);
}

void Profiler::OnOpEnd(const tensor::OpEvent& event) {
  const int64_t now = NowNs();  // first, for the same reason
  ThreadState* t = Local();
  // An end without a begin: the op started before the profiler did.
  if (t->op_stack.empty()) return;
  const int32_t top = t->op_stack.back();
  if (top >= 0) {
    OpRecord& r = t->ops[top];
    if (r.name_ptr != event.name && std::strcmp(r.name_ptr, event.name) != 0) return;
    r.end_ns = now;
  }
  t->op_stack.pop_back();
}

void Profiler::OnLayerBegin(const std::string& name) {
  ThreadState* t = Local();
  const int32_t parent = t->layer_stack.empty() ? -1 : t->layers[t->layer_stack.back()].path_id;
  if (static_cast<int32_t>(t->layer_ids.size()) <= parent + 1) t->layer_ids.resize(parent + 2);
  auto& children = t->layer_ids[parent + 1];
  auto it = children.find(name);
  if (it == children.end()) it = children.emplace(name, InternLayer(parent, name)).first;
  t->layer_stack.push_back(static_cast<int32_t>(t->layers.size()));
  t->layers.push_back({it->second, &it->first, NowNs(), -1});
}

void Profiler::OnLayerEnd(const std::string& name) {
  const int64_t now = NowNs();
  ThreadState* t = Local();
  if (t->layer_stack.empty()) return;  // began before the profiler
  LayerRecord& r = t->layers[t->layer_stack.back()];
  if (*r.name != name) return;
  r.end_ns = now;
  t->layer_stack.pop_back();
}

double Profiler::wall_ns() const { return static_cast<double>(stop_ns_ >= 0 ? stop_ns_ : NowNs()); }

int64_t Profiler::num_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& t : threads_) n += static_cast<int64_t>(t->ops.size());
  return n;
}

int64_t Profiler::dropped_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& t : threads_) n += t->dropped;
  return n;
}

int Profiler::num_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(threads_.size());
}

int64_t Profiler::EndOr(int64_t end_ns, int64_t open_end) {
  return end_ns >= 0 ? end_ns : open_end;
}

std::string Profiler::ShapesString(const ThreadState& t, int64_t at) const {
  if (at < 0) return "";
  std::vector<std::string> parts;
  const int64_t count = t.shapes[at++];
  for (int64_t i = 0; i < count; ++i) {
    const int64_t rank = t.shapes[at++];
    tensor::Shape s(t.shapes.begin() + at, t.shapes.begin() + at + rank);
    at += rank;
    parts.push_back(tensor::ShapeToString(s));
  }
  return absl::StrJoin(parts, " x ");
}

std::vector<OpStats> Profiler::Table() const {
  const int64_t open_end = static_cast<int64_t>(wall_ns());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OpStats> by_name(names_.size());
  for (const auto& t : threads_) {
    const std::vector<OpRecord>& ops = t->ops;
    std::vector<int64_t> nested(ops.size(), 0);
    for (const OpRecord& r : ops) {
      if (r.parent >= 0) nested[r.parent] += EndOr(r.end_ns, open_end) - r.begin_ns;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      const OpRecord& r = ops[i];
      const int64_t dur = EndOr(r.end_ns, open_end) - r.begin_ns;
      OpStats& s = by_name[r.name_id];
      ++s.calls;
      s.total_ns += static_cast<double>(dur);
      s.self_ns += static_cast<double>(dur - nested[i]);
      s.flops += r.flops;
      s.bytes += r.bytes;
    }
  }
  std::vector<OpStats> out;
  double all_self = 0;
  for (size_t i = 0; i < by_name.size(); ++i) {
    if (by_name[i].calls == 0) continue;
    by_name[i].op = names_[i];
    all_self += by_name[i].self_ns;
    out.push_back(std::move(by_name[i]));
  }
  for (OpStats& s : out) {
    s.percent = all_self > 0 ? 100.0 * s.self_ns / all_self : 0.0;
    s.gflops = s.self_ns > 0 ? static_cast<double>(s.flops) / s.self_ns : 0.0;
    s.intensity = s.bytes > 0 ? static_cast<double>(s.flops) / static_cast<double>(s.bytes) : 0.0;
  }
  std::sort(out.begin(), out.end(), [](const OpStats& a, const OpStats& b) {
    if (a.self_ns != b.self_ns) return a.self_ns > b.self_ns;
    return a.op < b.op;
  });
  return out;
}

std::string Profiler::TableString(int top_n) const {
  const std::vector<OpStats> table = Table();
  size_t width = 16;
  for (int i = 0; i < std::min<int>(top_n, table.size()); ++i) {
    width = std::max(width, table[i].op.size());
  }
  width = std::min<size_t>(width, 36);
  const std::string header = absl::StrFormat("%-*s %8s %11s %11s %7s %9s %9s", width, "op", "calls",
                                             "total", "self", "self %", "GFLOP/s", "FLOP/B");
  const std::string rule(header.size(), '-');
  std::string out = absl::StrCat(header, "\n", rule, "\n");
  auto row = [&](const std::string& name, int64_t calls, const std::string& total, double self_ns,
                 double percent, int64_t flops, int64_t bytes) {
    const std::string gflops =
        flops > 0 && self_ns > 0 ? absl::StrFormat("%.2f", flops / self_ns) : "-";
    const std::string intensity =
        flops > 0 && bytes > 0 ? absl::StrFormat("%.2f", static_cast<double>(flops) / bytes) : "-";
    absl::StrAppendFormat(&out, "%-*s %8d %11s %11s %6.1f%% %9s %9s\n", width,
                          Truncate(name, width), calls, total, FormatDuration(self_ns), percent,
                          gflops, intensity);
  };
  OpStats rest, all;
  int rest_names = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    const OpStats& s = table[i];
    if (static_cast<int>(i) < top_n) {
      row(s.op, s.calls, FormatDuration(s.total_ns), s.self_ns, s.percent, s.flops, s.bytes);
    } else {
      ++rest_names;
      rest.calls += s.calls;
      rest.self_ns += s.self_ns;
      rest.percent += s.percent;
      rest.flops += s.flops;
      rest.bytes += s.bytes;
    }
    all.calls += s.calls;
    all.self_ns += s.self_ns;
    all.percent += s.percent;
    all.flops += s.flops;
    all.bytes += s.bytes;
  }
  if (rest_names > 0) {
    row(absl::StrCat("(", rest_names, " more)"), rest.calls, "", rest.self_ns, rest.percent,
        rest.flops, rest.bytes);
  }
  out += rule + "\n";
  // The self times of all ops add up to the time in top-level ops: the "total" too.
  row("total", all.calls, FormatDuration(all.self_ns), all.self_ns, all.percent, all.flops,
      all.bytes);
  const double wall = wall_ns();
  absl::StrAppendFormat(&out, "profiled wall time %s; time in ops %s (%.1f%% of wall%s)",
                        FormatDuration(wall), FormatDuration(all.self_ns),
                        wall > 0 ? 100.0 * all.self_ns / wall : 0.0,
                        num_threads() > 1 ? ", summed over threads" : "");
  const int64_t dropped = dropped_ops();
  if (dropped > 0) absl::StrAppendFormat(&out, "; %d ops not recorded (limit)", dropped);
  out += "\n";
  return out;
}

std::vector<LayerStats> Profiler::LayerTable() const {
  const int64_t open_end = static_cast<int64_t>(wall_ns());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LayerStats> by_path(layer_paths_.size());
  std::vector<int64_t> first_begin(layer_paths_.size(), INT64_MAX);
  for (const auto& t : threads_) {
    for (const LayerRecord& r : t->layers) {
      LayerStats& s = by_path[r.path_id];
      ++s.calls;
      s.total_ns += static_cast<double>(EndOr(r.end_ns, open_end) - r.begin_ns);
      first_begin[r.path_id] = std::min(first_begin[r.path_id], r.begin_ns);
    }
    // Each op outside other ops counts once, for its layer and every enclosing layer.
    for (const OpRecord& r : t->ops) {
      if (r.depth != 0) continue;
      for (int32_t l = r.layer; l >= 0; l = layer_paths_[l].parent) by_path[l].flops += r.flops;
    }
  }
  std::vector<int32_t> order;
  for (size_t i = 0; i < by_path.size(); ++i) {
    if (by_path[i].calls > 0) order.push_back(static_cast<int32_t>(i));
  }
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return first_begin[a] < first_begin[b]; });
  std::vector<LayerStats> out;
  for (int32_t i : order) {
    by_path[i].path = layer_paths_[i].path;
    out.push_back(std::move(by_path[i]));
  }
  return out;
}

std::string Profiler::LayerTableString() const {
  const std::vector<LayerStats> table = LayerTable();
  std::vector<std::string> names;
  size_t width = 12;
  for (const LayerStats& s : table) {
    // The last component, indented by depth: the table reads as the model's tree.
    const size_t depth = std::count(s.path.begin(), s.path.end(), '/');
    const size_t slash = s.path.rfind('/');
    names.push_back(std::string(2 * depth, ' ') +
                    (slash == std::string::npos ? s.path : s.path.substr(slash + 1)));
    width = std::max(width, names.back().size());
  }
  width = std::min<size_t>(width, 48);
  const std::string header = absl::StrFormat("%-*s %7s %11s %11s %9s %9s", width, "layer", "calls",
                                             "total", "per call", "FLOPs", "GFLOP/s");
  std::string out = absl::StrCat(header, "\n", std::string(header.size(), '-'), "\n");
  for (size_t i = 0; i < table.size(); ++i) {
    const LayerStats& s = table[i];
    absl::StrAppendFormat(
        &out, "%-*s %7d %11s %11s %9s %9s\n", width, Truncate(names[i], width), s.calls,
        FormatDuration(s.total_ns), FormatDuration(s.total_ns / s.calls),
        s.flops > 0 ? FormatCount(static_cast<double>(s.flops)) : "-",
        s.flops > 0 && s.total_ns > 0 ? absl::StrFormat("%.2f", s.flops / s.total_ns) : "-");
  }
  return out;
}

std::vector<OpCall> Profiler::Calls() const {
  const int64_t open_end = static_cast<int64_t>(wall_ns());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OpCall> out;
  for (const auto& t : threads_) {
    const int base = static_cast<int>(out.size());
    for (const OpRecord& r : t->ops) {
      OpCall c;
      c.op = names_[r.name_id];
      c.depth = r.depth;
      c.parent = r.parent < 0 ? -1 : base + r.parent;
      c.layer = r.layer < 0 ? "" : layer_paths_[r.layer].path;
      c.thread = t->thread_number;
      c.begin_ns = r.begin_ns;
      c.end_ns = EndOr(r.end_ns, open_end);
      c.flops = r.flops;
      c.bytes = r.bytes;
      c.shapes = ShapesString(*t, r.shapes_at);
      out.push_back(std::move(c));
    }
  }
  return out;
}

absl::Status Profiler::WriteChromeTrace(const std::string& path) const {
  const int64_t open_end = static_cast<int64_t>(wall_ns());
  std::string json = "{\"traceEvents\":[\n";
  bool first = true;
  auto begin_event = [&]() -> std::string& {
    if (!first) json += ",\n";
    first = false;
    return json;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    begin_event() += R"({"name":"process_name","ph":"M","pid":1,"tid":0,)"
                     R"("args":{"name":"tinytorch"}})";
    for (const auto& t : threads_) {
      absl::StrAppendFormat(&begin_event(),
                            R"({"name":"thread_name","ph":"M","pid":1,"tid":%d,)"
                            R"("args":{"name":"thread %d"}})",
                            t->thread_number, t->thread_number);
      for (const LayerRecord& r : t->layers) {
        const LayerPath& lp = layer_paths_[r.path_id];
        absl::StrAppendFormat(
            &begin_event(),
            R"({"name":%s,"cat":"layer","ph":"X","ts":%.3f,"dur":%.3f,"pid":1,"tid":%d,)"
            R"("args":{"path":%s}})",
            tensor::JsonQuote(lp.name), r.begin_ns * 1e-3,
            (EndOr(r.end_ns, open_end) - r.begin_ns) * 1e-3, t->thread_number,
            tensor::JsonQuote(lp.path));
      }
      for (const OpRecord& r : t->ops) {
        std::string& e = begin_event();
        absl::StrAppendFormat(
            &e,
            R"({"name":%s,"cat":"op","ph":"X","ts":%.3f,"dur":%.3f,"pid":1,"tid":%d,)"
            R"("args":{"flops":%d,"bytes":%d)",
            tensor::JsonQuote(names_[r.name_id]), r.begin_ns * 1e-3,
            (EndOr(r.end_ns, open_end) - r.begin_ns) * 1e-3, t->thread_number, r.flops, r.bytes);
        if (r.layer >= 0) {
          absl::StrAppend(&e, ",\"layer\":", tensor::JsonQuote(layer_paths_[r.layer].path));
        }
        if (r.shapes_at >= 0) {
          absl::StrAppend(&e, ",\"shapes\":", tensor::JsonQuote(ShapesString(*t, r.shapes_at)));
        }
        e += "}}";
      }
    }
  }
  json += "\n],\"displayTimeUnit\":\"ms\"}\n";

  const std::string tmp = absl::StrCat(path, ".tmp");
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("WriteChromeTrace: cannot write '", path, "' (temporary '", tmp, "')"));
  }
  const bool written = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::remove(tmp.c_str());
    return absl::DataLossError(absl::StrCat("WriteChromeTrace: writing '", path, "' failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    return absl::ErrnoToStatus(
        error, absl::StrCat("WriteChromeTrace: cannot rename '", tmp, "' to '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace tt::prof
