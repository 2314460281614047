#include "quantization/xnnpack_qs8.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::quant {
namespace {

absl::Status CheckParams(const XnnpackQs8Params& p) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("XnnpackQs8FullyConnected: ", what));
  };
  if (p.k < 1 || p.n < 1) return bad(absl::StrCat("needs K, N >= 1, got K=", p.k, ", N=", p.n));
  auto in_int8 = [](int32_t v) { return v >= -128 && v <= 127; };
  if (!in_int8(p.input_zero_point)) {
    return bad(absl::StrCat("input_zero_point ", p.input_zero_point, " is not in [-128, 127]"));
  }
  if (!in_int8(p.output_zero_point)) {
    return bad(absl::StrCat("output_zero_point ", p.output_zero_point, " is not in [-128, 127]"));
  }
  for (const auto& [name, scale] : {std::pair<const char*, float>{"input_scale", p.input_scale},
                                    {"kernel_scale", p.kernel_scale},
                                    {"output_scale", p.output_scale}}) {
    if (!(std::isfinite(scale) && scale > 0.0f)) {
      return bad(absl::StrCat(name, " must be finite and > 0, got ", scale));
    }
  }
  if (!in_int8(p.output_min) || !in_int8(p.output_max) || p.output_min >= p.output_max) {
    return bad(absl::StrCat("needs -128 <= output_min < output_max <= 127, got [", p.output_min,
                            ", ", p.output_max, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<XnnpackQs8FullyConnected>> XnnpackQs8FullyConnected::Create(
    const int8_t* w, const int32_t* bias, const XnnpackQs8Params& params) {
  TT_RETURN_IF_ERROR(accel::XnnpackStatus());
  TT_RETURN_IF_ERROR(CheckParams(params));
  if (w == nullptr) return absl::InvalidArgumentError("XnnpackQs8FullyConnected: w is null");
  // Without flags XNNPACK reads the kernel as (N, K); XNN_FLAG_TRANSPOSE_WEIGHTS makes it
  // (K, N), as for the f32 operator (acceleration/xnnpack_gemm.cc).
  const uint32_t flags =
      params.layout == accel::WeightLayout::kKN ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0;
  xnn_operator_t op = nullptr;
  const xnn_status s = xnn_create_fully_connected_nc_qs8(
      static_cast<size_t>(params.k), static_cast<size_t>(params.n),
      /*input_stride=*/static_cast<size_t>(params.k),
      /*output_stride=*/static_cast<size_t>(params.n),
      static_cast<int8_t>(params.input_zero_point), params.input_scale, params.kernel_scale, w,
      bias, static_cast<int8_t>(params.output_zero_point), params.output_scale,
      static_cast<int8_t>(params.output_min), static_cast<int8_t>(params.output_max), flags,
      &op);
  if (s != xnn_status_success) {
    return accel::XnnStatusToStatus(
        s, absl::StrCat("xnn_create_fully_connected_nc_qs8(K=", params.k, ", N=", params.n,
                        ", scale ratio ",
                        params.input_scale * params.kernel_scale / params.output_scale, ")")
               .c_str());
  }
  return std::unique_ptr<XnnpackQs8FullyConnected>(
      new XnnpackQs8FullyConnected(op, params.k, params.n));
}

XnnpackQs8FullyConnected::~XnnpackQs8FullyConnected() {
  absl::MutexLock lock(&mu_);
  xnn_delete_operator(op_);
}

absl::Status XnnpackQs8FullyConnected::Run(int64_t batch, const int8_t* x, int8_t* y) {
  if (batch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("XnnpackQs8FullyConnected::Run: batch must be >= 0, got ", batch));
  }
  if (batch == 0) return absl::OkStatus();
  if (x == nullptr || y == nullptr) {
    return absl::InvalidArgumentError("XnnpackQs8FullyConnected::Run: null input or output");
  }
  absl::MutexLock lock(&mu_);
  xnn_status s = xnn_setup_fully_connected_nc_qs8(op_, static_cast<size_t>(batch), x, y,
                                                  /*threadpool=*/nullptr);
  if (s != xnn_status_success) return accel::XnnStatusToStatus(s, "xnn_setup_fully_connected_nc_qs8");
  s = xnn_run_operator(op_, /*threadpool=*/nullptr);
  return accel::XnnStatusToStatus(s, "xnn_run_operator(qs8 fully connected)");
}

}  // namespace tt::quant
