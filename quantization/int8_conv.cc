#include "quantization/int8_conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/check.h"

namespace tt::quant {
namespace {

// Copies n bytes. The runs im2col copies are short (kernel * channels: 3 bytes for the
// first conv of a grayscale CNN), where a memcpy call costs more than the copy: sizes
// up to 16 use two overlapping fixed-size moves, which never touch bytes outside
// [0, n) of either buffer.
inline void CopyRun(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n >= 2) {
    uint16_t a, b;
    std::memcpy(&a, src, 2);
    std::memcpy(&b, src + n - 2, 2);
    std::memcpy(dst, &a, 2);
    std::memcpy(dst + n - 2, &b, 2);
  } else if (n == 1) {
    *dst = *src;
  }
}

// The im2col loop over an image that already carries its zero padding (see
// Im2ColNhwc), so every kernel row of every patch is one in-bounds run of kernel * C
// contiguous bytes: no bounds checks in the loop. The run length is a template constant
// when it is one of the common ones (kRun = 0: use the run-time length), because a copy
// of a known small size compiles to a couple of moves while a run-time size costs a
// branchy copy per run — which dominated the first conv of a grayscale CNN (runs of 3).
template <int64_t kRun>
void Im2ColPadded(const ConvShape& s, const uint8_t* padded, int64_t pw, uint8_t* cols) {
  const int64_t oh_n = s.out_height(), ow_n = s.out_width(), c = s.in_channels;
  const int64_t run = kRun != 0 ? kRun : s.kernel * c;
  const int64_t row_stride = pw * c;
  uint8_t* dst = cols;
  for (int64_t oh = 0; oh < oh_n; ++oh) {
    const uint8_t* top = padded + oh * s.stride * row_stride;
    for (int64_t ow = 0; ow < ow_n; ++ow) {
      const uint8_t* src = top + ow * s.stride * c;
      for (int64_t kh = 0; kh < s.kernel; ++kh) {
        if (kRun != 0) {
          std::memcpy(dst, src, kRun);
        } else {
          CopyRun(dst, src, run);
        }
        dst += run;
        src += row_stride;
      }
    }
  }
}

}  // namespace

void Im2ColNhwc(const ConvShape& s, const uint8_t* x, uint8_t pad_value, uint8_t* cols) {
  TT_CHECK(s.out_height() > 0 && s.out_width() > 0, "Im2ColNhwc: empty output for ",
           s.height, "x", s.width, " kernel ", s.kernel);
  const int64_t c = s.in_channels, p = s.padding;
  const int64_t ph = s.height + 2 * p, pw = s.width + 2 * p;
  // Each image is first copied into a buffer with its border of padding (the zero
  // point) around it: (H + 2p) x (W + 2p) x C bytes, small next to the patches.
  thread_local std::vector<uint8_t> padded;
  for (int64_t n = 0; n < s.batch; ++n) {
    const uint8_t* image = x + n * s.height * s.width * c;
    const uint8_t* src = image;
    if (p > 0) {
      padded.assign(static_cast<size_t>(ph * pw * c), pad_value);
      for (int64_t h = 0; h < s.height; ++h) {
        std::memcpy(&padded[((h + p) * pw + p) * c], image + h * s.width * c, s.width * c);
      }
      src = padded.data();
    }
    uint8_t* out = cols + n * s.out_height() * s.out_width() * s.patch();
    switch (s.kernel * c) {
      case 3:  // 3x3 kernel over 1 channel (the first conv of a grayscale CNN)
        Im2ColPadded<3>(s, src, pw, out);
        break;
      case 48:  // 3x3 over 16 channels
        Im2ColPadded<48>(s, src, pw, out);
        break;
      case 96:  // 3x3 over 32 channels
        Im2ColPadded<96>(s, src, pw, out);
        break;
      default:
        Im2ColPadded<0>(s, src, pw, out);
    }
  }
}

std::vector<int8_t> ConvWeightsToGemm(const int8_t* w, int64_t out_channels,
                                      int64_t in_channels, int64_t kernel) {
  const int64_t patch = kernel * kernel * in_channels;
  std::vector<int8_t> b(patch * out_channels);
  for (int64_t oc = 0; oc < out_channels; ++oc) {
    for (int64_t c = 0; c < in_channels; ++c) {
      for (int64_t kh = 0; kh < kernel; ++kh) {
        for (int64_t kw = 0; kw < kernel; ++kw) {
          const int64_t row = (kh * kernel + kw) * in_channels + c;
          b[row * out_channels + oc] = w[((oc * in_channels + c) * kernel + kh) * kernel + kw];
        }
      }
    }
  }
  return b;
}

void Int8Conv2dRef(const ConvShape& s, const uint8_t* x, int32_t x_zero_point,
                   const int8_t* w, int32_t* out) {
  const int64_t oh_n = s.out_height(), ow_n = s.out_width(), c_n = s.in_channels;
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        for (int64_t oc = 0; oc < s.out_channels; ++oc) {
          int32_t acc = 0;
          for (int64_t c = 0; c < c_n; ++c) {
            for (int64_t kh = 0; kh < s.kernel; ++kh) {
              for (int64_t kw = 0; kw < s.kernel; ++kw) {
                const int64_t ih = oh * s.stride - s.padding + kh;
                const int64_t iw = ow * s.stride - s.padding + kw;
                if (ih < 0 || ih >= s.height || iw < 0 || iw >= s.width) continue;
                const int32_t xv = x[((n * s.height + ih) * s.width + iw) * c_n + c];
                const int32_t wv = w[((oc * c_n + c) * s.kernel + kh) * s.kernel + kw];
                acc += (xv - x_zero_point) * wv;
              }
            }
          }
          out[((n * oh_n + oh) * ow_n + ow) * s.out_channels + oc] = acc;
        }
      }
    }
  }
}

void MaxPool2dNhwc(const uint8_t* x, int64_t batch, int64_t height, int64_t width,
                   int64_t channels, int64_t kernel, int64_t stride, uint8_t* out) {
  TT_CHECK(kernel > 0 && stride > 0 && kernel <= height && kernel <= width,
           "MaxPool2dNhwc: kernel ", kernel, " stride ", stride, " on ", height, "x", width);
  const int64_t oh_n = (height - kernel) / stride + 1, ow_n = (width - kernel) / stride + 1;
  for (int64_t n = 0; n < batch; ++n) {
    const uint8_t* image = x + n * height * width * channels;
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        uint8_t* o = out + ((n * oh_n + oh) * ow_n + ow) * channels;
        std::memcpy(o, image + (oh * stride * width + ow * stride) * channels, channels);
        for (int64_t kh = 0; kh < kernel; ++kh) {
          for (int64_t kw = 0; kw < kernel; ++kw) {
            const uint8_t* p = image + ((oh * stride + kh) * width + ow * stride + kw) * channels;
            // Channels are contiguous: this loop compiles to 16-byte pmaxub.
            for (int64_t c = 0; c < channels; ++c) o[c] = std::max(o[c], p[c]);
          }
        }
      }
    }
  }
}

}  // namespace tt::quant
