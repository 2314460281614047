// Test support for the GEMM ladder: the contract cases every rung must pass, random
// problems, and the comparison against two references.
//
//   for (const GemmCase& c : AllGemmCases()) {
//     EXPECT_TRUE(CheckGemm([](const GemmArgs& g) { GemmIkj(g); }, c)) << c.ToString();
//   }
//
// The tolerance, per element: a double-precision reference is computed and
//   |C - C_double| <= (K + 2) * 2^-23 * s_ij,  s_ij = |alpha| sum_p |a_ip b_pj| +
//                                                      |beta c_ij| + |bias_j|
// (the classic worst-case bound for float sums in any order, with a factor 2 of margin),
// widened for GELU by its slope (< 1.13) and its own float rounding (1e-6 relative plus
// 2^-24 |x|, the rounding of the reference's 1 + tanh near -1). C must also be within
// twice that of tensor's ReferenceBackend::Gemm (followed by its Binary/Unary for the
// epilogue), which is itself within the bound. Padding columns of C (ldc > N) must be
// left untouched, and with beta == 0 C starts as NaN.
#ifndef TT_ACCELERATION_GEMM_TESTING_H_
#define TT_ACCELERATION_GEMM_TESTING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "acceleration/gemm.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"

namespace tt::accel::testing {

struct GemmCase {
  int64_t m = 1, n = 1, k = 1;
  tensor::Trans ta = tensor::Trans::kNo, tb = tensor::Trans::kNo;
  float alpha = 1.0f, beta = 0.0f;
  int64_t pad = 0;  // extra floats per stored row of A, B and C (lda, ldb, ldc)
  bool bias = false;
  tensor::Activation act = tensor::Activation::kNone;

  std::string ToString() const;
};

// M, N, K each in {1, 3, 17, 64, 255, 257}, no transpose (216 cases).
std::vector<GemmCase> ShapeGridCases();
// The three other transpose combinations on M, N, K in {1, 17, 64, 257}, plus all four
// combinations with strides and alpha/beta.
std::vector<GemmCase> TransposeCases();
// Zero-sized dimensions, K >> M, N, non-square, alpha/beta (beta 0 over NaN, beta 1),
// padded strides, and the epilogue (none / relu / gelu, with and without bias).
std::vector<GemmCase> EdgeCases();
// All of the above.
std::vector<GemmCase> AllGemmCases();
// A smaller set for slow rungs and repeated runs (each ISA, each blocking): the edge
// cases, the transpose cases and a sparse shape grid.
std::vector<GemmCase> QuickGemmCases();

using GemmFn = std::function<void(const GemmArgs& args)>;

// Runs fn on random data for `c` (seeded) and checks the result as described above.
::testing::AssertionResult CheckGemm(const GemmFn& fn, const GemmCase& c, uint32_t seed = 1);

// CheckGemm, and also: fn's C within twice the tolerance of `other`'s C on the same
// problem (e.g. a fast rung against GemmNaive).
::testing::AssertionResult CheckGemmAgainst(const GemmFn& fn, const GemmFn& other,
                                            const GemmCase& c, uint32_t seed = 1);

// Runs every case through fn, one EXPECT per case, with the case in the message.
void ExpectGemmPasses(const GemmFn& fn, const std::vector<GemmCase>& cases);

// The C fn computes for `c` on the seeded random problem (padding stripped).
std::vector<float> RunGemm(const GemmFn& fn, const GemmCase& c, uint32_t seed = 1);

}  // namespace tt::accel::testing

#endif  // TT_ACCELERATION_GEMM_TESTING_H_
