// Matrix products and the convolution family: matmul, conv2d (im2col + GEMM), max-pool.
#include <algorithm>
#include <cmath>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

Trans Flip(Trans t) { return t == Trans::kNo ? Trans::kYes : Trans::kNo; }

// The sum of n floats with eight independent partial sums: the compiler turns the inner
// loop into one vector add per step (a single running sum would be a serial chain it
// may not reorder), and the pairwise-ish split keeps rounding error lower too.
float SumFloats(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[j + l];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < n; ++j) s += x[j];
  return s;
}

int64_t LeadingCount(const Tensor& t) {
  int64_t p = 1;
  for (int64_t i = 0; i + 2 < t.dim(); ++i) p *= t.shape()[i];
  return p;
}

// Forward only (no autograd): see MatMul in ops.h for the shapes.
Tensor MatMulForward(const Tensor& a, const Tensor& b, Trans ta, Trans tb) {
  TT_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: needs tensors of rank >= 2, got ",
           ShapeToString(a.shape()), " and ", ShapeToString(b.shape()));
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  const int64_t m = ta == Trans::kNo ? ar : ac;
  const int64_t k = ta == Trans::kNo ? ac : ar;
  const int64_t kb = tb == Trans::kNo ? br : bc;
  const int64_t n = tb == Trans::kNo ? bc : br;
  TT_CHECK(k == kb, "matmul: inner dimensions differ: ", ShapeToString(a.shape()),
           ta == Trans::kYes ? "^T" : "", " x ", ShapeToString(b.shape()),
           tb == Trans::kYes ? "^T" : "", " (", k, " vs ", kb, ")");
  const bool shared_b = b.dim() == 2;
  if (!shared_b) {
    const Shape lead_a(a.shape().begin(), a.shape().end() - 2);
    const Shape lead_b(b.shape().begin(), b.shape().end() - 2);
    TT_CHECK(lead_a == lead_b, "matmul: batch axes differ: ", ShapeToString(a.shape()),
             " x ", ShapeToString(b.shape()));
  } else {
    TT_CHECK(a.dim() == 2 || ta == Trans::kNo, "matmul: internal: MatMul transposes a "
             "batched a itself before a shared 2-d b");
  }
  Shape out_shape(a.shape().begin(), a.shape().end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  const int64_t batch = LeadingCount(a);
  OpScope scope("matmul", {&a.shape(), &b.shape()}, 2 * batch * m * n * k,
                4 * (a.numel() + b.numel() + batch * m * n));
  Tensor out = Tensor::Empty(out_shape);  // inside the scope: attributed to this op
  Backend& backend = CurrentBackend();
  if (shared_b && ta == Trans::kNo) {
    // Every row of every matrix of a meets the same b: one GEMM of (batch*M, K) x (K, N).
    backend.Gemm(Trans::kNo, tb, batch * m, n, k, 1.0f, a.data(), ac, b.data(), bc, 0.0f,
                 out.data(), n);
  } else {
    for (int64_t i = 0; i < batch; ++i) {
      const float* pb = shared_b ? b.data() : b.data() + i * br * bc;
      backend.Gemm(ta, tb, m, n, k, 1.0f, a.data() + i * ar * ac, ac, pb, bc, 0.0f,
                   out.data() + i * m * n, n);
    }
  }
  return out;
}

}  // namespace

Tensor MatMul(const Tensor& a, const Tensor& b, Trans ta, Trans tb) {
  if (ta == Trans::kYes && a.dim() > 2 && b.dim() == 2) {
    // Rare: a batched, stored transposed, against one shared b. Copying a to plain
    // layout lets the single-GEMM path (and its backward) handle it.
    return MatMul(Transpose(a, -1, -2), b, Trans::kNo, tb);
  }
  Tensor out = MatMulForward(a, b, ta, tb);
  if (NeedsGrad({&a, &b})) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    RecordOp(out, "matmul", {a, b},
             [ad = a.Detach(), bd = b.Detach(), ta, tb, need_a, need_b](const Tensor& g) {
               // C = op(A) op(B): dop(A) = G op(B)^T, dop(B) = op(A)^T G; a stored
               // transpose gets the transposed gradient.
               Tensor da, db;
               if (need_a) {
                 da = ta == Trans::kNo ? MatMulForward(g, bd, Trans::kNo, Flip(tb))
                                       : MatMulForward(bd, g, tb, Trans::kYes);
               }
               if (need_b) {
                 Tensor a2 = ad, g2 = g;
                 if (bd.dim() == 2 && ad.dim() > 2) {  // fold the batch into rows
                   a2 = ad.View({ad.numel() / ad.size(-1), ad.size(-1)});
                   g2 = g.View({g.numel() / g.size(-1), g.size(-1)});
                 }
                 db = tb == Trans::kNo ? MatMulForward(a2, g2, Flip(ta), Trans::kNo)
                                       : MatMulForward(g2, a2, Trans::kYes, ta);
               }
               return std::vector<Tensor>{da, db};
             });
  }
  return out;
}

