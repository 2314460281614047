// Shape ops: reshape (a view), transpose/permute (copies), concat, slice.
#include <cstring>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

int64_t NormalizeAxis(int64_t axis, int64_t dim, const char* op) {
  const int64_t a = axis < 0 ? axis + dim : axis;
  TT_CHECK(a >= 0 && a < dim, op, ": axis ", axis, " out of range for a ", dim, "-d tensor");
  return a;
}

int64_t Prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Copies the block [start, start + len) along `axis` of x (shape (outer, r, inner)) into
// `dst` (shape (outer, len, inner)).
void CopyBlock(const float* x, float* dst, int64_t outer, int64_t r, int64_t inner,
               int64_t start, int64_t len) {
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + o * len * inner, x + (o * r + start) * inner,
                static_cast<size_t>(len * inner) * sizeof(float));
  }
}

void AddBlockInto(const float* src, float* x, int64_t outer, int64_t r, int64_t inner,
                  int64_t start, int64_t len) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* s = src + o * len * inner;
    float* d = x + (o * r + start) * inner;
    for (int64_t i = 0; i < len * inner; ++i) d[i] += s[i];
  }
}

}  // namespace

Tensor Reshape(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TT_CHECK(infer < 0, "reshape: more than one -1 in ", ShapeToString(shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      TT_CHECK(shape[i] >= 0, "reshape: negative dimension in ", ShapeToString(shape_in));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    TT_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ",
             ShapeToString(x.shape()), " to ", ShapeToString(shape_in));
    shape[infer] = x.numel() / known;
  }
  TT_CHECK(NumElements(shape) == x.numel(), "reshape: cannot reshape ",
           ShapeToString(x.shape()), " (", x.numel(), " elements) to ",
           ShapeToString(shape_in));
  Tensor out = x.View(shape);
  if (NeedsGrad({&x})) {
    RecordOp(out, "reshape", {x},
             [xs = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.View(xs)}; });
  }
  return out;
}

Tensor Flatten(const Tensor& x, int64_t start_axis) {
  const int64_t start = NormalizeAxis(start_axis, x.dim(), "flatten");
  Shape s(x.shape().begin(), x.shape().begin() + start);
  s.push_back(Prod(x.shape(), start, x.shape().size()));
  return Reshape(x, s);
}

Tensor Permute(const Tensor& x, const std::vector<int64_t>& perm) {
  const int64_t nd = x.dim();
  TT_CHECK(static_cast<int64_t>(perm.size()) == nd, "permute: ", perm.size(),
           " axes given for shape ", ShapeToString(x.shape()));
  std::vector<bool> seen(nd, false);
  std::vector<int64_t> p(nd);
  for (int64_t i = 0; i < nd; ++i) {
    p[i] = NormalizeAxis(perm[i], nd, "permute");
    TT_CHECK(!seen[p[i]], "permute: axis ", perm[i], " repeated");
    seen[p[i]] = true;
  }
  Shape out_shape(nd);
  for (int64_t i = 0; i < nd; ++i) out_shape[i] = x.shape()[p[i]];
  Tensor out;
  {
    OpScope scope("permute", {&x.shape()}, 0, 8 * x.numel());
    out = Tensor::Empty(out_shape);
    const Shape in_strides = x.strides();
    std::vector<int64_t> st(nd);  // input stride for each output axis
    for (int64_t i = 0; i < nd; ++i) st[i] = in_strides[p[i]];
    const float* px = x.data();
    float* py = out.data();
    const int64_t total = out.numel();
    if (nd == 0 || total == 0) {
      if (total == 1) py[0] = px[0];
    } else {
      const int64_t n = out_shape[nd - 1], step = st[nd - 1];
      std::vector<int64_t> idx(nd, 0);
      int64_t off = 0;
      for (int64_t y = 0; y < total; y += n) {
        for (int64_t j = 0; j < n; ++j) py[y + j] = px[off + j * step];
        for (int64_t d = nd - 2; d >= 0; --d) {
          ++idx[d];
          off += st[d];
          if (idx[d] < out_shape[d]) break;
          off -= st[d] * out_shape[d];
          idx[d] = 0;
        }
      }
    }
  }
  if (NeedsGrad({&x})) {
    std::vector<int64_t> inverse(nd);
    for (int64_t i = 0; i < nd; ++i) inverse[p[i]] = i;
    RecordOp(out, "permute", {x}, [inverse](const Tensor& g) {
      return std::vector<Tensor>{Permute(g, inverse)};
    });
  }
  return out;
}

