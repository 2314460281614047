// Contract checks and Status helpers shared by every module.
//
// TT_CHECK is for contract violations inside the math (a shape mismatch in `a + b`):
// it prints what was wrong and where, then aborts. It is always on, also in optimized
// builds: a wrong shape must never turn into a silent out-of-bounds read.
//
//   TT_CHECK(a.shape() == b.shape(), "Add: shapes ", ShapeToString(a.shape()), " and ",
//            ShapeToString(b.shape()), " differ");
//
// What meets the outside world (files, flags, user-given shapes at a module API) returns
// absl::Status instead; TT_RETURN_IF_ERROR and TT_ASSIGN_OR_RETURN make that short
// (Abseil 20220623 has no macros of its own for it).
#ifndef TT_TENSOR_CHECK_H_
#define TT_TENSOR_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace tt::tensor::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition,
                                     const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n  %s\n", file, line, condition,
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace tt::tensor::internal

#define TT_CHECK(condition, ...)                                                 \
  do {                                                                           \
    if (__builtin_expect(!(condition), 0)) {                                     \
      ::tt::tensor::internal::CheckFailed(__FILE__, __LINE__, #condition,       \
                                          ::absl::StrCat(__VA_ARGS__));          \
    }                                                                            \
  } while (0)

#define TT_STATUS_CONCAT_INNER_(a, b) a##b
#define TT_STATUS_CONCAT_(a, b) TT_STATUS_CONCAT_INNER_(a, b)

#define TT_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    ::absl::Status tt_status_ = (expr);            \
    if (!tt_status_.ok()) return tt_status_;       \
  } while (0)

#define TT_ASSIGN_OR_RETURN(lhs, expr) \
  TT_ASSIGN_OR_RETURN_IMPL_(TT_STATUS_CONCAT_(tt_statusor_, __LINE__), lhs, expr)

#define TT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()

#endif  // TT_TENSOR_CHECK_H_
