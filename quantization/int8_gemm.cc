// The int8 GEMM driver: packing, zero-point folding, cache blocking, dispatch to the
// micro-kernels, threads.
//
//   for ic in M, step mc:               A block: mc rows x K, stays in L2
//     (AVX2 only: widen the block's rows to int16, K padded to even)
//     for each B panel q (NR columns):  B panel: K x NR, from L2/L3 into L1
//       for ir in mc, step MR:          A micro-panel: MR rows, straight from A
//         micro-kernel: C[ic+ir : +MR, q NR : +NR] = epilogue(A rows * B panel)
//
// B is packed once for all K (PackedInt8Matrix), so there is no K blocking: each tile's
// int32 sums stay in registers for the whole K loop and the epilogue runs once per tile,
// with no partial-sum buffer. K x NR bytes of panel (48 KiB at K = 1024 for VNNI) fit
// L1/L2, and larger K just streams the panel from L2, which keeps up (11 loads per 24
// vpdpbusd).
#include "quantization/int8_gemm.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "quantization/kernels/int8_gemm_ukernel.h"
#include "tensor/check.h"

namespace tt::quant {
namespace {

using internal::Int8OutputStage;
using internal::Int8UkernelArgs;

// One kernel's tile, packed layout and functions.
struct KernelInfo {
  int mr, nr, kr;
  int b_elem_bytes;  // 1 (int8) or 2 (int16)
  bool a_int16;      // the driver widens A's rows to int16 (K padded to even)
  internal::Int8UkernelFn fn;
  internal::Int8RequantizeRowsFn requantize_rows;
};

const KernelInfo& InfoFor(Int8Kernel kernel) {
  static const KernelInfo kScalar{4, 8, 1, 1, false, &internal::Int8Gemm4x8Scalar,
                                  &internal::Int8RequantizeRowsScalar};
  static const KernelInfo kAvx2{6, 16, 2, 2, true, &internal::Int8Gemm6x16Avx2,
                                &internal::Int8RequantizeRowsAvx2};
  static const KernelInfo kVnni{8, 48, 4, 1, false, &internal::Int8Gemm8x48Avx512Vnni,
                                &internal::Int8RequantizeRowsAvx512};
  switch (kernel) {
    case Int8Kernel::kAvx512Vnni:
      return kVnni;
    case Int8Kernel::kAvx2:
      return kAvx2;
    case Int8Kernel::kScalar:
      break;
  }
  return kScalar;
}

int64_t RoundUp(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// A growable buffer kept between calls (one per thread), so the hot path does not allocate.
template <class T>
T* ThreadBuffer(std::vector<T>& buffer, size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}
thread_local std::vector<int32_t> t_bias;
thread_local std::vector<int16_t> t_a16;

// Rows of A per block: the block (mc x K bytes, twice that widened) takes up to half of
// L2, so it stays there while every B panel passes over it.
int64_t RowBlock(const KernelInfo& ki, int64_t k) {
  static const int64_t l2 = [] {
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return v > 0 ? static_cast<int64_t>(v) : int64_t{1} << 20;
  }();
  const int64_t row_bytes = std::max<int64_t>(1, k * (ki.a_int16 ? 2 : 1));
  const int64_t rows = l2 / 2 / row_bytes / ki.mr * ki.mr;
  return std::max<int64_t>(rows, ki.mr);
}

// Everything one GEMM call needs; shared read-only by the threads.
struct Call {
  const PackedInt8Matrix* b = nullptr;
  const KernelInfo* ki = nullptr;
  const uint8_t* a = nullptr;
  int64_t lda = 0;
  uint8_t* c_u8 = nullptr;
  int32_t* c_s32 = nullptr;
  int64_t ldc = 0;
  Int8OutputStage stage;  // stage.bias = bias - a_zero_point * column_sums (N values)
};

// Rows [row_begin, row_end) x panels [panel_begin, panel_end) of C, on this thread.
void RunBlock(const Call& g, int64_t row_begin, int64_t row_end, int64_t panel_begin,
              int64_t panel_end) {
  const KernelInfo& ki = *g.ki;
  const int64_t k = g.b->K(), n = g.b->N();
  const int64_t mc = RowBlock(ki, k);
  const int64_t k_even = RoundUp(k, 2);
  Int8UkernelArgs u;
  u.k = k;
  u.ldc = g.ldc;
  for (int64_t ic = row_begin; ic < row_end; ic += mc) {
    const int64_t rows = std::min(mc, row_end - ic);
    const void* a_block = g.a + ic * g.lda;
    int64_t lda = g.lda;
    int64_t a_elem = 1;
    if (ki.a_int16) {
      // Widen to int16 with K padded to even by a zero, the AVX2 kernel's operand.
      int16_t* a16 = ThreadBuffer(t_a16, static_cast<size_t>(rows * k_even));
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* src = g.a + (ic + r) * g.lda;
        int16_t* dst = a16 + r * k_even;
        for (int64_t p = 0; p < k; ++p) dst[p] = src[p];
        if (k_even != k) dst[k] = 0;
      }
      a_block = a16;
      lda = k_even;
      a_elem = 2;
    }
    u.lda = lda;
    for (int64_t q = panel_begin; q < panel_end; ++q) {
      const int64_t j0 = q * ki.nr;
      u.b = g.b->panel(q);
      u.n = static_cast<int>(std::min<int64_t>(ki.nr, n - j0));
      u.stage = g.stage;
      u.stage.bias = g.stage.bias + j0;
      if (g.stage.per_channel) u.stage.multipliers = g.stage.multipliers + j0;
      for (int64_t ir = 0; ir < rows; ir += ki.mr) {
        u.m = static_cast<int>(std::min<int64_t>(ki.mr, rows - ir));
        u.a = static_cast<const uint8_t*>(a_block) + ir * lda * a_elem;
        const int64_t c_offset = (ic + ir) * g.ldc + j0;
        u.c_u8 = g.c_u8 == nullptr ? nullptr : g.c_u8 + c_offset;
        u.c_s32 = g.c_s32 == nullptr ? nullptr : g.c_s32 + c_offset;
        ki.fn(u);
      }
    }
  }
}

// Splits the call over the pool: row tiles when there are enough, else column panels.
void RunThreaded(const Call& g, int64_t m, accel::ThreadPool* pool) {
  const KernelInfo& ki = *g.ki;
  const int64_t row_tiles = (m + ki.mr - 1) / ki.mr;
  const int64_t panels = g.b->panels();
  if (row_tiles >= 2 * pool->size() || row_tiles >= panels) {
    pool->ParallelFor(row_tiles, [&](int64_t begin, int64_t end) {
      RunBlock(g, begin * ki.mr, std::min(end * ki.mr, m), 0, panels);
    });
  } else {
    pool->ParallelFor(panels, [&](int64_t begin, int64_t end) { RunBlock(g, 0, m, begin, end); });
  }
}

void CheckCommon(const char* op, const PackedInt8Matrix& b, int64_t m, const void* a,
                 int64_t lda, int32_t a_zero_point, const void* c, int64_t ldc) {
  TT_CHECK(Int8KernelSupported(b.kernel()), op, ": B is packed for the ",
           Int8KernelName(b.kernel()), " kernel, which this CPU cannot run");
  TT_CHECK(m >= 0, op, ": M = ", m, " < 0");
  TT_CHECK(lda >= b.K(), op, ": lda = ", lda, " < K = ", b.K());
  TT_CHECK(ldc >= b.N(), op, ": ldc = ", ldc, " < N = ", b.N());
  TT_CHECK(a_zero_point >= 0 && a_zero_point <= 255, op, ": a_zero_point = ", a_zero_point,
           " is not in [0, 255]");
  TT_CHECK(a != nullptr || m * b.K() == 0, op, ": A is null for a (", m, ", ", b.K(),
           ") matrix");
  TT_CHECK(c != nullptr || m * b.N() == 0, op, ": C is null for a (", m, ", ", b.N(),
           ") matrix");
}

void CheckEpilogue(const char* op, const Int8Epilogue& ep, int64_t n) {
  TT_CHECK(ep.multipliers != nullptr, op, ": epilogue.multipliers is null");
  const int64_t count = ep.per_channel ? n : 1;
  for (int64_t j = 0; j < count; ++j) {
    const FixedPointMultiplier m = ep.multipliers[j];
    TT_CHECK(IsValidMultiplier(m), op, ": epilogue.multipliers[", j, "] = {", m.multiplier,
             ", ", m.shift, "} is invalid (need multiplier >= 1, shift in [1, 62])");
  }
  TT_CHECK(ep.output_min >= 0 && ep.output_min <= ep.output_max && ep.output_max <= 255, op,
           ": need 0 <= output_min <= output_max <= 255, got [", ep.output_min, ", ",
           ep.output_max, "]");
  TT_CHECK(ep.output_zero_point >= 0 && ep.output_zero_point <= 255, op,
           ": output_zero_point = ", ep.output_zero_point, " is not in [0, 255]");
}

// bias[j] - a_zero_point * column_sums[j] into `out` (N values); |a_zp * sum| < 2^31.
void FoldZeroPoint(const PackedInt8Matrix& b, const int32_t* bias, int32_t a_zero_point,
                   int32_t* out) {
  const std::vector<int32_t>& sums = b.column_sums();
  for (int64_t j = 0; j < b.N(); ++j) {
    out[j] = internal::WrapAdd(bias == nullptr ? 0 : bias[j], -a_zero_point * sums[j]);
  }
}

Int8OutputStage StageFor(const Int8Epilogue& ep) {
  Int8OutputStage s;
  s.multipliers = ep.multipliers;
  s.per_channel = ep.per_channel;
  s.zero_point = ep.output_zero_point;
  s.qmin = ep.output_min;
  s.qmax = ep.output_max;
  return s;
}

bool ShouldThread(const PackedInt8Matrix& b, int64_t m, accel::ThreadPool* pool,
                  double min_ops) {
  return pool != nullptr && pool->size() >= 2 &&
         2.0 * static_cast<double>(m) * static_cast<double>(b.N()) *
                 static_cast<double>(b.K()) >=
             min_ops;
}

// Int8Gemm and Int8GemmS32, with or without a pool.
void GemmImpl(const PackedInt8Matrix& b, int64_t m, const uint8_t* a,
              int64_t lda, int32_t a_zero_point, const int32_t* bias, Int8OutputStage stage,
              uint8_t* c_u8, int32_t* c_s32, int64_t ldc, accel::ThreadPool* pool,
              double min_ops) {
  if (m == 0 || b.N() == 0) return;
  Call g;
  g.b = &b;
  g.ki = &InfoFor(b.kernel());
  g.a = a;
  g.lda = b.K() == 0 ? 0 : lda;  // A may be null when K == 0: never offset it then
  g.c_u8 = c_u8;
  g.c_s32 = c_s32;
  g.ldc = ldc;
  g.stage = stage;
  if (ShouldThread(b, m, pool, min_ops)) {
    std::vector<int32_t> folded(static_cast<size_t>(b.N()));  // shared by the threads
    FoldZeroPoint(b, bias, a_zero_point, folded.data());
    g.stage.bias = folded.data();
    RunThreaded(g, m, pool);
    return;
  }
  int32_t* folded = ThreadBuffer(t_bias, static_cast<size_t>(b.N()));
  FoldZeroPoint(b, bias, a_zero_point, folded);
  g.stage.bias = folded;
  RunBlock(g, 0, m, 0, b.panels());
}

}  // namespace

void PackedInt8Matrix::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

PackedInt8Matrix& PackedInt8Matrix::operator=(PackedInt8Matrix&& other) noexcept {
  if (this == &other) return *this;
  k_ = std::exchange(other.k_, 0);
  n_ = std::exchange(other.n_, 0);
  kernel_ = std::exchange(other.kernel_, Int8Kernel::kScalar);
  panels_ = std::exchange(other.panels_, 0);
  panel_bytes_ = std::exchange(other.panel_bytes_, 0);
  data_ = std::move(other.data_);
  column_sums_ = std::move(other.column_sums_);
  other.column_sums_.clear();
  return *this;
}

void Int8GemmRef(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda,
                 int32_t a_zero_point, const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc) {
  TT_CHECK(M >= 0 && N >= 0 && K >= 0 && K <= kInt8GemmMaxK, "Int8GemmRef: bad shape M=", M,
           " N=", N, " K=", K, " (K <= ", kInt8GemmMaxK, ")");
  TT_CHECK(lda >= K && ldb >= N && ldc >= N, "Int8GemmRef: row strides lda=", lda, " ldb=",
           ldb, " ldc=", ldc, " shorter than their rows (K=", K, ", N=", N, ")");
  TT_CHECK(a_zero_point >= 0 && a_zero_point <= 255, "Int8GemmRef: a_zero_point = ",
           a_zero_point, " is not in [0, 255]");
  TT_CHECK((a != nullptr || M * K == 0) && (b != nullptr || K * N == 0) &&
               (c != nullptr || M * N == 0),
           "Int8GemmRef: null pointer for a non-empty matrix");
  std::vector<int64_t> row(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    std::fill(row.begin(), row.end(), 0);
    for (int64_t p = 0; p < K; ++p) {
      const int64_t av = static_cast<int64_t>(a[i * lda + p]) - a_zero_point;
      for (int64_t j = 0; j < N; ++j) row[j] += av * b[p * ldb + j];
    }
    for (int64_t j = 0; j < N; ++j) c[i * ldc + j] = static_cast<int32_t>(row[j]);
  }
}

PackedInt8Matrix PackedInt8Matrix::Pack(const int8_t* b, int64_t K, int64_t N, int64_t ldb,
                                        Int8Kernel kernel) {
  TT_CHECK(K >= 0 && K <= kInt8GemmMaxK && N >= 0, "PackedInt8Matrix::Pack: bad shape K=", K,
           " N=", N, " (need 0 <= K <= ", kInt8GemmMaxK, ", N >= 0)");
  TT_CHECK(ldb >= N, "PackedInt8Matrix::Pack: ldb = ", ldb, " < N = ", N);
  TT_CHECK(b != nullptr || K * N == 0, "PackedInt8Matrix::Pack: B is null for a (", K, ", ",
           N, ") matrix");
  const KernelInfo& ki = InfoFor(kernel);
  PackedInt8Matrix p;
  p.k_ = K;
  p.n_ = N;
  p.kernel_ = kernel;
  p.panels_ = (N + ki.nr - 1) / ki.nr;
  p.panel_bytes_ = RoundUp(RoundUp(K, ki.kr) * ki.nr * ki.b_elem_bytes, 64);
  const int64_t bytes = p.panels_ * p.panel_bytes_;
  if (bytes > 0) {
    p.data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>(bytes))));
    TT_CHECK(p.data_ != nullptr, "PackedInt8Matrix::Pack: out of memory (", bytes, " bytes)");
    std::memset(p.data_.get(), 0, static_cast<size_t>(bytes));  // the zero padding
  }
  // panel[(k / KR) * NR * KR + j * KR + k % KR] = B[k][q * NR + j]
  for (int64_t q = 0; q < p.panels_; ++q) {
    uint8_t* panel = p.data_.get() + q * p.panel_bytes_;
    const int64_t cols = std::min<int64_t>(ki.nr, N - q * ki.nr);
    for (int64_t k = 0; k < K; ++k) {
      const int8_t* src = b + k * ldb + q * ki.nr;
      const int64_t base = (k / ki.kr) * ki.nr * ki.kr + k % ki.kr;
      if (ki.b_elem_bytes == 1) {
        int8_t* dst = reinterpret_cast<int8_t*>(panel) + base;
        for (int64_t j = 0; j < cols; ++j) dst[j * ki.kr] = src[j];
      } else {
        int16_t* dst = reinterpret_cast<int16_t*>(panel) + base;
        for (int64_t j = 0; j < cols; ++j) dst[j * ki.kr] = src[j];
      }
    }
  }
  p.column_sums_.assign(static_cast<size_t>(N), 0);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t j = 0; j < N; ++j) p.column_sums_[j] += b[k * ldb + j];
  }
  return p;
}

