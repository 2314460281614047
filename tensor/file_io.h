// Whole-file reads and atomic writes: how every file of the course is written (model
// files, --json figures, benchmark results, reports) and read back.
//
//   TT_RETURN_IF_ERROR(WriteFileAtomically("mlp.ttm", bytes));
//   TT_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes("mlp.ttm", kMaxBytes));
//
// Atomic means a reader (or a crash, or a killed writer) never leaves `path` holding half
// a file: the bytes go to `path + ".tmp"`, are flushed to disk (fsync), and the temporary
// file is then renamed over `path`, which POSIX makes atomic within one file system. On
// any error `path` is unchanged and the temporary file is removed. Two processes writing
// the same path at once share the temporary name; that is not supported.
#ifndef TT_TENSOR_FILE_IO_H_
#define TT_TENSOR_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tt::tensor {

// Writes `bytes` to `path` atomically (see above). Errors (errno-based codes) say which
// step failed: "cannot create '<path>.tmp'", "write failed", "fsync failed", "cannot
// rename ...". They do not repeat `path` itself; callers prefix it.
absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// The whole content of `path`. Errors: "cannot open" / "cannot read" (errno-based codes),
// OutOfRange "file is larger than <max_bytes> bytes" when it is (checked while reading,
// so a huge file is not read whole). Like the writer, callers prefix the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path, size_t max_bytes);

// Size of the file at `path` in bytes, or -1 when it cannot be stat'ed (for reports that
// print file sizes next to each other).
int64_t FileSize(const std::string& path);

}  // namespace tt::tensor

#endif  // TT_TENSOR_FILE_IO_H_