Tensor Transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  const int64_t a = NormalizeAxis(axis0, x.dim(), "transpose");
  const int64_t b = NormalizeAxis(axis1, x.dim(), "transpose");
  std::vector<int64_t> perm(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) perm[i] = i;
  std::swap(perm[a], perm[b]);
  return Permute(x, perm);
}

Tensor Concat(const std::vector<Tensor>& xs, int64_t axis_in) {
  TT_CHECK(!xs.empty(), "concat: no tensors");
  const Shape& first = xs[0].shape();
  const int64_t axis = NormalizeAxis(axis_in, xs[0].dim(), "concat");
  Shape out_shape = first;
  out_shape[axis] = 0;
  for (const Tensor& t : xs) {
    bool ok = t.dim() == xs[0].dim();
    for (int64_t i = 0; ok && i < t.dim(); ++i) ok = i == axis || t.shape()[i] == first[i];
    TT_CHECK(ok, "concat: shape ", ShapeToString(t.shape()), " does not match ",
             ShapeToString(first), " outside axis ", axis_in);
    out_shape[axis] += t.shape()[axis];
  }
  const int64_t outer = Prod(out_shape, 0, axis);
  const int64_t inner = Prod(out_shape, axis + 1, out_shape.size());
  const int64_t r = out_shape[axis];
  Tensor out;
  {
    OpScope scope("concat", {&first}, 0, 8 * NumElements(out_shape));
    out = Tensor::Empty(out_shape);
    int64_t start = 0;
    for (const Tensor& t : xs) {
      const int64_t len = t.shape()[axis];
      // Write t's (outer, len, inner) block into out at `start` along the axis.
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(out.data() + (o * r + start) * inner, t.data() + o * len * inner,
                    static_cast<size_t>(len * inner) * sizeof(float));
      }
      start += len;
    }
  }
  bool any = false;
  for (const Tensor& t : xs) any = any || t.requires_grad();
  if (any && GradEnabled()) {
    std::vector<int64_t> lens;
    for (const Tensor& t : xs) lens.push_back(t.shape()[axis]);
    RecordOp(out, "concat", xs, [lens, outer, inner, r, xs_shapes = [&] {
      std::vector<Shape> s;
      for (const Tensor& t : xs) s.push_back(t.shape());
      return s;
    }()](const Tensor& g) {
      OpScope scope("concat.backward", {&g.shape()}, 0, 8 * g.numel());
      std::vector<Tensor> grads;
      int64_t start = 0;
      for (size_t i = 0; i < lens.size(); ++i) {
        Tensor gi = Tensor::Empty(xs_shapes[i]);
        CopyBlock(g.data(), gi.data(), outer, r, inner, start, lens[i]);
        grads.push_back(gi);
        start += lens[i];
      }
      return grads;
    });
  }
  return out;
}

Tensor Slice(const Tensor& x, int64_t axis_in, int64_t start, int64_t end) {
  const int64_t axis = NormalizeAxis(axis_in, x.dim(), "slice");
  const int64_t r = x.shape()[axis];
  TT_CHECK(0 <= start && start <= end && end <= r, "slice: range [", start, ", ", end,
           ") out of bounds for axis ", axis_in, " of shape ", ShapeToString(x.shape()));
  Shape out_shape = x.shape();
  out_shape[axis] = end - start;
  const int64_t outer = Prod(x.shape(), 0, axis);
  const int64_t inner = Prod(x.shape(), axis + 1, x.shape().size());
  Tensor out;
  if (axis == 0) {
    out = x.View(out_shape, start * inner);  // contiguous rows: no copy
  } else {
    OpScope scope("slice", {&x.shape()}, 0, 8 * NumElements(out_shape));
    out = Tensor::Empty(out_shape);
    CopyBlock(x.data(), out.data(), outer, r, inner, start, end - start);
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "slice", {x},
             [xs = x.shape(), outer, r, inner, start, len = end - start](const Tensor& g) {
               OpScope scope("slice.backward", {&g.shape()}, g.numel(),
                             4 * (g.numel() + NumElements(xs)));
               Tensor dx = Tensor::Zeros(xs);
               AddBlockInto(g.data(), dx.data(), outer, r, inner, start, len);
               return std::vector<Tensor>{dx};
             });
  }
  return out;
}

}  // namespace tt::tensor
