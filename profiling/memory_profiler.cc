#include "profiling/memory_profiler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace tt::prof {
namespace {

// Bytes for people, in powers of 1024 (memory is sized in those).
std::string HumanBytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) return absl::StrFormat("%d B", bytes);
  if (bytes < 1024 * 1024) return absl::StrFormat("%.1f KiB", b / 1024.0);
  if (bytes < int64_t{1024} * 1024 * 1024) return absl::StrFormat("%.2f MiB", b / (1024.0 * 1024.0));
  return absl::StrFormat("%.2f GiB", b / (1024.0 * 1024.0 * 1024.0));
}

std::string OpLabel(const std::string& op) { return op.empty() ? "(outside ops)" : op; }

}  // namespace

MemoryProfiler::MemoryProfiler() {
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  tensor::AddAllocObserver(this);
}

MemoryProfiler::~MemoryProfiler() { Stop(); }

void MemoryProfiler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
  }
  tensor::RemoveAllocObserver(this);
}

bool MemoryProfiler::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int64_t MemoryProfiler::current_bytes() const {
  absl::MutexLock lock(&mu_);
  return current_bytes_;
}

int64_t MemoryProfiler::peak_bytes() const {
  absl::MutexLock lock(&mu_);
  return peak_bytes_;
}

int64_t MemoryProfiler::num_allocations() const {
  absl::MutexLock lock(&mu_);
  return num_allocations_;
}

int64_t MemoryProfiler::num_frees() const {
  absl::MutexLock lock(&mu_);
  return num_frees_;
}

int64_t MemoryProfiler::total_allocated_bytes() const {
  absl::MutexLock lock(&mu_);
  return total_allocated_bytes_;
}

void MemoryProfiler::OnAlloc(const void* ptr, size_t bytes_in, const char* op_in) {
  const int64_t bytes = static_cast<int64_t>(bytes_in);
  const std::string op = op_in == nullptr ? "" : op_in;
  absl::MutexLock lock(&mu_);
  if (!running_) return;  // an event racing with Stop(): the numbers are frozen
  auto [it, inserted] = op_index_.try_emplace(op, ops_.size());
  if (inserted) ops_.push_back(OpStats{op});
  OpStats& s = ops_[it->second];
  ++s.allocations;
  s.bytes += bytes;
  s.live_bytes += bytes;
  s.peak_live_bytes = std::max(s.peak_live_bytes, s.live_bytes);

  // The address of a storage freed inside the scope may come back: the old record was
  // removed by OnFree, so a hit here only means a free we never saw; drop it.
  auto old = live_.find(ptr);
  if (old != live_.end()) {
    current_bytes_ -= old->second.bytes;
    ops_[old->second.op_index].live_bytes -= old->second.bytes;
    live_.erase(old);
  }
  live_[ptr] = Live{bytes, it->second, num_allocations_};
  ++num_allocations_;
  total_allocated_bytes_ += bytes;
  current_bytes_ += bytes;
  if (current_bytes_ > peak_bytes_) {
    peak_bytes_ = current_bytes_;
    // What each op holds at the new peak: O(number of ops), only while memory grows.
    for (OpStats& o : ops_) o.live_bytes_at_peak = o.live_bytes;
  }
}

void MemoryProfiler::OnFree(const void* ptr, size_t bytes) {
  (void)bytes;  // the size recorded at allocation is the one that counts
  absl::MutexLock lock(&mu_);
  if (!running_) return;
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // allocated before the scope began: not ours
  current_bytes_ -= it->second.bytes;
  ops_[it->second.op_index].live_bytes -= it->second.bytes;
  ++num_frees_;
  live_.erase(it);
}

std::vector<OpMemory> MemoryProfiler::BytesByOp() const {
  std::vector<OpMemory> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(ops_.size());
    for (const OpStats& s : ops_) {
      out.push_back({s.op, s.allocations, s.bytes, s.peak_live_bytes, s.live_bytes_at_peak});
    }
  }
  std::sort(out.begin(), out.end(), [](const OpMemory& a, const OpMemory& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.op < b.op;
  });
  return out;
}

std::vector<LiveAllocation> MemoryProfiler::LiveAllocations() const {
  std::vector<LiveAllocation> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(live_.size());
    for (const auto& [ptr, live] : live_) {
      out.push_back({live.bytes, ops_[live.op_index].op, live.sequence});
    }
  }
  std::sort(out.begin(), out.end(), [](const LiveAllocation& a, const LiveAllocation& b) {
    return a.sequence < b.sequence;
  });
  return out;
}

std::string MemoryProfiler::Report(int top_n) const {
  const std::vector<OpMemory> ops = BytesByOp();
  std::vector<LiveAllocation> live = LiveAllocations();
  int64_t live_bytes = 0;
  for (const LiveAllocation& a : live) live_bytes += a.bytes;

  std::string out;
  {
    absl::MutexLock lock(&mu_);
    absl::StrAppendFormat(&out, "memory profile%s\n", running_ ? " (still running)" : "");
    absl::StrAppendFormat(&out, "  peak          %14d B  (%s)\n", peak_bytes_,
                          HumanBytes(peak_bytes_));
    absl::StrAppendFormat(&out, "  allocated     %14d B  (%s) in %d allocations\n",
                          total_allocated_bytes_, HumanBytes(total_allocated_bytes_),
                          num_allocations_);
    absl::StrAppendFormat(&out, "  freed         %14d B  in %d frees\n",
                          total_allocated_bytes_ - current_bytes_, num_frees_);
    absl::StrAppendFormat(&out, "  still alive   %14d B  (%s) in %d allocations\n",
                          current_bytes_, HumanBytes(current_bytes_),
                          static_cast<int64_t>(live.size()));
  }

  const size_t n = static_cast<size_t>(std::max(top_n, 0));
  absl::StrAppendFormat(&out, "\n%-24s %8s %14s %12s %12s\n", "bytes by op", "allocs", "bytes",
                        "peak live", "at peak");
  for (size_t i = 0; i < ops.size() && i < n; ++i) {
    const OpMemory& o = ops[i];
    absl::StrAppendFormat(&out, "%-24s %8d %14d %12s %12s\n", OpLabel(o.op), o.allocations,
                          o.bytes, HumanBytes(o.peak_live_bytes),
                          HumanBytes(o.live_bytes_at_peak));
  }
  if (ops.size() > n) {
    absl::StrAppendFormat(&out, "... and %d more ops\n", static_cast<int64_t>(ops.size() - n));
  }

  // The largest survivors first: that is where a leak hides.
  std::stable_sort(live.begin(), live.end(), [](const LiveAllocation& a,
                                                const LiveAllocation& b) {
    return a.bytes > b.bytes;
  });
  absl::StrAppendFormat(&out, "\nstill alive: %d allocations, %d B (%s)\n",
                        static_cast<int64_t>(live.size()), live_bytes, HumanBytes(live_bytes));
  if (!live.empty()) {
    absl::StrAppendFormat(&out, "%8s  %-24s %14s\n", "seq", "op", "bytes");
    for (size_t i = 0; i < live.size() && i < n; ++i) {
      absl::StrAppendFormat(&out, "%8d  %-24s %14d\n", live[i].sequence, OpLabel(live[i].op),
                            live[i].bytes);
    }
    if (live.size() > n) {
      int64_t rest = 0;
      for (size_t i = n; i < live.size(); ++i) rest += live[i].bytes;
      absl::StrAppendFormat(&out, "... and %d more (%d B)\n",
                            static_cast<int64_t>(live.size() - n), rest);
    }
  }
  return out;
}

}  // namespace tt::prof
