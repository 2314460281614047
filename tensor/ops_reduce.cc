// Reductions: sum, mean, max over axes; SumTo (the adjoint of broadcasting).
#include <algorithm>
#include <cmath>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

// Sorted, distinct, non-negative axes; stops naming the op when one is out of range.
std::vector<int64_t> NormalizeAxes(const std::vector<int64_t>& axes, int64_t dim,
                                   const char* op) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    const int64_t p = a < 0 ? a + dim : a;
    TT_CHECK(p >= 0 && p < dim, op, ": axis ", a, " out of range for a ", dim, "-d tensor");
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// (outer, r, inner) view of `shape` around `axis`.
void SplitAt(const Shape& shape, int64_t axis, int64_t* outer, int64_t* r, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < axis; ++i) *outer *= shape[i];
  *r = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) *inner *= shape[i];
}

// Sum over one axis, keeping it with size 1. The r loop is outside the inner loop so
// the inner loop runs along contiguous memory.
Tensor SumOneAxisKeep(const Tensor& x, int64_t axis) {
  int64_t outer, r, inner;
  SplitAt(x.shape(), axis, &outer, &r, &inner);
  Shape out_shape = x.shape();
  out_shape[axis] = 1;
  Tensor out = Tensor::Zeros(out_shape);
  const float* px = x.data();
  float* py = out.data();
  for (int64_t o = 0; o < outer; ++o) {
    float* dst = py + o * inner;
    for (int64_t k = 0; k < r; ++k) {
      const float* src = px + (o * r + k) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
  return out;
}

Shape KeepDimShape(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape s = shape;
  for (int64_t a : axes) s[a] = 1;
  return s;
}

Shape DroppedShape(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape s;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (!std::binary_search(axes.begin(), axes.end(), i)) s.push_back(shape[i]);
  }
  return s;
}

}  // namespace

Tensor Sum(const Tensor& x, const std::vector<int64_t>& axes_in, KeepDim keep) {
  const std::vector<int64_t> axes = NormalizeAxes(axes_in, x.dim(), "sum");
  Tensor acc = x;
  {
    OpScope scope("sum", {&x.shape()}, x.numel(), 4 * x.numel());
    if (axes.empty()) acc = x.Clone();
    for (int64_t a : axes) acc = SumOneAxisKeep(acc, a);
  }
  const Shape keep_shape = KeepDimShape(x.shape(), axes);
  Tensor out = acc.View(keep == KeepDim::kYes ? keep_shape : DroppedShape(x.shape(), axes));
  if (NeedsGrad({&x})) {
    RecordOp(out, "sum", {x}, [keep_shape, xs = x.shape()](const Tensor& g) {
      return std::vector<Tensor>{BroadcastTo(g.View(keep_shape), xs)};
    });
  }
  return out;
}

Tensor Sum(const Tensor& x) {
  std::vector<int64_t> all(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) all[i] = i;
  return Sum(x, all, KeepDim::kNo);
}

Tensor Mean(const Tensor& x, const std::vector<int64_t>& axes_in, KeepDim keep) {
  const std::vector<int64_t> axes = NormalizeAxes(axes_in, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t a : axes) count *= x.shape()[a];
  TT_CHECK(count > 0, "mean: reducing over an empty axis of shape ", ShapeToString(x.shape()));
  return MulScalar(Sum(x, axes, keep), 1.0f / static_cast<float>(count));
}

Tensor Mean(const Tensor& x) {
  TT_CHECK(x.numel() > 0, "mean: empty tensor of shape ", ShapeToString(x.shape()));
  return MulScalar(Sum(x), 1.0f / static_cast<float>(x.numel()));
}

Tensor Max(const Tensor& x, int64_t axis_in, KeepDim keep) {
  const int64_t axis = NormalizeAxes({axis_in}, x.dim(), "max")[0];
  int64_t outer, r, inner;
  SplitAt(x.shape(), axis, &outer, &r, &inner);
  TT_CHECK(r > 0, "max: empty axis ", axis_in, " in shape ", ShapeToString(x.shape()));
  const Shape keep_shape = KeepDimShape(x.shape(), {axis});
  const Shape out_shape_ = keep == KeepDim::kYes ? keep_shape : DroppedShape(x.shape(), {axis});
  std::vector<int32_t> argmax(static_cast<size_t>(outer * inner));
  Tensor out;
  {
    OpScope scope("max", {&x.shape()}, x.numel(), 4 * x.numel());
    out = Tensor::Empty(out_shape_);
    const float* px = x.data();
    float* py = out.data();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        float best = px[o * r * inner + i];
        int32_t best_k = 0;
        for (int64_t k = 1; k < r; ++k) {
          const float v = px[(o * r + k) * inner + i];
          if (v > best) {
            best = v;
            best_k = static_cast<int32_t>(k);
          }
        }
        py[o * inner + i] = best;
        argmax[o * inner + i] = best_k;
      }
    }
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "max", {x},
             [argmax = std::move(argmax), xs = x.shape(), outer, r, inner](const Tensor& g) {
               OpScope scope("max.backward", {&g.shape()}, g.numel(),
                             4 * (g.numel() + NumElements(xs)));
               Tensor dx = Tensor::Zeros(xs);
               const float* pg = g.data();
               float* pd = dx.data();
               for (int64_t o = 0; o < outer; ++o) {
                 for (int64_t i = 0; i < inner; ++i) {
                   pd[(o * r + argmax[o * inner + i]) * inner + i] += pg[o * inner + i];
                 }
               }
               return std::vector<Tensor>{dx};
             });
  }
  return out;
}

Tensor SumTo(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t nd = x.dim();
  const int64_t shift = nd - static_cast<int64_t>(shape.size());
  TT_CHECK(shift >= 0, "sum_to: cannot reduce ", ShapeToString(x.shape()), " to ",
           ShapeToString(shape));
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < nd; ++i) {
    if (i < shift) {
      axes.push_back(i);
    } else if (shape[i - shift] == 1 && x.shape()[i] != 1) {
      axes.push_back(i);
    } else {
      TT_CHECK(shape[i - shift] == x.shape()[i], "sum_to: cannot reduce ",
               ShapeToString(x.shape()), " to ", ShapeToString(shape));
    }
  }
  return Reshape(Sum(x, axes, KeepDim::kYes), shape);
}

std::vector<int32_t> ArgMaxRows(const Tensor& x) {
  TT_CHECK(x.dim() == 2, "argmax_rows: needs a 2-d tensor, got ", ShapeToString(x.shape()));
  const int64_t rows = x.shape()[0], cols = x.shape()[1];
  TT_CHECK(cols > 0, "argmax_rows: no columns in ", ShapeToString(x.shape()));
  std::vector<int32_t> out(rows);
  const float* p = x.data();
  for (int64_t i = 0; i < rows; ++i) {
    out[i] = static_cast<int32_t>(std::max_element(p + i * cols, p + (i + 1) * cols) -
                                  (p + i * cols));
  }
  return out;
}

}  // namespace tt::tensor
