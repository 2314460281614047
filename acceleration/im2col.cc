#include "acceleration/im2col.h"

#include "acceleration/cpu_features.h"
#include "acceleration/kernels/im2col_kernels.h"
#include "tensor/check.h"

namespace tt::accel {
namespace {

void CheckGeometry(const tensor::ConvGeometry& g, int64_t ld, const char* caller) {
  TT_CHECK(g.channels >= 1 && g.height >= 1 && g.width >= 1 && g.kernel_h >= 1 &&
               g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1 && g.pad_h >= 0 &&
               g.pad_w >= 0,
           caller, ": bad geometry C=", g.channels, " H=", g.height, " W=", g.width,
           " kernel ", g.kernel_h, "x", g.kernel_w, " stride ", g.stride_h, "x", g.stride_w,
           " padding ", g.pad_h, "x", g.pad_w);
  TT_CHECK(g.out_h() >= 1 && g.out_w() >= 1, caller, ": the ", g.kernel_h, "x", g.kernel_w,
           " kernel does not fit the padded ", g.height, "x", g.width, " input");
  TT_CHECK(ld >= g.out_h() * g.out_w(), caller, ": ld ", ld, " < OH*OW = ",
           g.out_h() * g.out_w());
}

}  // namespace

void VIm2Col(const tensor::ConvGeometry& g, const float* x, float* cols, int64_t ld) {
  CheckGeometry(g, ld, "VIm2Col");
  const Isa isa = g.stride_w == 1 ? ActiveIsa() : Isa::kScalar;
  switch (isa) {
    case Isa::kAvx512:
      return kernels::F32Im2ColS1Avx512(g, x, cols, ld);
    case Isa::kAvx2Fma:
      return kernels::F32Im2ColS1Avx2(g, x, cols, ld);
    case Isa::kScalar:
      break;
  }
  tensor::ReferenceBackend().Im2Col(g, x, cols, ld);
}

void VCol2Im(const tensor::ConvGeometry& g, const float* cols, int64_t ld, float* dx) {
  CheckGeometry(g, ld, "VCol2Im");
  const Isa isa = g.stride_w == 1 ? ActiveIsa() : Isa::kScalar;
  switch (isa) {
    case Isa::kAvx512:
      return kernels::F32Col2ImS1Avx512(g, cols, ld, dx);
    case Isa::kAvx2Fma:
      return kernels::F32Col2ImS1Avx2(g, cols, ld, dx);
    case Isa::kScalar:
      break;
  }
  tensor::ReferenceBackend().Col2Im(g, cols, ld, dx);
}

}  // namespace tt::accel