Tensor LinearAct(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  if (NeedsGrad({&x, &w, &bias})) {
    Tensor y = MatMul(x, w);
    if (bias.defined()) y = Add(y, bias);
    if (act == Activation::kRelu) y = Relu(y);
    if (act == Activation::kGelu) y = Gelu(y);
    return y;
  }
  TT_CHECK(x.dim() >= 1 && w.dim() == 2 && x.shape().back() == w.shape()[0],
           "linear_act: x ", ShapeToString(x.shape()), " does not match w ",
           ShapeToString(w.shape()));
  const int64_t k = w.shape()[0], n = w.shape()[1], m = x.numel() / std::max<int64_t>(k, 1);
  TT_CHECK(!bias.defined() || bias.shape() == Shape{n}, "linear_act: bias ",
           bias.defined() ? ShapeToString(bias.shape()) : "", " should be (", n, ")");
  Shape out_shape = x.shape();
  out_shape.back() = n;
  OpScope scope("linear_act", {&x.shape(), &w.shape()}, 2 * m * n * k + 2 * m * n,
                4 * (x.numel() + w.numel() + m * n));
  Tensor out = Tensor::Empty(out_shape);
  CurrentBackend().GemmBiasAct(Trans::kNo, Trans::kNo, m, n, k, x.data(), k, w.data(), n,
                               bias.defined() ? bias.data() : nullptr, act, out.data(), n);
  return out;
}

Tensor Conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  TT_CHECK(x.dim() == 4 && weight.dim() == 4, "conv2d: needs x (N,C,H,W) and weight "
           "(OC,C,KH,KW), got ", ShapeToString(x.shape()), " and ",
           ShapeToString(weight.shape()));
  const int64_t batch = x.shape()[0], oc = weight.shape()[0];
  ConvGeometry g{x.shape()[1],      x.shape()[2],     x.shape()[3],
                 weight.shape()[2], weight.shape()[3], options.stride,
                 options.stride,    options.padding,  options.padding};
  TT_CHECK(weight.shape()[1] == g.channels, "conv2d: input ", ShapeToString(x.shape()),
           " has ", g.channels, " channels but weight ", ShapeToString(weight.shape()),
           " expects ", weight.shape()[1]);
  TT_CHECK(options.stride > 0 && options.padding >= 0, "conv2d: bad stride ", options.stride,
           " or padding ", options.padding);
  TT_CHECK(!bias.defined() || bias.shape() == Shape{oc}, "conv2d: bias shape ",
           bias.defined() ? ShapeToString(bias.shape()) : "", " should be (", oc, ")");
  const int64_t oh = g.out_h(), ow = g.out_w();
  TT_CHECK(oh > 0 && ow > 0, "conv2d: kernel ", ShapeToString(weight.shape()),
           " does not fit input ", ShapeToString(x.shape()), " with padding ",
           options.padding);
  const int64_t ckk = g.channels * g.kernel_h * g.kernel_w, p = oh * ow;
  // The whole batch is one GEMM: the images' patch matrices sit side by side in
  // cols (CKK, N*P), image i in columns [i*P, (i+1)*P). One (OC, CKK) x (CKK, N*P)
  // product is far more efficient than N thin ones (OC is only 16 or 32 here), and its
  // result (OC, N*P) is copied out to (N, OC, P) with the bias added on the way.
  const int64_t np = batch * p;
  const int64_t image = g.channels * g.height * g.width;
  Tensor out;
  {
    OpScope scope("conv2d", {&x.shape(), &weight.shape()}, 2 * batch * oc * ckk * p,
                  4 * (x.numel() + weight.numel() + batch * oc * p));
    Backend& backend = CurrentBackend();
    Tensor cols = Tensor::Empty({ckk, np});
    for (int64_t i = 0; i < batch; ++i) {
      backend.Im2Col(g, x.data() + i * image, cols.data() + i * p, np);
    }
    Tensor y = Tensor::Empty({oc, np});
    backend.Gemm(Trans::kNo, Trans::kNo, oc, np, ckk, 1.0f, weight.data(), ckk, cols.data(),
                 np, 0.0f, y.data(), np);
    out = Tensor::Empty({batch, oc, oh, ow});
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t c = 0; c < oc; ++c) {
        const float* src = y.data() + c * np + i * p;
        float* dst = out.data() + (i * oc + c) * p;
        if (bias.defined()) {
          backend.Binary(BinaryOp::kAdd, src, 1, bias.data() + c, 0, dst, p);
        } else {
          std::copy(src, src + p, dst);
        }
      }
    }
  }
  if (NeedsGrad({&x, &weight, &bias})) {
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    std::vector<Tensor> inputs = {x, weight};
    if (bias.defined()) inputs.push_back(bias);
    RecordOp(
        out, "conv2d", inputs,
        [xd = x.Detach(), wd = weight.Detach(), g, oc, ckk, p, need_x, need_w, need_b,
         has_bias = bias.defined()](const Tensor& grad) {
          const int64_t batch = xd.shape()[0], np = batch * p;
          const int64_t image = g.channels * g.height * g.width;
          // One GEMM of 2*OC*CKK*N*P for dW and one for dX, each only if needed.
          const int64_t gemms = (need_w ? 1 : 0) + (need_x ? 1 : 0);
          OpScope scope("conv2d.backward", {&xd.shape(), &wd.shape()},
                        2 * gemms * batch * oc * ckk * p,
                        4 * (xd.numel() + grad.numel() + 2 * wd.numel() +
                             (need_x ? xd.numel() : 0)));
          Backend& backend = CurrentBackend();
          // dY (N, OC, P) -> (OC, N*P), the layout the forward GEMM produced.
          Tensor dy = Tensor::Empty({oc, np});
          for (int64_t i = 0; i < batch; ++i) {
            for (int64_t c = 0; c < oc; ++c) {
              const float* src = grad.data() + (i * oc + c) * p;
              std::copy(src, src + p, dy.data() + c * np + i * p);
            }
          }
          Tensor dx = need_x ? Tensor::Zeros(xd.shape()) : Tensor();
          Tensor dw = need_w ? Tensor::Empty(wd.shape()) : Tensor();
          Tensor db = need_b ? Tensor::Zeros({oc}) : Tensor();
          if (need_w) {  // dW (OC, CKK) = dY (OC, N*P) x cols^T (N*P, CKK)
            Tensor cols = Tensor::Empty({ckk, np});
            for (int64_t i = 0; i < batch; ++i) {
              backend.Im2Col(g, xd.data() + i * image, cols.data() + i * p, np);
            }
            backend.Gemm(Trans::kNo, Trans::kYes, oc, ckk, np, 1.0f, dy.data(), np,
                         cols.data(), np, 0.0f, dw.data(), ckk);
          }
          if (need_x) {  // dcols (CKK, N*P) = W^T (CKK, OC) x dY (OC, N*P), folded back
            Tensor dcols = Tensor::Empty({ckk, np});
            backend.Gemm(Trans::kYes, Trans::kNo, ckk, np, oc, 1.0f, wd.data(), ckk,
                         dy.data(), np, 0.0f, dcols.data(), np);
            for (int64_t i = 0; i < batch; ++i) {
              backend.Col2Im(g, dcols.data() + i * p, np, dx.data() + i * image);
            }
          }
          if (need_b) {
            for (int64_t c = 0; c < oc; ++c) db.data()[c] = SumFloats(dy.data() + c * np, np);
          }
          std::vector<Tensor> grads = {dx, dw};
          if (has_bias) grads.push_back(db);
          return grads;
        });
  }
  return out;
}

