#include "tensor/instrument.h"

#include <algorithm>
#include <mutex>

namespace tt::tensor {
namespace internal {

std::atomic<bool> g_instrumented{false};

namespace {

struct Observers {
  std::mutex mu;
  std::vector<OpObserver*> ops;
  std::vector<AllocObserver*> allocs;
};

Observers& GetObservers() {
  static Observers* observers = new Observers;
  return *observers;
}

void UpdateFlag(Observers& o) {
  g_instrumented.store(!o.ops.empty() || !o.allocs.empty(), std::memory_order_relaxed);
}

thread_local std::vector<const char*> t_op_stack;

}  // namespace

void NotifyLayerBegin(const std::string& name) {
  for (OpObserver* o : GetObservers().ops) o->OnLayerBegin(name);
}

void NotifyLayerEnd(const std::string& name) {
  for (OpObserver* o : GetObservers().ops) o->OnLayerEnd(name);
}

void NotifyOpBegin(const OpEvent& event) {
  for (OpObserver* o : GetObservers().ops) o->OnOpBegin(event);
}

void NotifyOpEnd(const OpEvent& event) {
  for (OpObserver* o : GetObservers().ops) o->OnOpEnd(event);
}

void NotifyAlloc(const void* ptr, size_t bytes) {
  const char* op = CurrentOpName();
  for (AllocObserver* o : GetObservers().allocs) o->OnAlloc(ptr, bytes, op);
}

void NotifyFree(const void* ptr, size_t bytes) {
  for (AllocObserver* o : GetObservers().allocs) o->OnFree(ptr, bytes);
}

const char* CurrentOpName() { return t_op_stack.empty() ? "" : t_op_stack.back(); }
void PushOpName(const char* name) { t_op_stack.push_back(name); }
void PopOpName() {
  if (!t_op_stack.empty()) t_op_stack.pop_back();
}

}  // namespace internal

void AddOpObserver(OpObserver* observer) {
  auto& o = internal::GetObservers();
  std::lock_guard<std::mutex> lock(o.mu);
  o.ops.push_back(observer);
  internal::UpdateFlag(o);
}

void RemoveOpObserver(OpObserver* observer) {
  auto& o = internal::GetObservers();
  std::lock_guard<std::mutex> lock(o.mu);
  o.ops.erase(std::remove(o.ops.begin(), o.ops.end(), observer), o.ops.end());
  internal::UpdateFlag(o);
}

void AddAllocObserver(AllocObserver* observer) {
  auto& o = internal::GetObservers();
  std::lock_guard<std::mutex> lock(o.mu);
  o.allocs.push_back(observer);
  internal::UpdateFlag(o);
}

void RemoveAllocObserver(AllocObserver* observer) {
  auto& o = internal::GetObservers();
  std::lock_guard<std::mutex> lock(o.mu);
  o.allocs.erase(std::remove(o.allocs.begin(), o.allocs.end(), observer), o.allocs.end());
  internal::UpdateFlag(o);
}

void OpScope::Begin(const char* name, std::initializer_list<const Shape*> inputs,
                    int64_t flops, int64_t bytes) {
  active_ = true;
  event_.name = name;
  event_.input_shapes.reserve(inputs.size());
  for (const Shape* s : inputs) event_.input_shapes.push_back(*s);
  event_.flops = flops;
  event_.bytes = bytes;
  internal::PushOpName(name);
  internal::NotifyOpBegin(event_);
}

void OpScope::End() {
  internal::NotifyOpEnd(event_);
  internal::PopOpName();
}

}  // namespace tt::tensor
