#include "acceleration/gemm.h"

#include "tensor/check.h"

namespace tt::accel {

void CheckGemmArgs(const GemmArgs& g, const char* caller) {
  TT_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0, caller, ": negative size (M, N, K) = (", g.m,
           ", ", g.n, ", ", g.k, ")");
  // Stored shapes: A is (M,K), or (K,M) when transposed; B is (K,N), or (N,K).
  const bool ta = g.ta == tensor::Trans::kYes, tb = g.tb == tensor::Trans::kYes;
  const int64_t a_rows = ta ? g.k : g.m, a_cols = ta ? g.m : g.k;
  const int64_t b_rows = tb ? g.n : g.k, b_cols = tb ? g.k : g.n;
  TT_CHECK(g.lda >= a_cols, caller, ": lda ", g.lda, " < ", a_cols,
           ", the row length of A stored ", ta ? "(K,M)" : "(M,K)");
  TT_CHECK(g.ldb >= b_cols, caller, ": ldb ", g.ldb, " < ", b_cols,
           ", the row length of B stored ", tb ? "(N,K)" : "(K,N)");
  TT_CHECK(g.ldc >= g.n, caller, ": ldc ", g.ldc, " < N = ", g.n);
  if (g.m > 0 && g.n > 0) {
    TT_CHECK(g.c != nullptr, caller, ": C is null");
    if (g.k > 0) {
      TT_CHECK(g.a != nullptr && a_rows > 0, caller, ": A is null");
      TT_CHECK(g.b != nullptr && b_rows > 0, caller, ": B is null");
    }
  }
}

void GemmFast(const GemmArgs& args) { GemmThreaded(args, ActiveIsa(), &DefaultThreadPool()); }

}  // namespace tt::accel
