#include "tensor/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/check.h"

namespace tt::tensor {

const char* const kFashionMnistClassNames[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

namespace {

constexpr uint8_t kIdxTypeUnsignedByte = 0x08;
constexpr int kMaxIdxDims = 4;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFilePtr = std::unique_ptr<gzFile_s, GzCloser>;

// zlib's last error message for `file`, without the "<path>: " zlib puts in front (our
// messages name the file already).
std::string ZlibMessage(gzFile file, const std::string& path, int* errnum) {
  std::string message = gzerror(file, errnum);
  const std::string prefix = path + ": ";
  if (message.compare(0, prefix.size(), prefix) == 0) message.erase(0, prefix.size());
  return message;
}

// Reads up to `n` bytes, looping because one gzread moves at most INT_MAX bytes and may
// return fewer than asked. Returns how many bytes were read: fewer than `n` only at the
// end of the data.
absl::StatusOr<int64_t> ReadUpTo(gzFile file, const std::string& path, uint8_t* out, int64_t n) {
  constexpr int64_t kMaxChunk = int64_t{1} << 30;
  int64_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min(n - got, kMaxChunk));
    const int r = gzread(file, out + got, chunk);
    if (r < 0) {
      int errnum = Z_OK;
      const std::string message = ZlibMessage(file, path, &errnum);
      if (errnum == Z_ERRNO) {
        return absl::DataLossError(absl::StrCat(path, ": read error: ", message));
      }
      return absl::DataLossError(absl::StrCat(path, ": corrupt gzip stream (", message, ")"));
    }
    if (r == 0) break;
    got += r;
  }
  // A gzip stream that stops mid-way is not a gzread error (-1): zlib returns what it
  // could decompress and records Z_BUF_ERROR. Without this check a cut-off file would
  // look like a clean end of data.
  int errnum = Z_OK;
  const std::string message = ZlibMessage(file, path, &errnum);
  if (errnum == Z_BUF_ERROR) {
    return absl::DataLossError(
        absl::StrCat(path, ": the gzip stream is cut off (", message, "); the file is truncated"));
  }
  if (errnum != Z_OK) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt gzip stream (", message, ")"));
  }
  return got;
}

// Reads exactly `n` bytes of the part named `what`, or says how many were missing.
absl::Status ReadExactly(gzFile file, const std::string& path, const char* what, uint8_t* out,
                         int64_t n) {
  TT_ASSIGN_OR_RETURN(int64_t got, ReadUpTo(file, path, out, n));
  if (got != n) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated ", what, ": expected ", n, " bytes, got ", got));
  }
  return absl::OkStatus();
}

std::string DimsToString(const std::vector<int64_t>& dims) {
  return ShapeToString(Shape(dims.begin(), dims.end()));
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

bool IsDirectory(const std::string& path) {
  std::error_code error;  // the non-throwing overload: a missing folder is not an error
  return std::filesystem::is_directory(path, error);
}

// The runfiles folder of `repository` if it exists, else $`env_var` if set, else
// `fallback`.
std::string FindDataDir(const char* repository, const char* env_var, const char* fallback) {
  for (const char* root_var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* root = std::getenv(root_var);
    if (root == nullptr || *root == '\0') continue;
    std::string candidate = JoinPath(root, repository);
    if (IsDirectory(candidate)) return candidate;
  }
  const char* from_env = std::getenv(env_var);
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return fallback;
}

}  // namespace

