#include "tensor/backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensor/check.h"

namespace tt::tensor {

// --- GEMM ------------------------------------------------------------------------

namespace {
// Copies a transposed operand into a plain (rows, cols) row-major buffer.
// src is stored (cols, rows) with row stride ld.
std::vector<float> Untranspose(const float* src, int64_t ld, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = src[c * ld + r];
  }
  return out;
}
}  // namespace

void ReferenceBackend::Gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, float alpha,
                            const float* a, int64_t lda, const float* b, int64_t ldb,
                            float beta, float* c, int64_t ldc) {
  // Transposed operands are copied to plain layout first (O(MK) or O(KN) work, small next
  // to the O(MNK) product), so one i-k-j loop serves all four cases. i-k-j walks B and C
  // along rows, which the compiler vectorizes; the naive i-j-k order does not.
  std::vector<float> a_plain, b_plain;
  if (ta == Trans::kYes) {
    a_plain = Untranspose(a, lda, m, k);
    a = a_plain.data();
    lda = k;
  }
  if (tb == Trans::kYes) {
    b_plain = Untranspose(b, ldb, k, n);
    b = b_plain.data();
    ldb = n;
  }
  for (int64_t i = 0; i < m; ++i) {
    float* __restrict c_row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(c_row, c_row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < n; ++j) c_row[j] *= beta;
    }
    for (int64_t p = 0; p < k; ++p) {
      const float a_ip = alpha * a[i * lda + p];
      const float* __restrict b_row = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) c_row[j] += a_ip * b_row[j];
    }
  }
}

void Backend::GemmBiasAct(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, const float* a,
                          int64_t lda, const float* b, int64_t ldb, const float* bias,
                          Activation act, float* c, int64_t ldc) {
  Gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (bias != nullptr) Binary(BinaryOp::kAdd, row, 1, bias, 1, row, n);
    if (act == Activation::kRelu) Unary(UnaryOp::kRelu, row, row, n);
    if (act == Activation::kGelu) Unary(UnaryOp::kGelu, row, row, n);
  }
}

// --- im2col / col2im --------------------------------------------------------------

namespace {
// The output columns xo whose input column ix = xo * stride - pad + kj lies inside
// [0, width): [*lo, *hi). Computed once per row, so the copy loops have no branches.
void ValidColumns(int64_t width, int64_t out_w, int64_t stride, int64_t pad, int64_t kj,
                  int64_t* lo, int64_t* hi) {
  // ix >= 0  <=>  xo >= (pad - kj) / stride, rounded up.
  const int64_t first = pad - kj;
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  // ix < width  <=>  xo * stride < width + pad - kj.
  const int64_t limit = width + pad - kj;
  *hi = limit <= 0 ? 0 : std::min(out_w, (limit + stride - 1) / stride);
  *lo = std::min(*lo, *hi);
}
}  // namespace

void ReferenceBackend::Im2Col(const ConvGeometry& g, const float* x, float* cols, int64_t ld) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        float* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        ValidColumns(g.width, ow, g.stride_w, g.pad_w, kj, &lo, &hi);
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * g.stride_h - g.pad_h + ki;
          float* out = row + y * ow;
          if (iy < 0 || iy >= g.height) {
            std::fill(out, out + ow, 0.0f);
            continue;
          }
          // Padding columns are zero; the rest is a copy (contiguous when stride is 1).
          const float* in = x + (c * g.height + iy) * g.width - g.pad_w + kj;
          std::fill(out, out + lo, 0.0f);
          if (g.stride_w == 1) {
            std::copy(in + lo, in + hi, out + lo);
          } else {
            for (int64_t xo = lo; xo < hi; ++xo) out[xo] = in[xo * g.stride_w];
          }
          std::fill(out + hi, out + ow, 0.0f);
        }
      }
    }
  }
}

void ReferenceBackend::Col2Im(const ConvGeometry& g, const float* cols, int64_t ld, float* dx) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const float* row = cols + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        ValidColumns(g.width, ow, g.stride_w, g.pad_w, kj, &lo, &hi);
        for (int64_t y = 0; y < oh; ++y) {
          const int64_t iy = y * g.stride_h - g.pad_h + ki;
          if (iy < 0 || iy >= g.height) continue;
          float* out = dx + (c * g.height + iy) * g.width - g.pad_w + kj;
          const float* in = row + y * ow;
          if (g.stride_w == 1) {
            for (int64_t xo = lo; xo < hi; ++xo) out[xo] += in[xo];
          } else {
            for (int64_t xo = lo; xo < hi; ++xo) out[xo * g.stride_w] += in[xo];
          }
        }
      }
    }
  }
}

// --- Elementwise ----------------------------------------------------------------

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCoeff = 0.044715f;

inline float Sigmoid(float x) {
  // Stable on both sides: never exponentiates a large positive number.
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}
}  // namespace

void ReferenceBackend::Unary(UnaryOp op, const float* x, float* y, int64_t n) {
  // The switch is outside the loops: one predictable branch per call, not per element.
  switch (op) {
    case UnaryOp::kExp:
      for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      break;
    case UnaryOp::kLog:
      for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
      break;
    case UnaryOp::kSqrt:
      for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
      break;
    case UnaryOp::kTanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      break;
    case UnaryOp::kSigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = Sigmoid(x[i]);
      break;
    case UnaryOp::kRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case UnaryOp::kGelu:  // the tanh approximation (as in GPT-2)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + kGeluCoeff * v * v * v)));
      }
      break;
    case UnaryOp::kNeg:
      for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
      break;
  }
}

