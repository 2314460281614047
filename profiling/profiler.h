// Profiler: an op-level profiler on tensor's instrumentation seam (tensor/instrument.h).
//
// While a Profiler lives (or until Stop()), it records every op and every layer that
// runs: begin and end times (steady_clock, ns), nesting depth, FLOPs and bytes the op
// reported, its input shapes (optional), the enclosing layer path ("2: Linear(256 ->
// 128)" inside "block0" is "block0/2: Linear(256 -> 128)") and the thread. It then
// reports a table per op (calls, total and self time, share of time, GFLOP/s,
// FLOP/byte), a table per layer, and a Chrome trace for Perfetto.
//
//   tt::prof::Profiler profiler;                   // starts listening
//   Tensor logits = mlp->Forward(images);
//   profiler.Stop();                               // or let it go out of scope
//   std::fputs(profiler.TableString().c_str(), stdout);
//   TT_RETURN_IF_ERROR(profiler.WriteChromeTrace("/tmp/mlp.trace.json"));
//   // open https://ui.perfetto.dev (or chrome://tracing) and load the file
//
// Self time is an op's time minus the time of the ops nested inside it (a composite op
// that calls other ops, or "conv2d.backward" around its GEMM work); summed over all
// calls, self times add up to the time spent in ops with nothing counted twice. Total
// time includes the nested ops.
//
// Threads: each thread records into its own buffer (no lock per op). Install and remove
// (construct, Stop, destroy) while no op runs on another thread, and read the reports
// once the profiled ops have finished (after Stop(), or while no op runs elsewhere).
// Op names (OpEvent::name) are interned by content the first time a pointer is seen, so
// they must not be reused for another name while the profiler runs; the ops pass string
// literals.
#ifndef TT_PROFILING_PROFILER_H_
#define TT_PROFILING_PROFILER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "profiling/statistics.h"  // FormatDuration
#include "tensor/instrument.h"

namespace tt::prof {

struct ProfilerOptions {
  // Copy each op's input shapes (for the trace and Calls()); costs an append per op.
  bool record_shapes = true;
  // Records reserved up front per thread, so recording rarely reallocates.
  int64_t reserve_ops = 1 << 14;
  // At most this many op records per thread (about 64 bytes each); later ops are
  // counted in dropped_ops() but not recorded, so a long run cannot exhaust memory.
  int64_t max_ops_per_thread = int64_t{1} << 22;
};

// One op name, aggregated over its calls. Times in nanoseconds.
struct OpStats {
  std::string op;
  int64_t calls = 0;
  double total_ns = 0;  // begin to end, including nested ops
  double self_ns = 0;   // total minus the time of the ops nested directly inside
  // Share of all ops' self time (so the column sums to 100, like PyTorch's "Self CPU
  // %"); the wall time and how much of it ops cover are in TableString().
  double percent = 0;
  int64_t flops = 0;  // as the ops reported them
  int64_t bytes = 0;
  double gflops = 0;     // flops / self time (0 when self time is 0)
  double intensity = 0;  // flops / bytes (0 when bytes is 0)
};

// One layer path, aggregated over its calls. Times in nanoseconds.
struct LayerStats {
  std::string path;  // outermost first, joined with "/"
  int64_t calls = 0;
  double total_ns = 0;
  int64_t flops = 0;  // of the ops inside (sub-layers included; nested ops not twice)
};

// One recorded op call, for tests and custom reports. Times in ns since the profiler
// started; an op still running at Stop() ends at the stop time.
struct OpCall {
  std::string op;
  int depth = 0;      // 0 = not inside another op (on its thread)
  int parent = -1;    // index in Calls() of the enclosing op, -1 at depth 0
  std::string layer;  // enclosing layer path, "" outside any layer
  int thread = 0;     // 1, 2, ... in the order threads were first seen
  int64_t begin_ns = 0, end_ns = 0;
  int64_t flops = 0, bytes = 0;
  std::string shapes;  // "(64, 784) x (784, 256)"; "" unless record_shapes
};

class Profiler : public tensor::OpObserver {
 public:
  // Installs the profiler: every op and layer from now on is recorded.
  explicit Profiler(const ProfilerOptions& options = {});
  // Stops (removes the observer) if still running.
  ~Profiler() override;
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // Ends recording early; the reports stay available. Idempotent.
  void Stop();
  bool running() const { return running_; }

