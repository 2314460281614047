// XNNPACK's signed 8-bit fully connected operator (qs8: int8 activations with a zero
// point, int8 weights with one scale per tensor and no zero point, int32 bias), wrapped
// for comparison with the course's own int8 GEMM. Created once (the weights are packed
// then), run on the calling thread.
//
//   tt::quant::XnnpackQs8Params p;
//   p.k = 784; p.n = 256;
//   p.input_zero_point = -3; p.input_scale = 0.02f;
//   p.kernel_scale = 0.004f;
//   p.output_zero_point = 5; p.output_scale = 0.05f;
//   TT_ASSIGN_OR_RETURN(auto fc, tt::quant::XnnpackQs8FullyConnected::Create(w, bias, p));
//   TT_RETURN_IF_ERROR(fc->Run(/*batch=*/64, x, y));  // x: (64, 784) int8 -> y: (64, 256)
//
// The same layer on Int8Gemm: uint8 activations are the int8 ones plus 128 (the zero
// point too), the weights and bias are the same, the multiplier is
// QuantizeMultiplier(input_scale * kernel_scale / output_scale), and the uint8 output
// minus 128 is XNNPACK's. XNNPACK (2022-02) requantizes in float (acc * scale, rounded
// to nearest even) where Int8Gemm uses fixed point with ties up, so the two agree to
// within 1 (xnnpack_qs8_test).
//
// XNNPACK may read up to XNN_EXTRA_BYTES (16) past the end of the input array (never
// write): give Run an input with 16 readable bytes after its last element.
#ifndef TT_QUANTIZATION_XNNPACK_QS8_H_
#define TT_QUANTIZATION_XNNPACK_QS8_H_

#include <xnnpack.h>

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "acceleration/xnnpack_gemm.h"

namespace tt::quant {

struct XnnpackQs8Params {
  int64_t k = 0, n = 0;  // input and output channels, >= 1
  // Weights (K, N) row-major (the course's Linear) or (N, K).
  accel::WeightLayout layout = accel::WeightLayout::kKN;
  int32_t input_zero_point = 0;  // in [-128, 127]
  float input_scale = 1.0f;      // finite, > 0
  float kernel_scale = 1.0f;     // finite, > 0
  int32_t output_zero_point = 0;  // in [-128, 127]
  float output_scale = 1.0f;      // finite, > 0
  int32_t output_min = -128, output_max = 127;  // -128 <= min < max <= 127
};

class XnnpackQs8FullyConnected {
 public:
  // w: int8 in params.layout; bias: N int32 (in units of input_scale * kernel_scale) or
  // null. Both are packed into the operator and not referenced afterwards.
  // Errors: accel::XnnpackStatus() when not OK; InvalidArgument naming the field for a
  // bad parameter or a null w; XNNPACK's own (e.g. Unimplemented for
  // input_scale * kernel_scale / output_scale >= 256, which it does not support).
  static absl::StatusOr<std::unique_ptr<XnnpackQs8FullyConnected>> Create(
      const int8_t* w, const int32_t* bias, const XnnpackQs8Params& params);
  ~XnnpackQs8FullyConnected();
  XnnpackQs8FullyConnected(const XnnpackQs8FullyConnected&) = delete;
  XnnpackQs8FullyConnected& operator=(const XnnpackQs8FullyConnected&) = delete;

  // x: (batch, K) int8 contiguous (+16 readable bytes) -> y: (batch, N) int8 contiguous.
  // batch == 0 does nothing; batch < 0 or null pointers: InvalidArgument. One thread.
  // Calls on one operator are serialized (XNNPACK's setup writes into it).
  absl::Status Run(int64_t batch, const int8_t* x, int8_t* y);

  int64_t k() const { return k_; }
  int64_t n() const { return n_; }

 private:
  XnnpackQs8FullyConnected(xnn_operator_t op, int64_t k, int64_t n) : op_(op), k_(k), n_(n) {}
  absl::Mutex mu_;
  xnn_operator_t op_ ABSL_GUARDED_BY(mu_);
  int64_t k_, n_;
};

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_XNNPACK_QS8_H_