absl::Status CheckRegularFile(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": not a regular file"));
  }
  return absl::OkStatus();
}

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  TT_RETURN_IF_ERROR(CheckRegularFile(path));
  GzFilePtr file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  // zlib's default 8 KiB buffer makes reading Fashion-MNIST's 26 MB train images
  // measurably slower; 256 KiB is plenty.
  gzbuffer(file.get(), 256 * 1024);

  std::array<uint8_t, 4> magic;
  TT_ASSIGN_OR_RETURN(int64_t got, ReadUpTo(file.get(), path, magic.data(), 4));
  if (got != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": too short for an IDX file: the magic number needs 4 bytes, got ", got));
  }
  if (magic[0] != 0 || magic[1] != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad magic number: an IDX file starts with two zero bytes, got 0x%02x 0x%02x", path,
        magic[0], magic[1]));
  }
  if (magic[2] != kIdxTypeUnsignedByte) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: unsupported IDX type code 0x%02x: only 0x08 (unsigned byte) is supported", path,
        magic[2]));
  }
  const int num_dims = magic[3];
  if (num_dims < 1 || num_dims > kMaxIdxDims) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad number of dims in the magic number: ", num_dims, " (must be 1..",
                     kMaxIdxDims, ")"));
  }

  std::array<uint8_t, 4 * kMaxIdxDims> raw_dims;
  TT_RETURN_IF_ERROR(ReadExactly(file.get(), path, "header (dims)", raw_dims.data(), 4 * num_dims));
  IdxArray result;
  result.dims.resize(num_dims);
  int64_t num_bytes = 1;
  for (int i = 0; i < num_dims; ++i) {
    const uint8_t* p = &raw_dims[4 * i];
    const int64_t dim =
        (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | int64_t{p[3]};
    result.dims[i] = dim;
    if (dim == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": dim ", i, " is zero (dims ",
                       DimsToString({result.dims.begin(), result.dims.begin() + i + 1}), ")"));
    }
    // dim < 2^32 and num_bytes <= 2^31 before this, so the product fits in int64.
    num_bytes *= dim;
    if (num_bytes > kMaxIdxBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": the dims ", DimsToString({result.dims.begin(), result.dims.begin() + i + 1}),
          " promise more than ", kMaxIdxBytes, " bytes; the header is probably corrupt"));
    }
  }

  result.data.resize(num_bytes);
  TT_ASSIGN_OR_RETURN(got, ReadUpTo(file.get(), path, result.data.data(), num_bytes));
  if (got != num_bytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated data: the dims ",
                                            DimsToString(result.dims), " promise ", num_bytes,
                                            " bytes, got ", got));
  }
  // One more read also makes zlib check the gzip trailer (CRC and length), so a damaged
  // end of the stream is caught even when all the promised bytes arrived.
  uint8_t extra;
  TT_ASSIGN_OR_RETURN(got, ReadUpTo(file.get(), path, &extra, 1));
  if (got != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": trailing bytes after the data: the dims ", DimsToString(result.dims),
                     " promise ", num_bytes, " bytes, but the file holds more"));
  }
  return result;
}

absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, Split split,
                                         const LoadOptions& options) {
  if (options.limit == 0 || options.limit < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("LoadFashionMnist: limit must be -1 (all) or positive, got ", options.limit));
  }
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string images_path = JoinPath(dir, prefix + "-images-idx3-ubyte.gz");
  const std::string labels_path = JoinPath(dir, prefix + "-labels-idx1-ubyte.gz");

  TT_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(images_path));
  if (images.dims.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        images_path, ": images must be 3-D (N, rows, cols), got dims ", DimsToString(images.dims)));
  }
  TT_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile(labels_path));
  if (labels.dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels_path, ": labels must be 1-D (N), got dims ", DimsToString(labels.dims)));
  }
  const int64_t count = images.dims[0];
  if (labels.dims[0] != count) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", count, " images but ",
                                                   labels_path, " holds ", labels.dims[0],
                                                   " labels"));
  }
  for (int64_t i = 0; i < count; ++i) {
    if (labels.data[i] > 9) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", labels.data[i],
                                                     " at index ", i, " is outside 0..9"));
    }
  }

  const int64_t n = options.limit == -1 ? count : std::min(options.limit, count);
  const int64_t pixels = images.dims[1] * images.dims[2];
  Dataset dataset;
  dataset.images = Tensor::Empty({n, pixels});
  // A table keeps the conversion an exact byte / 255 without a division per pixel.
  std::array<float, 256> scale;
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  float* out = dataset.images.data();
  const uint8_t* in = images.data.data();
  for (int64_t k = 0; k < n * pixels; ++k) out[k] = scale[in[k]];
  dataset.labels.assign(labels.data.begin(), labels.data.begin() + n);
  return dataset;
}

std::string FashionMnistDir() {
  return FindDataDir("fashion_mnist", "FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
}

std::string FortunesDir() {
  return FindDataDir("fortunes", "FORTUNES_DIR", "/usr/share/games/fortunes");
}

}  // namespace tt::tensor
