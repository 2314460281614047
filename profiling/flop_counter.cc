#include "profiling/flop_counter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace tt::prof {
namespace {

// 1234567 -> "1,234,567": exact counts a person can read.
std::string WithCommas(int64_t v) {
  std::string digits = absl::StrCat(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

// 30098048 -> "30.1 M": the scale at a glance (powers of 1000, as FLOP rates are quoted).
std::string Short(int64_t v) {
  const double d = static_cast<double>(v);
  if (v < 1000) return absl::StrCat(v, " ");
  if (v < 1000000) return absl::StrFormat("%.1f k", d / 1e3);
  if (v < 1000000000) return absl::StrFormat("%.1f M", d / 1e6);
  return absl::StrFormat("%.2f G", d / 1e9);
}

std::string Intensity(int64_t flops, int64_t bytes) {
  if (bytes == 0) return "-";
  return absl::StrFormat("%.2f", static_cast<double>(flops) / static_cast<double>(bytes));
}

std::string Share(int64_t part, int64_t total) {
  if (total == 0) return "-";
  return absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(total));
}

void AppendLayerTable(const std::string& title, const std::vector<LayerCost>& rows,
                      int64_t total_flops, std::string* out) {
  size_t width = title.size();
  for (const LayerCost& r : rows) width = std::max(width, r.layer.size());
  const int w = static_cast<int>(width);
  absl::StrAppendFormat(out, "%-*s %16s %10s %7s %16s %7s\n", w, title, "FLOPs", "", "share",
                        "bytes", "FLOP/B");
  for (const LayerCost& r : rows) {
    absl::StrAppendFormat(out, "%-*s %16s %10s %7s %16s %7s\n", w, r.layer,
                          WithCommas(r.flops), Short(r.flops), Share(r.flops, total_flops),
                          WithCommas(r.bytes), Intensity(r.flops, r.bytes));
  }
}

}  // namespace

FlopCounter::FlopCounter() {
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  tensor::AddOpObserver(this);
}

FlopCounter::~FlopCounter() { Stop(); }

void FlopCounter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
  }
  tensor::RemoveOpObserver(this);
}

size_t FlopCounter::LayerRow(const std::string& path, const std::string& top) {
  auto [it, inserted] = layer_index_.try_emplace(path, layers_.size());
  if (inserted) layers_.push_back(Layer{path, top});
  return it->second;
}

void FlopCounter::OnOpBegin(const tensor::OpEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  ThreadState& t = threads_[std::this_thread::get_id()];
  // An op inside another op is part of the outer op's reported cost.
  if (t.op_depth++ > 0) return;
  auto [it, inserted] = op_index_.try_emplace(event.name, ops_.size());
  if (inserted) ops_.push_back(OpCost{event.name});
  OpCost& op = ops_[it->second];
  ++op.calls;
  op.flops += event.flops;
  op.bytes += event.bytes;
  Layer& layer = layers_[t.layers.empty() ? LayerRow("", "") : t.layers.back().row];
  layer.flops += event.flops;
  layer.bytes += event.bytes;
  total_flops_ += event.flops;
  total_bytes_ += event.bytes;
}

void FlopCounter::OnOpEnd(const tensor::OpEvent& event) {
  (void)event;
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  ThreadState& t = threads_[std::this_thread::get_id()];
  if (t.op_depth > 0) --t.op_depth;  // 0: the op began before the counter listened
}

void FlopCounter::OnLayerBegin(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  ThreadState& t = threads_[std::this_thread::get_id()];
  std::string path, top;
  if (t.layers.empty()) {
    path = top = name;
  } else {
    const Layer& parent = layers_[t.layers.back().row];
    path = absl::StrCat(parent.path, "/", name);
    top = parent.top;
  }
  const size_t row = LayerRow(path, top);
  t.layers.push_back(OpenLayer{name, row});
}

void FlopCounter::OnLayerEnd(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  ThreadState& t = threads_[std::this_thread::get_id()];
  // A layer that opened before the counter listened was never pushed: ignore its end.
  if (!t.layers.empty() && t.layers.back().name == name) t.layers.pop_back();
}

int64_t FlopCounter::total_flops() const {
  absl::MutexLock lock(&mu_);
  return total_flops_;
}

int64_t FlopCounter::total_bytes() const {
  absl::MutexLock lock(&mu_);
  return total_bytes_;
}