Tensor MaxPool2d(const Tensor& x, int64_t kernel, int64_t stride) {
  TT_CHECK(x.dim() == 4, "max_pool2d: needs x (N,C,H,W), got ", ShapeToString(x.shape()));
  TT_CHECK(kernel > 0 && stride > 0, "max_pool2d: bad kernel ", kernel, " or stride ", stride);
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  TT_CHECK(h >= kernel && w >= kernel, "max_pool2d: kernel ", kernel, " larger than input ",
           ShapeToString(x.shape()));
  const int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  std::vector<int32_t> argmax(static_cast<size_t>(n * c * oh * ow));  // flat index in the plane
  Tensor out;
  {
    OpScope scope("max_pool2d", {&x.shape()}, NumElements({n, c, oh, ow}) * kernel * kernel,
                  4 * (x.numel() + NumElements({n, c, oh, ow})));
    out = Tensor::Empty({n, c, oh, ow});
    CurrentBackend().MaxPool2d(x.data(), n * c, h, w, kernel, stride, out.data(),
                               argmax.data());
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "max_pool2d", {x},
             [argmax = std::move(argmax), xs = x.shape(), plane_in = h * w,
              plane_out = oh * ow](const Tensor& g) {
               OpScope scope("max_pool2d.backward", {&g.shape()}, g.numel(),
                             4 * (g.numel() + NumElements(xs)));
               Tensor dx = Tensor::Zeros(xs);
               const float* pg = g.data();
               float* pd = dx.data();
               for (int64_t o = 0, total = g.numel(); o < total; ++o) {
                 pd[(o / plane_out) * plane_in + argmax[o]] += pg[o];
               }
               return std::vector<Tensor>{dx};
             });
  }
  return out;
}

}  // namespace tt::tensor
