#include "quantization/gemm_compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "acceleration/cpu_features.h"
#include "acceleration/gemm.h"
#include "profiling/timer.h"
#include "quantization/int8_gemm.h"
#include "quantization/int8_isa.h"
#include "quantization/requantize.h"
#include "quantization/xnnpack_qs8.h"
#include "tensor/check.h"

namespace tt::quant {

Int8GemmFigures CompareInt8Gemm(int64_t size, double min_seconds) {
  TT_CHECK(size >= 1 && size <= 8192, "CompareInt8Gemm: size ", size, " not in [1, 8192]");
  TT_CHECK(std::isfinite(min_seconds) && min_seconds >= 0.0,
           "CompareInt8Gemm: min_seconds = ", min_seconds);
  const int64_t n = size;
  std::mt19937_64 rng(size);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  std::uniform_real_distribution<float> f(-1.0f, 1.0f);

  // int8: activations around a zero point, random weights, per-channel scales that put
  // the outputs in the 8-bit range (the accumulators' spread is ~ 74 * 128 * sqrt(K)).
  std::vector<uint8_t> a(n * n), c8(n * n);
  std::vector<int8_t> b(n * n);
  std::vector<int32_t> bias(n);
  for (uint8_t& v : a) v = static_cast<uint8_t>(u8(rng));
  for (int8_t& v : b) v = static_cast<int8_t>(s8(rng));
  for (int32_t& v : bias) v = s8(rng) * 64;
  const PackedInt8Matrix packed = PackedInt8Matrix::Pack(b.data(), n, n, n);
  std::vector<FixedPointMultiplier> mult(n);
  for (int64_t j = 0; j < n; ++j) {
    const double spread = 74.0 * 128.0 * std::sqrt(static_cast<double>(n));
    mult[j] = QuantizeMultiplier(64.0 / spread * (1.0 + 0.01 * (j % 7))).value();
  }
  Int8Epilogue ep;
  ep.bias = bias.data();
  ep.multipliers = mult.data();
  ep.output_zero_point = 128;

  // f32: the same shapes.
  std::vector<float> af(n * n), bf(n * n), cf(n * n);
  for (float& v : af) v = f(rng);
  for (float& v : bf) v = f(rng);
  accel::GemmArgs g;
  g.m = g.n = g.k = n;
  g.a = af.data();
  g.lda = n;
  g.b = bf.data();
  g.ldb = n;
  g.c = cf.data();
  g.ldc = n;
  const accel::Isa isa = accel::ActiveIsa();

  // XNNPACK qs8: int8 activations (16 readable bytes past the end), the same weights.
  std::vector<int8_t> x(n * n + 16), y(n * n);
  for (int64_t i = 0; i < n * n; ++i) x[i] = static_cast<int8_t>(a[i] - 128);
  XnnpackQs8Params p;
  p.k = p.n = n;
  p.input_zero_point = 0;
  p.input_scale = 0.02f;
  p.kernel_scale = 0.004f;
  p.output_scale = static_cast<float>(0.02 * 0.004 / MultiplierToDouble(mult[0]));
  absl::StatusOr<std::unique_ptr<XnnpackQs8FullyConnected>> xnn =
      XnnpackQs8FullyConnected::Create(b.data(), bias.data(), p);

  std::vector<prof::NamedFunction> fns = {
      {"int8", [&] { Int8Gemm(packed, n, a.data(), n, 128, ep, c8.data(), n); }},
      {"f32", [&] { accel::GemmPacked(g, isa); }},
  };
  if (xnn.ok()) {
    fns.push_back({"xnnpack_qs8", [&] { (void)(*xnn)->Run(n, x.data(), y.data()); }});
  }
  prof::MeasureOptions options;
  options.warmup = 2;
  options.min_runs = 5;
  options.min_time_s = min_seconds;
  options.max_time_s = std::max(10.0, min_seconds);
  absl::StatusOr<std::vector<prof::Measurement>> m = prof::MeasureInterleaved(fns, options);
  TT_CHECK(m.ok(), "CompareInt8Gemm: ", m.status().ToString());

  const double ops = 2.0 * static_cast<double>(n) * n * n;
  auto rate = [&](const prof::Measurement& r) { return ops / r.summary.median; };  // per ns
  Int8GemmFigures out;
  out.size = size;
  out.int8_gops = rate((*m)[0]);
  out.f32_gflops = rate((*m)[1]);
  out.xnnpack_qs8_gops = xnn.ok() ? rate((*m)[2]) : std::numeric_limits<double>::quiet_NaN();
  out.kernel = Int8KernelName(packed.kernel());
  out.load = (*m)[0].load.ToString();
  out.busy = (*m)[0].load.busy;
  return out;
}

}  // namespace tt::quant
