// Elementwise ops: broadcasting binary ops, scalar ops, unary maps.
#include <algorithm>
#include <cstring>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

// Walks the output of a broadcast in rows along its last axis. For each row it calls
// row(a_offset, a_step, b_offset, b_step, y_offset, n): elements a[a_offset + i*a_step],
// b[b_offset + i*b_step] produce y[y_offset + i], i < n (steps are 0 or 1).
template <typename RowFn>
void ForEachBroadcastRow(const Shape& out, const Shape& as, const Shape& bs, RowFn row) {
  const int64_t nd = static_cast<int64_t>(out.size());
  if (nd == 0) {
    row(0, 0, 0, 0, 0, 1);
    return;
  }
  // Strides of a and b aligned to the output's axes; 0 where they broadcast.
  auto aligned = [&](const Shape& s) {
    std::vector<int64_t> st(nd, 0);
    const Shape cs = ContiguousStrides(s);
    const int64_t shift = nd - static_cast<int64_t>(s.size());
    for (int64_t i = shift; i < nd; ++i) st[i] = s[i - shift] == 1 ? 0 : cs[i - shift];
    return st;
  };
  const std::vector<int64_t> sa = aligned(as), sb = aligned(bs);
  const int64_t n = out[nd - 1];
  const int64_t total = NumElements(out);
  if (total == 0) return;
  const int64_t a_step = sa[nd - 1] != 0 ? 1 : 0, b_step = sb[nd - 1] != 0 ? 1 : 0;
  std::vector<int64_t> idx(nd, 0);
  int64_t a_off = 0, b_off = 0;
  for (int64_t y_off = 0; y_off < total; y_off += n) {
    row(a_off, a_step, b_off, b_step, y_off, n);
    for (int64_t d = nd - 2; d >= 0; --d) {  // odometer over the leading axes
      ++idx[d];
      a_off += sa[d];
      b_off += sb[d];
      if (idx[d] < out[d]) break;
      a_off -= sa[d] * out[d];
      b_off -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

const char* BinaryName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "add";
    case BinaryOp::kSub:
      return "sub";
    case BinaryOp::kMul:
      return "mul";
    case BinaryOp::kDiv:
      return "div";
  }
  return "binary";
}

// The forward of a binary op, with broadcasting; no autograd.
Tensor BinaryForward(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = BinaryName(op);
  Shape out_shape = BroadcastShapes(a.shape(), b.shape(), name);
  const int64_t n = NumElements(out_shape);
  OpScope scope(name, {&a.shape(), &b.shape()}, n, 4 * (a.numel() + b.numel() + n));
  Tensor out = Tensor::Empty(out_shape);  // inside the scope: attributed to this op
  Backend& backend = CurrentBackend();
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = out.data();
  if (a.shape() == b.shape()) {
    backend.Binary(op, pa, 1, pb, 1, py, n);
  } else {
    ForEachBroadcastRow(out_shape, a.shape(), b.shape(),
                        [&](int64_t ao, int64_t as, int64_t bo, int64_t bs, int64_t yo,
                            int64_t len) {
                          backend.Binary(op, pa + ao, as, pb + bo, bs, py + yo, len);
                        });
  }
  return out;
}

// `backward_name` is the event the backward kernel reports, e.g. "relu.backward".
Tensor UnaryImpl(UnaryOp op, const char* name, const char* backward_name, const Tensor& x) {
  Tensor out;
  {
    OpScope scope(name, {&x.shape()}, x.numel(), 8 * x.numel());
    out = Tensor::Empty(x.shape());
    CurrentBackend().Unary(op, x.data(), out.data(), x.numel());
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, name, {x}, [op, backward_name, xd = x.Detach(), yd = out.Detach()](
                                 const Tensor& g) {
      OpScope scope(backward_name, {&xd.shape()}, 2 * xd.numel(), 16 * xd.numel());
      Tensor dx = Tensor::Empty(xd.shape());
      CurrentBackend().UnaryBackward(op, xd.data(), yd.data(), g.data(), dx.data(),
                                     xd.numel());
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace

Shape BroadcastShapes(const Shape& a, const Shape& b, const char* op) {
  const size_t nd = std::max(a.size(), b.size());
  Shape out(nd);
  for (size_t i = 0; i < nd; ++i) {
    // Align at the right; missing leading axes count as 1.
    const int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
    const int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
    TT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", ShapeToString(a), " and ",
             ShapeToString(b), " do not broadcast (axis ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor BroadcastTo(const Tensor& x, const Shape& shape) {
  Shape check = BroadcastShapes(x.shape(), shape, "broadcast_to");
  TT_CHECK(check == shape, "broadcast_to: shape ", ShapeToString(x.shape()),
           " does not broadcast to ", ShapeToString(shape));
  Tensor out;
  {
    OpScope scope("broadcast_to", {&x.shape()}, 0, 4 * (x.numel() + NumElements(shape)));
    out = Tensor::Empty(shape);
    const float* px = x.data();
    float* py = out.data();
    ForEachBroadcastRow(shape, x.shape(), shape,
                        [&](int64_t xo, int64_t xs, int64_t, int64_t, int64_t yo, int64_t n) {
                          if (xs == 1) {
                            std::memcpy(py + yo, px + xo, n * sizeof(float));
                          } else {
                            std::fill(py + yo, py + yo + n, px[xo]);
                          }
                        });
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "broadcast_to", {x}, [xs = x.shape()](const Tensor& g) {
      return std::vector<Tensor>{SumTo(g, xs)};
    });
  }
  return out;
}

Tensor Add(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(BinaryOp::kAdd, a, b);
  if (NeedsGrad({&a, &b})) {
    RecordOp(out, "add", {a, b}, [as = a.shape(), bs = b.shape()](const Tensor& g) {
      return std::vector<Tensor>{SumTo(g, as), SumTo(g, bs)};
    });
  }
  return out;
}

Tensor Sub(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(BinaryOp::kSub, a, b);
  if (NeedsGrad({&a, &b})) {
    RecordOp(out, "sub", {a, b}, [as = a.shape(), bs = b.shape()](const Tensor& g) {
      return std::vector<Tensor>{SumTo(g, as), SumTo(Neg(g), bs)};
    });
  }
  return out;
}

Tensor Mul(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(BinaryOp::kMul, a, b);
  if (NeedsGrad({&a, &b})) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    RecordOp(out, "mul", {a, b},
             [ad = a.Detach(), bd = b.Detach(), need_a, need_b](const Tensor& g) {
               return std::vector<Tensor>{
                   need_a ? SumTo(Mul(g, bd), ad.shape()) : Tensor(),
                   need_b ? SumTo(Mul(g, ad), bd.shape()) : Tensor()};
             });
  }
  return out;
}

Tensor Div(const Tensor& a, const Tensor& b) {
  Tensor out = BinaryForward(BinaryOp::kDiv, a, b);
  if (NeedsGrad({&a, &b})) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    RecordOp(out, "div", {a, b},
             [ad = a.Detach(), bd = b.Detach(), need_a, need_b](const Tensor& g) {
               // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
               return std::vector<Tensor>{
                   need_a ? SumTo(Div(g, bd), ad.shape()) : Tensor(),
                   need_b ? SumTo(Neg(Div(Mul(g, ad), Mul(bd, bd))), bd.shape())
                          : Tensor()};
             });
  }
  return out;
}

Tensor Neg(const Tensor& x) { return UnaryImpl(UnaryOp::kNeg, "neg", "neg.backward", x); }

Tensor AddScalar(const Tensor& x, float s) {
  Tensor out;
  {
    OpScope scope("add_scalar", {&x.shape()}, x.numel(), 8 * x.numel());
    out = Tensor::Empty(x.shape());
    const float* px = x.data();
    float* py = out.data();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = px[i] + s;
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "add_scalar", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  }
  return out;
}

Tensor MulScalar(const Tensor& x, float s) {
  Tensor out;
  {
    OpScope scope("mul_scalar", {&x.shape()}, x.numel(), 8 * x.numel());
    out = Tensor::Empty(x.shape());
    const float* px = x.data();
    float* py = out.data();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = px[i] * s;
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "mul_scalar", {x},
             [s](const Tensor& g) { return std::vector<Tensor>{MulScalar(g, s)}; });
  }
  return out;
}

Tensor Exp(const Tensor& x) { return UnaryImpl(UnaryOp::kExp, "exp", "exp.backward", x); }
Tensor Log(const Tensor& x) { return UnaryImpl(UnaryOp::kLog, "log", "log.backward", x); }
Tensor Sqrt(const Tensor& x) { return UnaryImpl(UnaryOp::kSqrt, "sqrt", "sqrt.backward", x); }
Tensor Tanh(const Tensor& x) { return UnaryImpl(UnaryOp::kTanh, "tanh", "tanh.backward", x); }
Tensor Sigmoid(const Tensor& x) { return UnaryImpl(UnaryOp::kSigmoid, "sigmoid", "sigmoid.backward", x); }
Tensor Relu(const Tensor& x) { return UnaryImpl(UnaryOp::kRelu, "relu", "relu.backward", x); }
Tensor Gelu(const Tensor& x) { return UnaryImpl(UnaryOp::kGelu, "gelu", "gelu.backward", x); }

}  // namespace tt::tensor
