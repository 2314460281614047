// int8 GEMM vs f32 GEMM vs XNNPACK's qs8 fully connected, measured interleaved in one
// run so that the ratios are honest on a shared machine. What the module report's GEMM
// table and the int8_gemm benchmark print.
//
//   tt::quant::Int8GemmFigures f = tt::quant::CompareInt8Gemm(1024, /*min_seconds=*/0.4);
//   std::printf("%.0f GOP/s int8 = %.2fx f32\n", f.int8_gops, f.int8_gops / f.f32_gflops);
//
// Each engine computes one square M = N = K = size product on one thread with its
// weights packed beforehand (packing is not timed):
//   int8         Int8Gemm with ActiveInt8Kernel(), uint8 x int8, per-channel
//                requantization to uint8 (the epilogue is timed: it is part of the layer);
//   f32          tt::accel::GemmPacked with ActiveIsa() (packs A and B inside, as always);
//   xnnpack_qs8  XnnpackQs8FullyConnected (int8 x int8 -> int8, per-tensor scale).
// One multiply-add counts as 2 operations: ops = 2 size^3, GOP/s = ops / median time.
// Timing: tt::prof::MeasureInterleaved (rounds of one call each, rotating order).
#ifndef TT_QUANTIZATION_GEMM_COMPARE_H_
#define TT_QUANTIZATION_GEMM_COMPARE_H_

#include <cstdint>
#include <string>

namespace tt::quant {

struct Int8GemmFigures {
  int64_t size = 0;
  double int8_gops = 0.0;
  double f32_gflops = 0.0;
  double xnnpack_qs8_gops = 0.0;  // NaN when XNNPACK cannot run here
  const char* kernel = "";        // Int8KernelName(ActiveInt8Kernel())
  // The machine load during the measurement (tt::prof::MachineLoad::ToString) and
  // whether other processes took more than a quarter core.
  std::string load;
  bool busy = false;
};

// Measures the three engines at M = N = K = size (size >= 1) for at least min_seconds
// (>= 0; at least 5 rounds, at most 10 s or 1000 rounds), one thread each. TT_CHECKs
// its arguments; a failing XNNPACK gives NaN for its figure.
Int8GemmFigures CompareInt8Gemm(int64_t size, double min_seconds);

}  // namespace tt::quant

#endif  // TT_QUANTIZATION_GEMM_COMPARE_H_
