// Reading Fashion-MNIST: IDX files (gzip'd or plain) and the dataset on top of them.
//
// IDX is the format of (Fashion-)MNIST: a 4-byte magic number (0, 0, type code, number
// of dims), the dims as big-endian uint32, then the elements in row-major order. Only
// unsigned bytes (type 0x08) are supported, which is all Fashion-MNIST uses. Every file
// is checked before it is trusted: a bad header, a truncated or corrupt stream and
// trailing bytes all give an error that names the file; none of them crash or hang.
//
//   TT_ASSIGN_OR_RETURN(Dataset test,
//                       LoadFashionMnist(FashionMnistDir(), Split::kTest, {}));
//   // test.images: (10000, 784) in [0, 1]; test.labels: 10000 class ids in 0..9.
//   std::cout << kFashionMnistClassNames[test.labels[0]] << "\n";  // "Ankle boot"
#ifndef TT_TENSOR_IDX_READER_H_
#define TT_TENSOR_IDX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/tensor.h"

namespace tt::tensor {

// The contents of an IDX file of unsigned bytes: dims.size() is 1..4, every dim is
// positive, and data.size() is the product of the dims.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major
};

// The largest IDX payload ReadIdxFile accepts. A corrupt header can claim any size; the
// cap turns "allocate 2^60 bytes" into an error. Fashion-MNIST's largest file is 47 MB.
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 31;

// Reads a whole IDX file of type 0x08 (unsigned byte), gzip'd or plain (zlib tells them
// apart by the gzip magic). Errors, each naming `path`:
//   NotFound         - the file does not exist or is not a regular file;
//   InvalidArgument  - bad magic, a type code other than 0x08, 0 or more than 4 dims, a
//                      zero dim, a payload over kMaxIdxBytes, bytes after the payload;
//   DataLoss         - fewer bytes than the dims promise (expected vs got), a corrupt or
//                      cut-off gzip stream, a read error.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);

// OK when `path` names an existing regular file; otherwise NotFound with the path and
// why ("no such file", "not a regular file"). Readers check first because fopen and
// gzopen report a missing file only through errno, and open a folder without complaint.
absl::Status CheckRegularFile(const std::string& path);

// Fashion-MNIST pixel statistics over the training set (pixels scaled to [0, 1]): the
// normalization every model of the course is trained and evaluated with
// (DataLoader::Options mean/stddev).
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStddev = 0.3530f;

// Which half of Fashion-MNIST to load: 60000 training or 10000 test examples.
enum class Split { kTrain, kTest };

struct LoadOptions {
  // Keep only the first `limit` examples; -1 keeps all. Any other value < 1 is an error.
  int64_t limit = -1;
};

// Images with their class labels, aligned by index.
struct Dataset {
  Tensor images;                // (N, rows * cols), float32 in [0, 1] (byte / 255)
  std::vector<int32_t> labels;  // N class ids in 0..9
};

// Loads `dir`/{train,t10k}-images-idx3-ubyte.gz and the matching labels-idx1 file.
// Checks, with errors naming the file: the images are 3-D (N, rows, cols), the labels
// 1-D (N), both have the same N, every label is in 0..9, and options.limit is valid.
// The whole files are read and validated even when a limit is set, so a damaged file is
// never half-accepted.
absl::StatusOr<Dataset> LoadFashionMnist(const std::string& dir, Split split,
                                         const LoadOptions& options = LoadOptions());

// Where the Fashion-MNIST files are, in order of preference: the Bazel runfiles of a
// test or binary that declares `data = [FASHION_MNIST]` ($TEST_SRCDIR/fashion_mnist,
// then $RUNFILES_DIR/fashion_mnist, used only if the folder exists), the environment
// variable FASHION_MNIST_DIR, then the Debian package's /usr/share/datasets/fashion-mnist.
// Only the folder is chosen here; LoadFashionMnist reports missing files.
std::string FashionMnistDir();

// The same search for the fortune cookie text (`data = [FORTUNES]`, repository
// `fortunes`): runfiles, then $FORTUNES_DIR, then /usr/share/games/fortunes.
std::string FortunesDir();

// Human-readable names of the 10 Fashion-MNIST classes, indexed by label.
extern const char* const kFashionMnistClassNames[10];

}  // namespace tt::tensor

#endif  // TT_TENSOR_IDX_READER_H_
