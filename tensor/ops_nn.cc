// Neural-network ops: softmax, layer norm, embedding, causal mask, dropout, losses.
#include <cmath>
#include <limits>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

int64_t LastDim(const Tensor& x, const char* op) {
  TT_CHECK(x.dim() >= 1, op, ": needs at least one axis, got shape ", ShapeToString(x.shape()));
  return x.shape().back();
}

Tensor SoftmaxImpl(const Tensor& x, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  const int64_t cols = LastDim(x, name);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor out;
  {
    OpScope scope(name, {&x.shape()}, 5 * x.numel(), 8 * x.numel());
    out = Tensor::Empty(x.shape());
    CurrentBackend().SoftmaxRows(x.data(), out.data(), rows, cols, log);
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, name, {x}, [yd = out.Detach(), rows, cols, log](const Tensor& g) {
      OpScope scope(log ? "log_softmax.backward" : "softmax.backward", {&yd.shape()},
                    4 * yd.numel(), 12 * yd.numel());
      Tensor dx = Tensor::Empty(yd.shape());
      const float* y = yd.data();
      const float* dy = g.data();
      float* d = dx.data();
      for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * cols;
        const float* gr = dy + r * cols;
        float* dr = d + r * cols;
        if (log) {  // dx = dy - softmax * sum(dy)
          float s = 0.0f;
          for (int64_t j = 0; j < cols; ++j) s += gr[j];
          for (int64_t j = 0; j < cols; ++j) dr[j] = gr[j] - std::exp(yr[j]) * s;
        } else {  // dx = y * (dy - sum(dy * y))
          float s = 0.0f;
          for (int64_t j = 0; j < cols; ++j) s += gr[j] * yr[j];
          for (int64_t j = 0; j < cols; ++j) dr[j] = yr[j] * (gr[j] - s);
        }
      }
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace

Tensor Softmax(const Tensor& x) { return SoftmaxImpl(x, /*log=*/false); }
Tensor LogSoftmax(const Tensor& x) { return SoftmaxImpl(x, /*log=*/true); }

Tensor LayerNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  const int64_t d = LastDim(x, "layer_norm");
  TT_CHECK(gamma.shape() == Shape{d} && beta.shape() == Shape{d}, "layer_norm: gamma ",
           ShapeToString(gamma.shape()), " and beta ", ShapeToString(beta.shape()),
           " must be (", d, ") for input ", ShapeToString(x.shape()));
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  // Per row: mean and 1/sigma, kept for the backward pass.
  std::vector<float> mean(rows), rstd(rows);
  Tensor out;
  {
    OpScope scope("layer_norm", {&x.shape()}, 8 * x.numel(), 8 * x.numel());
    out = Tensor::Empty(x.shape());
    const float* px = x.data();
    const float* pg = gamma.data();
    const float* pb = beta.data();
    float* py = out.data();
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = px + r * d;
      float* yr = py + r * d;
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) s += xr[j];
      const float m = static_cast<float>(s / d);
      double v = 0.0;  // two-pass variance: no cancellation for large means
      for (int64_t j = 0; j < d; ++j) v += (xr[j] - m) * (xr[j] - m);
      const float rs = 1.0f / std::sqrt(static_cast<float>(v / d) + eps);
      for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - m) * rs * pg[j] + pb[j];
      mean[r] = m;
      rstd[r] = rs;
    }
  }
  if (NeedsGrad({&x, &gamma, &beta})) {
    RecordOp(out, "layer_norm", {x, gamma, beta},
             [xd = x.Detach(), gd = gamma.Detach(), mean = std::move(mean),
              rstd = std::move(rstd), rows, d](const Tensor& g) {
               OpScope scope("layer_norm.backward", {&xd.shape()}, 12 * xd.numel(),
                             12 * xd.numel());
               Tensor dx = Tensor::Empty(xd.shape());
               Tensor dgamma = Tensor::Zeros({d});
               Tensor dbeta = Tensor::Zeros({d});
               const float* px = xd.data();
               const float* pg = gd.data();
               const float* dy = g.data();
               float* pdx = dx.data();
               float* pdg = dgamma.data();
               float* pdb = dbeta.data();
               for (int64_t r = 0; r < rows; ++r) {
                 const float* xr = px + r * d;
                 const float* gr = dy + r * d;
                 // xhat = (x - mean) * rstd; dxhat = dy * gamma
                 // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
                 float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
                 for (int64_t j = 0; j < d; ++j) {
                   const float xhat = (xr[j] - mean[r]) * rstd[r];
                   const float dxhat = gr[j] * pg[j];
                   sum_dxhat += dxhat;
                   sum_dxhat_xhat += dxhat * xhat;
                   pdg[j] += gr[j] * xhat;
                   pdb[j] += gr[j];
                 }
                 const float m1 = sum_dxhat / d, m2 = sum_dxhat_xhat / d;
                 for (int64_t j = 0; j < d; ++j) {
                   const float xhat = (xr[j] - mean[r]) * rstd[r];
                   pdx[r * d + j] = rstd[r] * (gr[j] * pg[j] - m1 - xhat * m2);
                 }
               }
               return std::vector<Tensor>{dx, dgamma, dbeta};
             });
  }
  return out;
}

