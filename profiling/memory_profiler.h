// MemoryProfiler: how much tensor memory a block of code allocates, at its peak, by op,
// and what it leaves alive.
//
// It listens to the allocation seam of the tensor library (tensor/instrument.h): every
// tensor Storage reports its allocation (bytes, the innermost op running) and its free.
// The profiler is scoped like a lock guard: the constructor starts listening, the
// destructor (or Stop()) stops.
//
//   tt::prof::MemoryProfiler memory;             // listening from here
//   Tensor loss = CrossEntropy(model->Forward(x), labels);
//   loss.Backward();
//   memory.Stop();                               // numbers frozen from here
//   std::printf("peak %lld bytes\n", static_cast<long long>(memory.peak_bytes()));
//   std::fputs(memory.Report().c_str(), stdout); // totals, bytes by op, still alive
//
// What is counted: the bytes each Storage reports (num_elements * 4; the allocator rounds
// the real block up to 64 bytes, which is not counted). Only allocations made while the
// profiler listens count: freeing storage that was allocated before it started is
// ignored (it neither lowers current_bytes() nor counts as a free), so a scope's numbers
// describe the scope alone and never go negative.
//
// Attribution: an allocation belongs to the innermost op running when it was made (the
// op's OpScope, e.g. "matmul" for a MatMul's output); allocations outside every op
// (Tensor::Zeros, Clone, the gradient buffers autograd keeps) have the op "" and are
// shown as "(outside ops)".
//
// Threads: the tensor library calls observers on the thread that runs the op. Every
// callback and accessor takes one mutex, so ops on several threads are counted
// correctly (the "peak" is then the peak of the sum over threads). Construct, Stop() and
// destroy the profiler while no op runs on another thread (the seam's own rule).
#ifndef TT_PROFILING_MEMORY_PROFILER_H_
#define TT_PROFILING_MEMORY_PROFILER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "tensor/instrument.h"

namespace tt::prof {

// The allocations of one op, over the profiler's scope.
struct OpMemory {
  std::string op;             // the op name; "" (made outside any op) prints as "(outside ops)"
  int64_t allocations = 0;    // how many storages it allocated
  int64_t bytes = 0;          // the bytes of all of them together
  int64_t peak_live_bytes = 0;  // the most of its bytes alive at one time
  int64_t live_bytes_at_peak = 0;  // its bytes alive when the whole scope peaked
};

// One allocation made inside the scope and not freed (at Stop(), or now if running).
struct LiveAllocation {
  int64_t bytes = 0;
  std::string op;        // as in OpMemory::op
  int64_t sequence = 0;  // 0 for the scope's first allocation, 1 for the next, ...
};

class MemoryProfiler : public tensor::AllocObserver {
 public:
  // Starts listening (tensor::AddAllocObserver). Several profilers may listen at once
  // (nested scopes): each sees every event made while it listens.
  MemoryProfiler();
  // Stops listening if Stop() was not called.
  ~MemoryProfiler() override;
  MemoryProfiler(const MemoryProfiler&) = delete;
  MemoryProfiler& operator=(const MemoryProfiler&) = delete;

  // Stops listening; every number below stays as it was at this moment. Idempotent.
  void Stop();
  bool running() const;

  // Bytes allocated inside the scope and not freed yet.
  int64_t current_bytes() const;
  // The largest current_bytes() reached.
  int64_t peak_bytes() const;
  int64_t num_allocations() const;
  // Frees of storage allocated inside the scope (earlier storage is not counted).
  int64_t num_frees() const;
  // The sum of all allocations' bytes (what a bump allocator would need).
  int64_t total_allocated_bytes() const;

  // One row per op that allocated, by bytes descending (ties: by name).
  std::vector<OpMemory> BytesByOp() const;
  // The allocations made inside the scope still alive, in allocation order: at scope
  // exit, the leak report (also the gradients and outputs a caller meant to keep).
  std::vector<LiveAllocation> LiveAllocations() const;

  // A table for the terminal: the totals, the `top_n` ops by bytes, and the `top_n`
  // largest allocations still alive (with the count and bytes of the rest).
  std::string Report(int top_n = 10) const;

  // tensor::AllocObserver (called by the tensor library, not by users).
  void OnAlloc(const void* ptr, size_t bytes, const char* op) override;
  void OnFree(const void* ptr, size_t bytes) override;

 private:
  struct OpStats {
    std::string op;
    int64_t allocations = 0;
    int64_t bytes = 0;
    int64_t live_bytes = 0;
    int64_t peak_live_bytes = 0;
    int64_t live_bytes_at_peak = 0;
  };
  struct Live {
    int64_t bytes;
    size_t op_index;  // into ops_
    int64_t sequence;
  };

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t current_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t num_allocations_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t num_frees_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t total_allocated_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<OpStats> ops_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> op_index_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const void*, Live> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tt::prof

#endif  // TT_PROFILING_MEMORY_PROFILER_H_