void Int8Gemm(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
              int32_t a_zero_point, const Int8Epilogue& epilogue, uint8_t* c, int64_t ldc) {
  Int8GemmThreaded(b, M, a, lda, a_zero_point, epilogue, c, ldc, /*pool=*/nullptr);
}

void Int8GemmS32(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
                 int32_t a_zero_point, const int32_t* bias, int32_t* c, int64_t ldc) {
  Int8GemmS32Threaded(b, M, a, lda, a_zero_point, bias, c, ldc, /*pool=*/nullptr);
}

void Int8GemmThreaded(const PackedInt8Matrix& b, int64_t M, const uint8_t* a, int64_t lda,
                      int32_t a_zero_point, const Int8Epilogue& epilogue, uint8_t* c,
                      int64_t ldc, accel::ThreadPool* pool, double min_ops) {
  CheckCommon("Int8Gemm", b, M, a, lda, a_zero_point, c, ldc);
  if (M == 0 || b.N() == 0) return;
  CheckEpilogue("Int8Gemm", epilogue, b.N());
  GemmImpl(b, M, a, lda, a_zero_point, epilogue.bias, StageFor(epilogue), c,
           nullptr, ldc, pool, min_ops);
}

void Int8GemmS32Threaded(const PackedInt8Matrix& b, int64_t M, const uint8_t* a,
                         int64_t lda, int32_t a_zero_point, const int32_t* bias, int32_t* c,
                         int64_t ldc, accel::ThreadPool* pool, double min_ops) {
  CheckCommon("Int8GemmS32", b, M, a, lda, a_zero_point, c, ldc);
  GemmImpl(b, M, a, lda, a_zero_point, bias, Int8OutputStage{}, nullptr, c,
           ldc, pool, min_ops);
}

void Int8Requantize(int64_t M, int64_t N, const int32_t* acc, int64_t lda,
                    const Int8Epilogue& epilogue, uint8_t* out, int64_t ldo) {
  TT_CHECK(M >= 0 && N >= 0 && lda >= N && ldo >= N, "Int8Requantize: bad shape M=", M,
           " N=", N, " lda=", lda, " ldo=", ldo);
  if (M == 0 || N == 0) return;
  TT_CHECK(acc != nullptr && out != nullptr, "Int8Requantize: null pointer");
  CheckEpilogue("Int8Requantize", epilogue, N);
  Int8OutputStage stage = StageFor(epilogue);
  stage.bias = epilogue.bias;
  InfoFor(ActiveInt8Kernel()).requantize_rows(M, N, acc, lda, stage, out, ldo);
}

}  // namespace tt::quant
