// Packs W^T from CSR into the AVX-512 GEMV's StepLayout (spmm_kernels.h). Plain C++,
// run once when a SparseLinear is built: O(nnz + steps * 16).
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "compression/kernels/spmm_kernels.h"

namespace tt::compress::kernels {
namespace {

// One window, chunks c and c + 1 (inputs 15 c .. 15 c + 30), and its two steps: in each,
// every lane takes its next nonzero if that lies in the window.
struct Window {
  int32_t chunk = 0;
  float values[2][kStepLanes] = {};
  uint8_t bytes[2][kStepLanes];

  Window() { std::fill(&bytes[0][0], &bytes[0][0] + 2 * kStepLanes, kStepIdle); }
};

}  // namespace

int64_t StepLayout::Bytes() const {
  return static_cast<int64_t>(slice_begin.size() * sizeof(int32_t) + x_offset.size() * 4) +
         lanes.size() * 4 + values.size() * 4 + bias.size() * 4;
}

StepLayout PackSteps(const SparseWeight& w) {
  StepLayout layout;
  layout.slices = (w.out + kStepLanes - 1) / kStepLanes;
  layout.x_stride = StepXStride(w.in);

  // Sweep each slice into windows; two windows make a quad (an odd last one gets an
  // empty partner).
  std::vector<Window> windows;
  std::vector<int32_t> quad_begin = {0};
  for (int64_t s = 0; s < layout.slices; ++s) {
    const int64_t lanes = std::min(kStepLanes, w.out - s * kStepLanes);
    int64_t next[kStepLanes], end[kStepLanes];
    for (int64_t i = 0; i < lanes; ++i) {
      next[i] = w.row_ptr[s * kStepLanes + i];
      end[i] = w.row_ptr[s * kStepLanes + i + 1];
    }
    const size_t first = windows.size();
    while (true) {
      int32_t st = INT32_MAX;  // the smallest column still to do
      for (int64_t i = 0; i < lanes; ++i) {
        if (next[i] < end[i]) st = std::min(st, w.col_idx[next[i]]);
      }
      if (st == INT32_MAX) break;
      Window win;
      win.chunk = st / static_cast<int32_t>(kStepChunk);
      const int32_t base = win.chunk * static_cast<int32_t>(kStepChunk);
      for (int step = 0; step < 2; ++step) {
        for (int64_t i = 0; i < lanes; ++i) {
          if (next[i] < end[i] && w.col_idx[next[i]] < base + kStepWindow) {
            const int32_t e = w.col_idx[next[i]] - base;  // 0..29; entry 15 is a zero
            win.values[step][i] = w.values[next[i]];
            win.bytes[step][i] = static_cast<uint8_t>(e < kStepChunk ? e : e + 1);
            ++next[i];
          }
        }
      }
      windows.push_back(win);
    }
    if ((windows.size() - first) % 2 == 1) windows.push_back(Window());
    TT_CHECK(windows.size() / 2 <= INT32_MAX, "PackSteps: too many steps");
    quad_begin.push_back(static_cast<int32_t>(windows.size() / 2));
  }

  const int64_t quads = static_cast<int64_t>(windows.size() / 2);
  layout.slice_begin = std::move(quad_begin);
  layout.lanes = AlignedArray<uint32_t>(quads * kStepLanes);
  layout.values = AlignedArray<float>(quads * kQuadSteps * kStepLanes);
  layout.x_offset.resize(quads * 2);
  for (int64_t q = 0; q < quads; ++q) {
    for (int h = 0; h < 2; ++h) {
      const Window& win = windows[2 * q + h];
      layout.x_offset[2 * q + h] = 16 * win.chunk;
      for (int step = 0; step < 2; ++step) {
        const int64_t j = 2 * h + step;  // the step within the quad
        for (int64_t i = 0; i < kStepLanes; ++i) {
          layout.values[(kQuadSteps * q + j) * kStepLanes + i] = win.values[step][i];
          layout.lanes[q * kStepLanes + i] |= uint32_t{win.bytes[step][i]} << (8 * j);
        }
      }
    }
  }
  layout.bias = AlignedArray<float>(layout.slices * kStepLanes);
  std::copy(w.bias, w.bias + w.out, layout.bias.data());
  return layout;
}

}  // namespace tt::compress::kernels
