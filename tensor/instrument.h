// The instrumentation seam: op events and allocation events for profilers.
//
// Every op reports (name, input shapes, FLOPs, bytes moved) and every tensor storage
// allocation reports (bytes, address, the op that made it). Nothing is built or copied
// unless an observer is installed: the cost when nobody listens is one predictable
// branch on a global flag (ops_benchmark measures it).
//
//   class Printer : public tt::tensor::OpObserver {
//     void OnOpEnd(const tt::tensor::OpEvent& e) override { std::puts(e.name); }
//   };
//   Printer p;
//   tt::tensor::ScopedOpObserver listen(&p);   // events flow until `listen` dies
//
// Observers are called on the thread that runs the op. Install and remove them from
// one thread while no op runs elsewhere.
#ifndef TT_TENSOR_INSTRUMENT_H_
#define TT_TENSOR_INSTRUMENT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tt::tensor {

using Shape = std::vector<int64_t>;

struct OpEvent {
  const char* name = "";            // e.g. "matmul", "conv2d.backward"
  std::vector<Shape> input_shapes;  // shapes of the op's tensor inputs
  int64_t flops = 0;                // floating-point operations (a multiply-add is 2)
  int64_t bytes = 0;                // bytes read plus bytes written, at minimum
};

class OpObserver {
 public:
  virtual ~OpObserver() = default;
  virtual void OnOpBegin(const OpEvent& event) { (void)event; }
  virtual void OnOpEnd(const OpEvent& event) { (void)event; }
  // A layer (a module's forward) starts or ends; layers nest, ops run inside them.
  // `name` is the layer's own name, e.g. "2: Linear(256 -> 128)" or "block0".
  virtual void OnLayerBegin(const std::string& name) { (void)name; }
  virtual void OnLayerEnd(const std::string& name) { (void)name; }
};

class AllocObserver {
 public:
  virtual ~AllocObserver() = default;
  // `op` is the innermost op running when the storage was made ("" outside any op).
  // `bytes` is what the tensor asked for (4 * elements); the allocator rounds each block
  // up to 64 bytes, which is not counted.
  virtual void OnAlloc(const void* ptr, size_t bytes, const char* op) = 0;
  virtual void OnFree(const void* ptr, size_t bytes) = 0;
};

void AddOpObserver(OpObserver* observer);
void RemoveOpObserver(OpObserver* observer);
void AddAllocObserver(AllocObserver* observer);
void RemoveAllocObserver(AllocObserver* observer);

// RAII installation of an observer for a scope.
class ScopedOpObserver {
 public:
  explicit ScopedOpObserver(OpObserver* o) : o_(o) { AddOpObserver(o_); }
  ~ScopedOpObserver() { RemoveOpObserver(o_); }
  ScopedOpObserver(const ScopedOpObserver&) = delete;
  ScopedOpObserver& operator=(const ScopedOpObserver&) = delete;

 private:
  OpObserver* o_;
};

class ScopedAllocObserver {
 public:
  explicit ScopedAllocObserver(AllocObserver* o) : o_(o) { AddAllocObserver(o_); }
  ~ScopedAllocObserver() { RemoveAllocObserver(o_); }
  ScopedAllocObserver(const ScopedAllocObserver&) = delete;
  ScopedAllocObserver& operator=(const ScopedAllocObserver&) = delete;

 private:
  AllocObserver* o_;
};

namespace internal {

// True while any observer is installed: the one branch ops pay.
extern std::atomic<bool> g_instrumented;

inline bool Instrumented() { return g_instrumented.load(std::memory_order_relaxed); }

void NotifyLayerBegin(const std::string& name);
void NotifyLayerEnd(const std::string& name);
void NotifyOpBegin(const OpEvent& event);
void NotifyOpEnd(const OpEvent& event);
void NotifyAlloc(const void* ptr, size_t bytes);
void NotifyFree(const void* ptr, size_t bytes);
const char* CurrentOpName();
void PushOpName(const char* name);
void PopOpName();

}  // namespace internal

// Marks the extent of one op. Cheap when nothing listens: the event is only built when
// an observer is installed.
//
//   OpScope scope("matmul", {&a.shape(), &b.shape()}, /*flops=*/2 * m * n * k,
//                 /*bytes=*/4 * (m * k + k * n + m * n));
class OpScope {
 public:
  OpScope(const char* name, std::initializer_list<const Shape*> inputs, int64_t flops,
          int64_t bytes) {
    if (__builtin_expect(internal::Instrumented(), 0)) Begin(name, inputs, flops, bytes);
  }
  ~OpScope() {
    if (__builtin_expect(active_, 0)) End();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  void Begin(const char* name, std::initializer_list<const Shape*> inputs, int64_t flops,
             int64_t bytes);
  void End();

  bool active_ = false;
  OpEvent event_;
};

// Marks the extent of one layer's forward pass. The name is only built (make_name is
// only called) when an observer is installed.
//
//   LayerScope scope([&] { return absl::StrCat(i, ": ", layer->Describe()); });
class LayerScope {
 public:
  template <typename MakeName>
  explicit LayerScope(MakeName&& make_name) {
    if (__builtin_expect(internal::Instrumented(), 0)) {
      active_ = true;
      name_ = make_name();
      internal::NotifyLayerBegin(name_);
    }
  }
  ~LayerScope() {
    if (__builtin_expect(active_, 0)) internal::NotifyLayerEnd(name_);
  }
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;

 private:
  bool active_ = false;
  std::string name_;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_INSTRUMENT_H_
