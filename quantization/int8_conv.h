// The int8 convolution and max-pool of the quantized CNN, in NHWC layout.
//
// A quantized CNN keeps its activations as uint8 in NHWC order (batch, height, width,
// channels): then the im2col matrix has one row per output pixel holding its
// kernel x kernel x channels patch, the GEMM is (pixels x patch) x (patch x out_channels),
// and its output rows are already the next layer's NHWC pixels — no transposes between
// layers. (The float model in tensor/ uses NCHW; quantization converts once, at the input.)
//
//   Im2ColNhwc(shape, x, x_zero_point, cols);              // (pixels, patch) uint8
//   Int8Gemm(packed_weights, shape.pixels(), cols, shape.patch(), x_zero_point,
//            epilogue, y, shape.out_channels);              // (pixels, OC) uint8 = NHWC
//
// Padding: pixels outside the image read the input's zero point, the integer that means
// real 0 — exactly what zero padding of the float model means.
#ifndef TT_QUANTIZATION_INT8_CONV_H_
#define TT_QUANTIZATION_INT8_CONV_H_

#include <cstdint>
#include <vector>

namespace tt::quant {

// The geometry of one square-kernel convolution over an NHWC batch.
struct ConvShape {
  int64_t batch = 1, height = 0, width = 0, in_channels = 0;
  int64_t out_channels = 0, kernel = 1, stride = 1, padding = 0;

  int64_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  int64_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  // Rows of the im2col matrix: one per output pixel of the whole batch.
  int64_t pixels() const { return batch * out_height() * out_width(); }
  // Columns of the im2col matrix (= rows of the GEMM weight matrix).
  int64_t patch() const { return kernel * kernel * in_channels; }
};

// cols (pixels, patch), row-major; patch order (kh, kw, c). x: (batch, H, W, C) uint8.
// Each image is first copied into a padded buffer (its border filled with pad_value),
// so that the patch loop needs no bounds checks: every kernel row of a patch is then one
// contiguous run of kernel * C bytes.
void Im2ColNhwc(const ConvShape& s, const uint8_t* x, uint8_t pad_value, uint8_t* cols);

// Float-layout conv weights (OC, C, K, K) -> the GEMM's (patch, OC) matrix, row-major,
// rows in Im2ColNhwc's (kh, kw, c) order.
std::vector<int8_t> ConvWeightsToGemm(const int8_t* w, int64_t out_channels,
                                      int64_t in_channels, int64_t kernel);

// Reference: the exact int32 convolution by direct loops, NHWC out (pixels, OC):
// out = sum over the patch of (x - x_zero_point) * w, padding contributes 0.
// w in the float layout (OC, C, K, K). For tests of the im2col + GEMM path.
void Int8Conv2dRef(const ConvShape& s, const uint8_t* x, int32_t x_zero_point,
                   const int8_t* w, int32_t* out);

// Max pooling over NHWC uint8 (no padding). Exact: quantization is monotonic, so the
// max of the quantized values is the quantization of the max, with the same parameters.
void MaxPool2dNhwc(const uint8_t* x, int64_t batch, int64_t height, int64_t width,
                   int64_t channels, int64_t kernel, int64_t stride, uint8_t* out);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_INT8_CONV_H_
