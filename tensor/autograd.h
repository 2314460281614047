// Reverse-mode automatic differentiation, define-by-run.
//
// Each op that produces a tensor from inputs that require gradients records a Node: the
// inputs and a function from the output's gradient to the inputs' gradients. Backward()
// on a one-element tensor walks the recorded graph in reverse topological order and
// accumulates gradients into the leaves (tensors made with set_requires_grad(true)).
// Gradients accumulate across Backward() calls until ZeroGrad().
//
//   Tensor y = Mul(x, x);            // records a Node for y
//   Sum(y).Backward();               // x.grad() == 2 * x
//   {
//     NoGradGuard no_grad;           // nothing recorded inside (evaluation, updates)
//     Tensor z = Mul(x, x);
//   }
//
// Writing an op's backward (see ops_*.cc):
//   Tensor out = ...;
//   if (NeedsGrad({&a, &b})) {
//     RecordOp(out, "mul", {a, b}, [a = a.Detach(), b = b.Detach()](const Tensor& g) {
//       return std::vector<Tensor>{Mul(g, b), Mul(g, a)};
//     });
//   }
// The closure must not capture `out` itself (that would be a reference cycle): capture
// out.Detach(), which shares the data but not the history.
#ifndef TT_TENSOR_AUTOGRAD_H_
#define TT_TENSOR_AUTOGRAD_H_

#include <functional>
#include <initializer_list>
#include <vector>

#include "tensor/tensor.h"

namespace tt::tensor {

// Returns one gradient per recorded input, each with that input's shape (an undefined
// Tensor where an input needs none).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  const char* name;
  std::vector<Tensor> inputs;
  BackwardFn backward;
};

// Is recording on for this thread? (Off inside NoGradGuard and during Backward().)
bool GradEnabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and any of the tensors requires a gradient.
bool NeedsGrad(std::initializer_list<const Tensor*> inputs);

// Attaches a Node to `output` (which then requires a gradient).
void RecordOp(Tensor& output, const char* name, std::vector<Tensor> inputs,
              BackwardFn backward);

}  // namespace tt::tensor

#endif  // TT_TENSOR_AUTOGRAD_H_