Tensor Embedding(const Tensor& weight, const std::vector<int32_t>& ids, const Shape& ids_shape) {
  TT_CHECK(weight.dim() == 2, "embedding: weight must be (V, D), got ",
           ShapeToString(weight.shape()));
  TT_CHECK(static_cast<int64_t>(ids.size()) == NumElements(ids_shape), "embedding: ",
           ids.size(), " ids do not fill shape ", ShapeToString(ids_shape));
  const int64_t vocab = weight.shape()[0], d = weight.shape()[1];
  for (size_t i = 0; i < ids.size(); ++i) {
    TT_CHECK(ids[i] >= 0 && ids[i] < vocab, "embedding: id ", ids[i], " at position ", i,
             " out of range [0, ", vocab, ")");
  }
  Shape out_shape = ids_shape;
  out_shape.push_back(d);
  Tensor out;
  {
    OpScope scope("embedding", {&weight.shape()}, 0, 8 * NumElements(out_shape));
    out = Tensor::Empty(out_shape);
    for (size_t i = 0; i < ids.size(); ++i) {
      std::copy(weight.data() + ids[i] * d, weight.data() + (ids[i] + 1) * d,
                out.data() + i * d);
    }
  }
  if (NeedsGrad({&weight})) {
    RecordOp(out, "embedding", {weight}, [ids, ws = weight.shape(), d](const Tensor& g) {
      OpScope scope("embedding.backward", {&g.shape()}, g.numel(),
                    4 * (2 * g.numel() + NumElements(ws)));
      Tensor dw = Tensor::Zeros(ws);  // rows of repeated ids accumulate
      for (size_t i = 0; i < ids.size(); ++i) {
        float* row = dw.data() + ids[i] * d;
        const float* gr = g.data() + i * d;
        for (int64_t j = 0; j < d; ++j) row[j] += gr[j];
      }
      return std::vector<Tensor>{dw};
    });
  }
  return out;
}

