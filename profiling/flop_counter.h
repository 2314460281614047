// FlopCounter: the floating-point operations and bytes each op and each layer of a model
// reports, counted by listening to the tensor library's op and layer events.
//
// Every op reports its own cost when it runs (tensor/instrument.h: OpEvent::flops, a
// multiply-add counting 2, and OpEvent::bytes, the bytes it reads plus writes at
// minimum); layers report when they open and close (Sequential: "i: Describe()", the
// GPT: "embedding", "blockN" holding "attn" and "mlp", "head"). The counter adds them up
// per op name and per layer path.
//
//   auto mlp = tt::tensor::MakeMlp({}, /*seed=*/1);
//   tt::prof::ModelCost cost = tt::prof::CountForward(*mlp, Tensor::Zeros({64, 784}));
//   std::fputs(cost.Report().c_str(), stdout);   // per layer, per op, totals
//
//   tt::prof::FlopCounter count;                 // or by hand, around any code
//   Tensor y = MatMul(a, b);
//   count.Stop();
//   count.total_flops();                         // 2*M*N*K
//
// Attribution:
// - An op's cost goes to the innermost layer open when it starts, named by its path:
//   the open layers' names joined with "/", e.g. "0: Linear(784 -> 256)" or
//   "block0/mlp/0: Linear(128 -> 512)". A layer's own row holds only the ops that ran in
//   it outside its children (the GPT's residual Add sits in "block0", its ln2 in
//   "block0/mlp"), so the rows of Layers() add up to the total. TopLevelLayers() sums each
//   outermost layer with everything under it.
// - Ops that run outside every layer go to the row "(no layer)". Backward ops run after
//   the layer scopes closed; CountForward's Pass::kForwardBackward opens layers named
//   "(loss)" and "(backward)" around the loss and the backward pass so they get rows of
//   their own.
// - An op that runs inside another op is part of the outer op's reported cost, so only
//   the outermost op is counted (tensor's ops do not nest; a composite op written
//   elsewhere might).
// - A backward pass is counted through the ops it runs and the "<op>.backward" and
//   "autograd.accumulate" events of the hand-written backward kernels.
//
// Threads: observers run on the thread of the op; the counter takes one mutex per event
// and keeps the op nesting and the open layers per thread. Construct, Stop() and destroy
// it while no op runs on another thread (the seam's own rule).
#ifndef TT_PROFILING_FLOP_COUNTER_H_
#define TT_PROFILING_FLOP_COUNTER_H_

#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "tensor/instrument.h"
#include "tensor/models.h"
#include "tensor/nn.h"
#include "tensor/tensor.h"

namespace tt::prof {

// The cost of all calls of one op (by its OpEvent name, e.g. "matmul", "conv2d.backward").
struct OpCost {
  std::string op;
  int64_t calls = 0;
  int64_t flops = 0;
  int64_t bytes = 0;
};

// The cost of the ops attributed to one layer path (see the attribution rules above).
struct LayerCost {
  std::string layer;
  int64_t flops = 0;
  int64_t bytes = 0;
};

struct ModelCost {
  std::vector<LayerCost> layers;      // innermost paths, in the order they first ran
  std::vector<LayerCost> top_level;   // outermost layers with all they contain, same order
  std::vector<OpCost> ops;            // by flops descending (ties: by bytes, then name)
  int64_t total_flops = 0;            // = the sum over `layers` = the sum over `ops`
  int64_t total_bytes = 0;
  int64_t parameters = 0;             // the model's NumParameters(); 0 when not a model

  // A table for the terminal: per layer (FLOPs, share, bytes, FLOP/byte), per op, totals.
  std::string Report() const;
};

class FlopCounter : public tensor::OpObserver {
 public:
  // The row name of ops that ran outside every layer.
  static constexpr const char* kNoLayer = "(no layer)";

  // Starts listening (tensor::AddOpObserver). Several counters (and other op observers)
  // may listen at once; each sees every event made while it listens.
  FlopCounter();
  // Stops listening if Stop() was not called.
  ~FlopCounter() override;
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  // Stops listening; every number below stays as it was. Idempotent.
  void Stop();

  int64_t total_flops() const;
  int64_t total_bytes() const;
  // Per op name, by flops descending (ties: by bytes, then by name).
  std::vector<OpCost> Ops() const;
  // The cost of one op name; a zero OpCost (with that name) if it never ran.
  OpCost Op(const std::string& name) const;
  // Per innermost layer path, in the order the paths first opened; layers that ran no
  // op (Flatten is a view) have rows of zeros. "(no layer)" comes last if it is not zero.
  std::vector<LayerCost> Layers() const;
  // Per outermost layer: its path's cost plus every path under it; same order.
  std::vector<LayerCost> TopLevelLayers() const;
  // Everything above as one ModelCost (with `parameters` as given).
  ModelCost Cost(int64_t parameters = 0) const;

  // tensor::OpObserver (called by the tensor library, not by users).
  void OnOpBegin(const tensor::OpEvent& event) override;
  void OnOpEnd(const tensor::OpEvent& event) override;
  void OnLayerBegin(const std::string& name) override;
  void OnLayerEnd(const std::string& name) override;

 private:
  struct OpenLayer {
    std::string name;  // as the layer reported it
    size_t row;        // into layers_
  };
  struct ThreadState {
    int op_depth = 0;               // ops open on this thread
    std::vector<OpenLayer> layers;  // the open layers, innermost last
  };
  struct Layer {
    std::string path;  // "" for ops outside every layer
    std::string top;   // the outermost layer of the path
    int64_t flops = 0;
    int64_t bytes = 0;
  };

  // The row of `path` (under outermost layer `top`), made on first use.
  size_t LayerRow(const std::string& path, const std::string& top)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t total_flops_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<OpCost> ops_ ABSL_GUARDED_BY(mu_);  // in first-seen order
  absl::flat_hash_map<std::string, size_t> op_index_ ABSL_GUARDED_BY(mu_);
  std::vector<Layer> layers_ ABSL_GUARDED_BY(mu_);  // in first-seen order
  absl::flat_hash_map<std::string, size_t> layer_index_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::thread::id, ThreadState> threads_ ABSL_GUARDED_BY(mu_);
};

// What CountForward runs.
enum class Pass {
  kForward,          // model.Forward(input) under NoGradGuard
  kForwardBackward,  // model.Forward(input), then Sum(output).Backward()
};

// Counts one pass of `model` on `input`; parameters = model.NumParameters().
// kForwardBackward records the graph (the parameters require gradients), runs the loss
// Sum(output) inside a layer named "(loss)" and the backward pass inside "(backward)",
// and leaves the gradients accumulated in the parameters (call model.ZeroGrad() if that
// matters). The model's train/eval mode is left as it is (dropout runs in training mode).
ModelCost CountForward(tensor::Sequential& model, const tensor::Tensor& input,
                       Pass pass = Pass::kForward);

// Counts one forward pass of `model` on `ids` (batch * time token ids, row-major) under
// NoGradGuard, without past keys/values; parameters = model.NumParameters().
ModelCost CountGptForward(tensor::Gpt& model, const std::vector<int32_t>& ids, int64_t batch,
                          int64_t time);

}  // namespace tt::prof

#endif  // TT_PROFILING_FLOP_COUNTER_H_