  // Op statistics, by self time, largest first (ties by name).
  std::vector<OpStats> Table() const;
  // Table() as aligned text: the top_n ops, a line for the rest, a total line, the
  // profiled wall time and the share of it spent in ops.
  std::string TableString(int top_n = 15) const;
  // Layer statistics in the order each path first began.
  std::vector<LayerStats> LayerTable() const;
  std::string LayerTableString() const;
  // Every recorded op call, grouped by thread, in begin order within a thread.
  std::vector<OpCall> Calls() const;

  // The Chrome trace event format: one complete ("ph":"X") event per op (cat "op") and
  // per layer (cat "layer"), ts and dur in microseconds since the profiler started,
  // tid = thread number. Written to a temporary file and renamed over `path`; the error
  // names the path.
  absl::Status WriteChromeTrace(const std::string& path) const;

  // Wall time from construction to Stop() (to now while running), in ns.
  double wall_ns() const;
  int64_t num_ops() const;      // recorded op calls
  int64_t dropped_ops() const;  // ops not recorded because of max_ops_per_thread
  int num_threads() const;      // threads that recorded anything (or installed it)

  // The seam (tensor::OpObserver); called by the ops, or directly in tests.
  void OnOpBegin(const tensor::OpEvent& event) override;
  void OnOpEnd(const tensor::OpEvent& event) override;
  void OnLayerBegin(const std::string& name) override;
  void OnLayerEnd(const std::string& name) override;

 private:
  struct OpRecord {
    const char* name_ptr;  // for matching begin and end
    int32_t name_id;
    int32_t parent;  // record index, -1 at depth 0
    int32_t depth;
    int32_t layer;  // layer path id, -1 outside layers
    int64_t begin_ns;
    int64_t end_ns;  // -1 while running
    int64_t flops, bytes;
    int64_t shapes_at;  // offset in ThreadState::shapes, -1 if not recorded
  };
  struct LayerRecord {
    int32_t path_id;
    const std::string* name;  // the layer's own name, owned by ThreadState::layer_ids
    int64_t begin_ns, end_ns;
  };
  struct ThreadState {
    int thread_number = 0;
    std::vector<OpRecord> ops;
    std::vector<int32_t> op_stack;  // record indices; -1 for a dropped op
    std::vector<LayerRecord> layers;
    std::vector<int32_t> layer_stack;  // indices into layers
    // Flattened input shapes: count, then for each shape its rank and dims.
    std::vector<int64_t> shapes;
    absl::flat_hash_map<const char*, int32_t> name_ids;  // pointer -> interned id
    // [parent path id + 1]: layer name -> path id. Node maps: names keep their address.
    std::deque<absl::node_hash_map<std::string, int32_t>> layer_ids;
    int64_t dropped = 0;
  };
  struct LayerPath {
    std::string path;
    std::string name;  // the last component
    int32_t parent;
  };

  int64_t NowNs() const;
  ThreadState* Local();
  ThreadState* LocalSlow();
  int32_t InternName(const char* name);
  int32_t InternLayer(int32_t parent, const std::string& name);
  // An op or layer still running at report time ends at `open_end`.
  static int64_t EndOr(int64_t end_ns, int64_t open_end);
  std::string ShapesString(const ThreadState& t, int64_t at) const;

  const ProfilerOptions options_;
  const uint64_t id_;  // unique per profiler: keys the per-thread cache
  const int64_t start_;
  int64_t stop_ns_ = -1;
  bool running_ = true;

  mutable std::mutex mu_;  // guards threads_, names_, name_index_, layer paths
  std::vector<std::unique_ptr<ThreadState>> threads_;
  std::vector<std::thread::id> thread_ids_;  // parallel to threads_
  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, int32_t> name_index_;
  std::vector<LayerPath> layer_paths_;
  absl::flat_hash_map<std::string, int32_t> layer_index_;  // path -> id
};


}  // namespace tt::prof

#endif  // TT_PROFILING_PROFILER_H_