std::vector<OpCost> FlopCounter::Ops() const {
  std::vector<OpCost> out;
  {
    absl::MutexLock lock(&mu_);
    out = ops_;
  }
  std::sort(out.begin(), out.end(), [](const OpCost& a, const OpCost& b) {
    if (a.flops != b.flops) return a.flops > b.flops;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.op < b.op;
  });
  return out;
}

OpCost FlopCounter::Op(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = op_index_.find(name);
  return it == op_index_.end() ? OpCost{name} : ops_[it->second];
}

std::vector<LayerCost> FlopCounter::Layers() const {
  absl::MutexLock lock(&mu_);
  std::vector<LayerCost> out;
  LayerCost outside{kNoLayer};
  for (const Layer& l : layers_) {
    if (l.path.empty()) {
      outside.flops = l.flops;
      outside.bytes = l.bytes;
    } else {
      out.push_back({l.path, l.flops, l.bytes});
    }
  }
  if (outside.flops != 0 || outside.bytes != 0) out.push_back(outside);
  return out;
}

std::vector<LayerCost> FlopCounter::TopLevelLayers() const {
  absl::MutexLock lock(&mu_);
  std::vector<LayerCost> out;
  absl::flat_hash_map<std::string, size_t> index;
  LayerCost outside{kNoLayer};
  for (const Layer& l : layers_) {
    if (l.path.empty()) {
      outside.flops = l.flops;
      outside.bytes = l.bytes;
      continue;
    }
    auto [it, inserted] = index.try_emplace(l.top, out.size());
    if (inserted) out.push_back(LayerCost{l.top});
    out[it->second].flops += l.flops;
    out[it->second].bytes += l.bytes;
  }
  if (outside.flops != 0 || outside.bytes != 0) out.push_back(outside);
  return out;
}

ModelCost FlopCounter::Cost(int64_t parameters) const {
  ModelCost cost;
  cost.layers = Layers();
  cost.top_level = TopLevelLayers();
  cost.ops = Ops();
  cost.total_flops = total_flops();
  cost.total_bytes = total_bytes();
  cost.parameters = parameters;
  return cost;
}

std::string ModelCost::Report() const {
  std::string out;
  AppendLayerTable("layer", layers, total_flops, &out);
  if (top_level.size() != layers.size()) {  // nested layers: also the outermost sums
    out.push_back('\n');
    AppendLayerTable("top-level layer", top_level, total_flops, &out);
  }
  size_t width = 8;
  for (const OpCost& o : ops) width = std::max(width, o.op.size());
  const int w = static_cast<int>(width);
  absl::StrAppendFormat(&out, "\n%-*s %8s %16s %10s %7s %16s %7s\n", w, "op", "calls", "FLOPs",
                        "", "share", "bytes", "FLOP/B");
  for (const OpCost& o : ops) {
    absl::StrAppendFormat(&out, "%-*s %8d %16s %10s %7s %16s %7s\n", w, o.op, o.calls,
                          WithCommas(o.flops), Short(o.flops), Share(o.flops, total_flops),
                          WithCommas(o.bytes), Intensity(o.flops, o.bytes));
  }
  absl::StrAppendFormat(&out, "\ntotal: %s FLOPs (%sFLOP), %s bytes (%sB), %s FLOP/B",
                        WithCommas(total_flops), Short(total_flops), WithCommas(total_bytes),
                        Short(total_bytes), Intensity(total_flops, total_bytes));
  if (parameters > 0) absl::StrAppendFormat(&out, "; %s parameters", WithCommas(parameters));
  out.push_back('\n');
  return out;
}

ModelCost CountForward(tensor::Sequential& model, const tensor::Tensor& input, Pass pass) {
  FlopCounter counter;
  if (pass == Pass::kForward) {
    tensor::NoGradGuard no_grad;
    model.Forward(input);
  } else {
    tensor::Tensor output = model.Forward(input);
    tensor::Tensor loss;
    {
      tensor::LayerScope scope([] { return std::string("(loss)"); });
      loss = tensor::Sum(output);
    }
    tensor::LayerScope scope([] { return std::string("(backward)"); });
    loss.Backward();
  }
  counter.Stop();
  return counter.Cost(model.NumParameters());
}

ModelCost CountGptForward(tensor::Gpt& model, const std::vector<int32_t>& ids, int64_t batch,
                          int64_t time) {
  FlopCounter counter;
  {
    tensor::NoGradGuard no_grad;
    model.Forward(ids, batch, time);
  }
  counter.Stop();
  return counter.Cost(model.NumParameters());
}

}  // namespace tt::prof