Tensor CausalMask(const Tensor& x, int64_t offset) {
  TT_CHECK(x.dim() >= 2, "causal_mask: needs (..., T, S), got ", ShapeToString(x.shape()));
  const int64_t t = x.size(-2), s = x.size(-1);
  const int64_t planes = t * s == 0 ? 0 : x.numel() / (t * s);
  OpScope scope("causal_mask", {&x.shape()}, 0, 8 * x.numel());
  Tensor out = x.Clone();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  float* p = out.data();
  for (int64_t b = 0; b < planes; ++b) {
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = std::max<int64_t>(0, i + offset + 1); j < s; ++j) {
        p[(b * t + i) * s + j] = neg_inf;
      }
    }
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "causal_mask", {x}, [planes, t, s, offset](const Tensor& g) {
      OpScope scope("causal_mask.backward", {&g.shape()}, 0, 8 * g.numel());
      Tensor dx = g.Clone();  // masked positions do not depend on x
      float* d = dx.data();
      for (int64_t b = 0; b < planes; ++b) {
        for (int64_t i = 0; i < t; ++i) {
          for (int64_t j = std::max<int64_t>(0, i + offset + 1); j < s; ++j) {
            d[(b * t + i) * s + j] = 0.0f;
          }
        }
      }
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor Dropout(const Tensor& x, float p, Rng& rng) {
  TT_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), got ", p);
  if (p == 0.0f) return x;
  const float scale = 1.0f / (1.0f - p);
  Tensor mask, out;  // mask: 0 or 1/(1-p) per element; the backward reuses it
  {
    OpScope scope("dropout", {&x.shape()}, x.numel(), 12 * x.numel());
    mask = Tensor::Empty(x.shape());
    out = Tensor::Empty(x.shape());
    float* pm = mask.data();
    float* py = out.data();
    const float* px = x.data();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      pm[i] = rng.Uniform() < p ? 0.0f : scale;
      py[i] = px[i] * pm[i];
    }
  }
  if (NeedsGrad({&x})) {
    RecordOp(out, "dropout", {x}, [mask](const Tensor& g) {
      OpScope scope("dropout.backward", {&g.shape()}, g.numel(), 12 * g.numel());
      Tensor dx = Tensor::Empty(g.shape());
      for (int64_t i = 0, n = g.numel(); i < n; ++i) dx.data()[i] = g.data()[i] * mask.data()[i];
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor CrossEntropy(const Tensor& logits, const std::vector<int32_t>& labels) {
  TT_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ",
           ShapeToString(logits.shape()));
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  TT_CHECK(static_cast<int64_t>(labels.size()) == n, "cross_entropy: ", labels.size(),
           " labels for ", n, " rows of logits ", ShapeToString(logits.shape()));
  TT_CHECK(n > 0, "cross_entropy: empty batch");
  for (int64_t i = 0; i < n; ++i) {
    TT_CHECK(labels[i] >= 0 && labels[i] < c, "cross_entropy: label ", labels[i], " of row ",
             i, " out of range [0, ", c, ")");
  }
  Tensor logp, out;
  double total = 0.0;
  {
    OpScope scope("cross_entropy", {&logits.shape()}, 5 * logits.numel(), 4 * logits.numel());
    logp = Tensor::Empty(logits.shape());
    CurrentBackend().SoftmaxRows(logits.data(), logp.data(), n, c, /*log=*/true);
    for (int64_t i = 0; i < n; ++i) total -= logp.data()[i * c + labels[i]];
    out = Tensor::Scalar(static_cast<float>(total / n));
  }
  if (NeedsGrad({&logits})) {
    RecordOp(out, "cross_entropy", {logits}, [logp, labels, n, c](const Tensor& g) {
      // d/dlogits of mean(-log softmax[label]) = (softmax - onehot) / N
      OpScope scope("cross_entropy.backward", {&logp.shape()}, 2 * logp.numel(),
                    8 * logp.numel());
      Tensor dx = Tensor::Empty(logp.shape());
      const float scale = g.item() / static_cast<float>(n);
      const float* lp = logp.data();
      float* d = dx.data();
      for (int64_t i = 0; i < n * c; ++i) d[i] = std::exp(lp[i]) * scale;
      for (int64_t i = 0; i < n; ++i) d[i * c + labels[i]] -= scale;
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor MseLoss(const Tensor& prediction, const Tensor& target) {
  TT_CHECK(prediction.shape() == target.shape(), "mse_loss: prediction ",
           ShapeToString(prediction.shape()), " and target ", ShapeToString(target.shape()),
           " differ");
  Tensor diff = Sub(prediction, target);
  return Mean(Mul(diff, diff));
}

}  // namespace tt::tensor
