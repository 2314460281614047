#include "quantization/quantize.h"

#include <cmath>
#include <cstdint>

#include "acceleration/cpu_features.h"
#include "quantization/kernels/quantize_kernels.h"
#include "tensor/check.h"

namespace tt::quant {
namespace {

// One row per tt::accel::Isa, in the enum's order.
struct QuantizeKernels {
  decltype(&kernels::QuantizeS8Scalar) quantize_s8;
  decltype(&kernels::QuantizeU8Scalar) quantize_u8;
  decltype(&kernels::DequantizeS8Scalar) dequantize_s8;
  decltype(&kernels::DequantizeU8Scalar) dequantize_u8;
};

constexpr QuantizeKernels kKernels[] = {
    {kernels::QuantizeS8Scalar, kernels::QuantizeU8Scalar, kernels::DequantizeS8Scalar,
     kernels::DequantizeU8Scalar},
    {kernels::QuantizeS8Avx2, kernels::QuantizeU8Avx2, kernels::DequantizeS8Avx2,
     kernels::DequantizeU8Avx2},
    {kernels::QuantizeS8Avx512, kernels::QuantizeU8Avx512, kernels::DequantizeS8Avx512,
     kernels::DequantizeU8Avx512},
};
static_assert(static_cast<int>(accel::Isa::kScalar) == 0 &&
                  static_cast<int>(accel::Isa::kAvx2Fma) == 1 &&
                  static_cast<int>(accel::Isa::kAvx512) == 2,
              "kKernels rows follow the order of enum Isa");

const QuantizeKernels& Active() { return kKernels[static_cast<int>(accel::ActiveIsa())]; }
const QuantizeKernels& Reference() { return kKernels[0]; }

// The contract shared by every entry point; returns 1 / scale.
float CheckArgs(const char* fn, int64_t n, QParams p, QType type) {
  TT_CHECK(n >= 0, fn, ": n must be >= 0, got ", n);
  TT_CHECK(std::isfinite(p.scale) && p.scale >= kMinScale, fn,
           ": scale must be finite and >= ", kMinScale, ", got ", p.scale);
  TT_CHECK(p.zero_point >= QMin(type) && p.zero_point <= QMax(type), fn, ": zero point ",
           p.zero_point, " is outside ", QTypeName(type), " [", QMin(type), ", ", QMax(type), "]");
  return 1.0f / p.scale;
}

}  // namespace

void QuantizeInt8(const float* x, int64_t n, QParams p, int8_t* out) {
  const float inv = CheckArgs("QuantizeInt8", n, p, QType::kInt8);
  Active().quantize_s8(x, n, inv, p.zero_point, out);
}

void QuantizeUint8(const float* x, int64_t n, QParams p, uint8_t* out) {
  const float inv = CheckArgs("QuantizeUint8", n, p, QType::kUint8);
  Active().quantize_u8(x, n, inv, p.zero_point, out);
}

void DequantizeInt8(const int8_t* q, int64_t n, QParams p, float* out) {
  CheckArgs("DequantizeInt8", n, p, QType::kInt8);
  Active().dequantize_s8(q, n, p.scale, p.zero_point, out);
}

void DequantizeUint8(const uint8_t* q, int64_t n, QParams p, float* out) {
  CheckArgs("DequantizeUint8", n, p, QType::kUint8);
  Active().dequantize_u8(q, n, p.scale, p.zero_point, out);
}

void QuantizeInt8Ref(const float* x, int64_t n, QParams p, int8_t* out) {
  const float inv = CheckArgs("QuantizeInt8Ref", n, p, QType::kInt8);
  Reference().quantize_s8(x, n, inv, p.zero_point, out);
}

void QuantizeUint8Ref(const float* x, int64_t n, QParams p, uint8_t* out) {
  const float inv = CheckArgs("QuantizeUint8Ref", n, p, QType::kUint8);
  Reference().quantize_u8(x, n, inv, p.zero_point, out);
}

void DequantizeInt8Ref(const int8_t* q, int64_t n, QParams p, float* out) {
  CheckArgs("DequantizeInt8Ref", n, p, QType::kInt8);
  Reference().dequantize_s8(q, n, p.scale, p.zero_point, out);
}

void DequantizeUint8Ref(const uint8_t* q, int64_t n, QParams p, float* out) {
  CheckArgs("DequantizeUint8Ref", n, p, QType::kUint8);
  Reference().dequantize_u8(q, n, p.scale, p.zero_point, out);
}

int32_t QuantizeValue(float x, QParams p, QType type) {
  const float inv = CheckArgs("QuantizeValue", 1, p, type);
  return kernels::QuantizeOne(x, inv, p.zero_point, QMin(type), QMax(type));
}

float DequantizeValue(int32_t q, QParams p) {
  TT_CHECK(std::isfinite(p.scale) && p.scale > 0, "DequantizeValue: bad scale ", p.scale);
  return kernels::DequantizeOne(q, p.scale, p.zero_point);
}

}  // namespace tt::quant
