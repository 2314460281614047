#include "tensor/autograd.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "tensor/check.h"

namespace tt::tensor {
namespace {

thread_local bool t_grad_enabled = true;

// dst += src, elementwise, same number of elements.
void AddInto(Tensor& dst, const Tensor& src) {
  float* d = dst.data();
  const float* s = src.data();
  for (int64_t i = 0, n = dst.numel(); i < n; ++i) d[i] += s[i];
}

// a + b into fresh storage (neither a nor b is modified: either may be shared).
Tensor Sum2(const Tensor& a, const Tensor& b) {
  OpScope scope("autograd.accumulate", {&a.shape(), &b.shape()}, a.numel(), 12 * a.numel());
  Tensor out = a.Clone();
  AddInto(out, b);
  return out;
}

}  // namespace

bool GradEnabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool NeedsGrad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs) {
    if (t->requires_grad()) return true;
  }
  return false;
}

void RecordOp(Tensor& output, const char* name, std::vector<Tensor> inputs,
              BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

void Tensor::Backward() const {
  TT_CHECK(defined(), "Backward: undefined tensor");
  TT_CHECK(numel() == 1, "Backward: needs a one-element tensor (a loss), got shape ",
           ShapeToString(shape()));
  TT_CHECK(requires_grad(),
           "Backward: this tensor does not require a gradient (no input of the ops that "
           "made it requires one, or it was computed under NoGradGuard)");
  NoGradGuard no_grad;  // the backward pass itself is not recorded

  // Reverse topological order of every tensor reachable through grad_fn (iterative DFS,
  // so deep graphs do not overflow the stack).
  std::vector<internal::TensorImpl*> order;
  std::unordered_set<internal::TensorImpl*> visited;
  std::vector<std::pair<internal::TensorImpl*, size_t>> stack;
  stack.push_back({impl(), 0});
  visited.insert(impl());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const Node* node = t->grad_fn.get();
    if (node != nullptr && next < node->inputs.size()) {
      internal::TensorImpl* child = node->inputs[next++].impl();
      if (child != nullptr && child->requires_grad && visited.insert(child).second) {
        stack.push_back({child, 0});
      }
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  std::unordered_map<internal::TensorImpl*, Tensor> grads;
  grads[impl()] = Tensor::Ones(shape());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    internal::TensorImpl* t = *it;
    auto found = grads.find(t);
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    if (t->grad_fn == nullptr) {  // a leaf: accumulate into .grad
      OpScope scope("autograd.accumulate", {&g.shape()}, g.numel(), 12 * g.numel());
      if (t->grad == nullptr) {
        t->grad = g.Clone().impl_ptr();  // own storage: g may be shared with others
      } else {
        Tensor acc = Tensor::FromImpl(t->grad);
        AddInto(acc, g);
      }
      continue;
    }
    const Node& node = *t->grad_fn;
    std::vector<Tensor> input_grads = node.backward(g);
    TT_CHECK(input_grads.size() == node.inputs.size(), "Backward of '", node.name,
             "' returned ", input_grads.size(), " gradients for ", node.inputs.size(),
             " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Tensor& input = node.inputs[i];
      Tensor& ig = input_grads[i];
      if (!ig.defined() || !input.requires_grad()) continue;
      TT_CHECK(ig.shape() == input.shape(), "Backward of '", node.name,
               "': gradient of input ", i, " has shape ", ShapeToString(ig.shape()),
               ", the input has shape ", ShapeToString(input.shape()));
      auto [slot, inserted] = grads.try_emplace(input.impl(), ig);
      if (!inserted) slot->second = Sum2(slot->second, ig);
    }
  }
}

}  // namespace tt::tensor