void ReferenceBackend::UnaryBackward(UnaryOp op, const float* x, const float* y,
                                     const float* dy, float* dx, int64_t n) {
  switch (op) {
    case UnaryOp::kExp:  // d exp(x) = exp(x)
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i];
      break;
    case UnaryOp::kLog:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] / x[i];
      break;
    case UnaryOp::kSqrt:  // 1 / (2 sqrt(x))
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * 0.5f / y[i];
      break;
    case UnaryOp::kTanh:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case UnaryOp::kSigmoid:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case UnaryOp::kRelu:  // the subgradient 0 at x == 0
      for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
      break;
    case UnaryOp::kGelu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float t = std::tanh(kSqrt2OverPi * (v + kGeluCoeff * v * v * v));
        const float dt = (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCoeff * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * dt);
      }
      break;
    case UnaryOp::kNeg:
      for (int64_t i = 0; i < n; ++i) dx[i] = -dy[i];
      break;
  }
}

namespace {
template <typename F>
void BinaryLoop(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n,
                F f) {
  // Separate loops per step pattern keep each one simple enough to vectorize.
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa == 1) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    const float v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}
}  // namespace

void ReferenceBackend::Binary(BinaryOp op, const float* a, int64_t a_step, const float* b,
                              int64_t b_step, float* y, int64_t n) {
  TT_CHECK((a_step == 0 || a_step == 1) && (b_step == 0 || b_step == 1),
           "Backend::Binary: steps must be 0 or 1, got ", a_step, " and ", b_step);
  switch (op) {
    case BinaryOp::kAdd:
      BinaryLoop(a, a_step, b, b_step, y, n, [](float u, float v) { return u + v; });
      break;
    case BinaryOp::kSub:
      BinaryLoop(a, a_step, b, b_step, y, n, [](float u, float v) { return u - v; });
      break;
    case BinaryOp::kMul:
      BinaryLoop(a, a_step, b, b_step, y, n, [](float u, float v) { return u * v; });
      break;
    case BinaryOp::kDiv:
      BinaryLoop(a, a_step, b, b_step, y, n, [](float u, float v) { return u / v; });
      break;
  }
}

void ReferenceBackend::SoftmaxRows(const float* x, float* y, int64_t rows, int64_t cols,
                                   bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    // Subtracting the row max keeps exp() in range: softmax(x) == softmax(x - max).
    float mx = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, in[j]);
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(in[j] - mx);
    if (log) {
      // (x - max) - log(sum), not x - (max + log(sum)): at |x| ~ 1000 the float sum
      // max + log(sum) would round away ~1e-4 of the result.
      const float log_sum = static_cast<float>(std::log(sum));
      for (int64_t j = 0; j < cols; ++j) out[j] = (in[j] - mx) - log_sum;
    } else {
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < cols; ++j) out[j] = std::exp(in[j] - mx) * inv;
    }
  }
}

void ReferenceBackend::MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w,
                                 int64_t kernel, int64_t stride, float* y, int32_t* argmax) {
  const int64_t oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* in = x + plane * h * w;
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        int64_t best = (i * stride) * w + j * stride;
        for (int64_t ki = 0; ki < kernel; ++ki) {
          for (int64_t kj = 0; kj < kernel; ++kj) {
            const int64_t at = (i * stride + ki) * w + j * stride + kj;
            if (in[at] > in[best]) best = at;  // strict: the first maximum wins
          }
        }
        const int64_t o = (plane * oh + i) * ow + j;
        y[o] = in[best];
        argmax[o] = static_cast<int32_t>(best);
      }
    }
  }
}

// --- Selection and registry ----------------------------------------------------------

namespace {
ReferenceBackend& Reference() {
  static ReferenceBackend* reference = new ReferenceBackend;
  return *reference;
}

std::atomic<Backend*> g_default{nullptr};
thread_local Backend* t_scoped = nullptr;

struct Registry {
  std::mutex mu;
  std::map<std::string, Backend*> backends;
};
Registry& GetRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}
}  // namespace

Backend& CurrentBackend() {
  if (t_scoped != nullptr) return *t_scoped;
  Backend* d = g_default.load(std::memory_order_relaxed);
  return d != nullptr ? *d : Reference();
}

void SetDefaultBackend(Backend* backend) { g_default.store(backend); }

ScopedBackend::ScopedBackend(Backend* backend) : previous_(t_scoped) {
  TT_CHECK(backend != nullptr, "ScopedBackend: null backend");
  t_scoped = backend;
}
ScopedBackend::~ScopedBackend() { t_scoped = previous_; }

void RegisterBackend(Backend* backend) {
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.backends[backend->name()] = backend;
}

absl::StatusOr<Backend*> FindBackend(absl::string_view name) {
  if (name == "reference") return &Reference();
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.backends.find(std::string(name));
  if (it == r.backends.end()) {
    std::vector<std::string> names = {"reference"};
    for (const auto& [n, b] : r.backends) names.push_back(n);
    return absl::NotFoundError(absl::StrCat("no backend named '", name,
                                            "'; registered: ", absl::StrJoin(names, ", ")));
  }
  return it->second;
}

std::vector<std::string> BackendNames() {
  std::vector<std::string> names = {"reference"};
  auto& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const auto& [n, b] : r.backends) {
    if (n != "reference") names.push_back(n);
  }
  return names;
}

}  // namespace tt::tensor
