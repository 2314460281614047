#include "tensor/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::tensor {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

using Bytes = std::vector<uint8_t>;

// A fresh path under the test's temporary folder.
std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

// An IDX file: the magic number (0, 0, type, dims.size()), big-endian dims, `data`.
Bytes IdxBytes(const std::vector<uint32_t>& dims, const Bytes& data, uint8_t type = 0x08) {
  Bytes bytes = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    bytes.push_back(static_cast<uint8_t>(d >> 24));
    bytes.push_back(static_cast<uint8_t>(d >> 16));
    bytes.push_back(static_cast<uint8_t>(d >> 8));
    bytes.push_back(static_cast<uint8_t>(d));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// `n` bytes that deflate does not squeeze to nothing, so a cut stream is really cut.
Bytes Pattern(int64_t n) {
  Bytes bytes(n);
  uint32_t x = 12345;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    bytes[i] = static_cast<uint8_t>(x >> 24);
  }
  return bytes;
}

void WritePlain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  ASSERT_TRUE(out.good()) << path;
}

void WriteGzip(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

Bytes ReadRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

LoadOptions WithLimit(int64_t limit) {
  LoadOptions options;
  options.limit = limit;
  return options;
}

std::string RunfilesPath(const std::string& workspace_relative) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/",
                      workspace_relative);
}

// --- ReadIdxFile: good files ----------------------------------------------------------

TEST(ReadIdxFileTest, GzipRoundTrip) {
  const std::string path = TempPath("round_trip.idx.gz");
  const Bytes data = Pattern(3 * 4 * 5);
  WriteGzip(path, IdxBytes({3, 4, 5}, data));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_THAT(idx->dims, ElementsAre(3, 4, 5));
  EXPECT_EQ(idx->data, data);
}

TEST(ReadIdxFileTest, PlainRoundTrip) {
  const std::string path = TempPath("round_trip.idx");
  const Bytes data = Pattern(7);
  WritePlain(path, IdxBytes({7}, data));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_THAT(idx->dims, ElementsAre(7));
  EXPECT_EQ(idx->data, data);
}

TEST(ReadIdxFileTest, FourDims) {
  const std::string path = TempPath("four_dims.idx.gz");
  const Bytes data = Pattern(2 * 3 * 1 * 2);
  WriteGzip(path, IdxBytes({2, 3, 1, 2}, data));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_THAT(idx->dims, ElementsAre(2, 3, 1, 2));
  EXPECT_EQ(idx->data, data);
}

// tensor/testdata/tiny-images-idx3-ubyte.gz was made once by hand:
//   printf '\x00\x00\x08\x03' '\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02' <12 bytes>
//   | gzip -n -9
TEST(ReadIdxFileTest, GoldenFile) {
  const std::string path = RunfilesPath("tensor/testdata/tiny-images-idx3-ubyte.gz");
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_THAT(idx->dims, ElementsAre(3, 2, 2));
  EXPECT_THAT(idx->data, ElementsAre(0x00, 0xff, 0x80, 0x01,    // image 0
                                     0x0a, 0x14, 0x1e, 0x28,    // image 1
                                     0xff, 0xfe, 0x00, 0x07));  // image 2
}

// --- ReadIdxFile: bad headers ---------------------------------------------------------

TEST(ReadIdxFileTest, MissingFile) {
  const std::string path = TempPath("does_not_exist.gz");
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("no such file")));
}

TEST(ReadIdxFileTest, FolderIsNotAFile) {
  const std::string path = TempPath("a_folder");
  std::filesystem::create_directories(path);
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("not a regular file")));
}

TEST(ReadIdxFileTest, EmptyFile) {
  const std::string path = TempPath("empty.gz");
  WriteGzip(path, {});
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(),
              AllOf(HasSubstr(path), HasSubstr("too short"), HasSubstr("got 0")));
}

TEST(ReadIdxFileTest, BadMagic) {
  const std::string path = TempPath("bad_magic.gz");
  Bytes bytes = IdxBytes({4}, Pattern(4));
  bytes[0] = 0x12;
  bytes[1] = 0x34;
  WriteGzip(path, bytes);
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(),
              AllOf(HasSubstr(path), HasSubstr("bad magic number"), HasSubstr("0x12 0x34")));
}

TEST(ReadIdxFileTest, BadTypeCode) {
  const std::string path = TempPath("float_type.gz");
  WriteGzip(path, IdxBytes({4}, Pattern(16), /*type=*/0x0d));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(),
              AllOf(HasSubstr(path), HasSubstr("unsupported IDX type code 0x0d")));
}

TEST(ReadIdxFileTest, ZeroDims) {
  const std::string path = TempPath("zero_dims.gz");
  WriteGzip(path, IdxBytes({}, Pattern(4)));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(),
              AllOf(HasSubstr(path), HasSubstr("bad number of dims"), HasSubstr(": 0 ")));
}

TEST(ReadIdxFileTest, TooManyDims) {
  const std::string path = TempPath("five_dims.gz");
  WriteGzip(path, IdxBytes({1, 1, 1, 1, 1}, Pattern(1)));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(),
              AllOf(HasSubstr(path), HasSubstr("bad number of dims"), HasSubstr(": 5 ")));
}

TEST(ReadIdxFileTest, ZeroDim) {
  const std::string path = TempPath("zero_dim.gz");
  WriteGzip(path, IdxBytes({3, 0, 2}, {}));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("dim 1 is zero")));
}

TEST(ReadIdxFileTest, AbsurdSize) {
  const std::string path = TempPath("absurd.gz");
  // 2^32 - 1 per dim: the product overflows int64 after three dims; it must be caught
  // before any allocation.
  WriteGzip(path, IdxBytes({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {}));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("promise more than")));

  WriteGzip(path, IdxBytes({65536, 65536}, {}));  // 4 GiB: just over the cap
  idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(idx.status().message(), HasSubstr("promise more than 2147483648 bytes"));
}

TEST(ReadIdxFileTest, TruncatedHeader) {
  const std::string path = TempPath("short_header.gz");
  Bytes bytes = IdxBytes({3, 4}, {});
  bytes.resize(4 + 6);  // the second dim is cut after two of its four bytes
  WriteGzip(path, bytes);
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("truncated header"),
                                            HasSubstr("expected 8 bytes, got 6")));
}

TEST(ReadIdxFileTest, TruncatedData) {
  for (bool gzip : {true, false}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    const std::string path = TempPath(gzip ? "truncated.gz" : "truncated.idx");
    const Bytes bytes = IdxBytes({4, 4}, Pattern(10));  // 16 promised
    gzip ? WriteGzip(path, bytes) : WritePlain(path, bytes);
    absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
    EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("truncated data"),
                                              HasSubstr("promise 16 bytes, got 10")));
  }
}

TEST(ReadIdxFileTest, TrailingBytes) {
  for (bool gzip : {true, false}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    const std::string path = TempPath(gzip ? "trailing.gz" : "trailing.idx");
    const Bytes bytes = IdxBytes({2, 2}, Pattern(6));  // 4 promised
    gzip ? WriteGzip(path, bytes) : WritePlain(path, bytes);
    absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
    EXPECT_EQ(idx.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(idx.status().message(),
                AllOf(HasSubstr(path), HasSubstr("trailing bytes"), HasSubstr("4 bytes")));
  }
}

// --- ReadIdxFile: damaged gzip streams ------------------------------------------------

TEST(ReadIdxFileTest, GzipHeaderThenGarbage) {
  const std::string path = TempPath("garbage.gz");
  // A valid 10-byte gzip header (deflate, no flags), then bytes that are no deflate
  // stream: 0xff starts a block of the reserved type 3.
  Bytes bytes = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03};
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<uint8_t>(0xff - i));
  WritePlain(path, bytes);
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("corrupt gzip stream")));
}

TEST(ReadIdxFileTest, GzipCutInHalf) {
  const std::string good = TempPath("whole.gz");
  WriteGzip(good, IdxBytes({50, 40}, Pattern(2000)));
  const Bytes whole = ReadRaw(good);
  ASSERT_GT(whole.size(), 1000u);  // the pattern does not compress

  const std::string path = TempPath("half.gz");
  WritePlain(path, Bytes(whole.begin(), whole.begin() + whole.size() / 2));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("cut off")));
}

TEST(ReadIdxFileTest, EveryCutOfAGzipFileIsAnError) {
  const std::string good = TempPath("whole_for_cuts.gz");
  WriteGzip(good, IdxBytes({20, 10}, Pattern(200)));
  const Bytes whole = ReadRaw(good);
  const std::string path = TempPath("cut.gz");
  for (size_t n = 0; n < whole.size(); ++n) {
    WritePlain(path, Bytes(whole.begin(), whole.begin() + n));
    absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
    EXPECT_FALSE(idx.ok()) << "a cut after " << n << " of " << whole.size()
                           << " bytes was accepted";
  }
}

TEST(ReadIdxFileTest, GzipWithoutTrailer) {
  // Every data byte is there; only the 8-byte CRC/length trailer is missing.
  const std::string good = TempPath("whole_for_trailer.gz");
  WriteGzip(good, IdxBytes({50, 40}, Pattern(2000)));
  const Bytes whole = ReadRaw(good);

  const std::string path = TempPath("no_trailer.gz");
  WritePlain(path, Bytes(whole.begin(), whole.end() - 8));
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("cut off")));
}

TEST(ReadIdxFileTest, GzipWithBadChecksum) {
  const std::string good = TempPath("whole_for_crc.gz");
  WriteGzip(good, IdxBytes({50, 40}, Pattern(2000)));
  Bytes bytes = ReadRaw(good);
  bytes[bytes.size() - 8] ^= 0x5a;  // first byte of the CRC-32

  const std::string path = TempPath("bad_crc.gz");
  WritePlain(path, bytes);
  absl::StatusOr<IdxArray> idx = ReadIdxFile(path);
  EXPECT_EQ(idx.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(idx.status().message(), AllOf(HasSubstr(path), HasSubstr("corrupt gzip stream")));
}

// --- LoadFashionMnist on made-up files ------------------------------------------------

// Writes t10k-{images-idx3,labels-idx1}-ubyte.gz into a fresh folder `name`.
std::string MakeFakeMnist(const std::string& name, const Bytes& images, const Bytes& labels) {
  const std::string dir = TempPath(name);
  std::filesystem::create_directories(dir);
  WriteGzip(dir + "/t10k-images-idx3-ubyte.gz", images);
  WriteGzip(dir + "/t10k-labels-idx1-ubyte.gz", labels);
  return dir;
}

TEST(LoadFashionMnistTest, SmallFakeSet) {
  const Bytes pixels = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8};  // 3 images of 2x2
  const std::string dir =
      MakeFakeMnist("fake_ok", IdxBytes({3, 2, 2}, pixels), IdxBytes({3}, {9, 0, 4}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTest, {});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->images.shape(), (Shape{3, 4}));
  std::vector<float> expected;
  for (uint8_t p : pixels) expected.push_back(static_cast<float>(p) / 255.0f);
  EXPECT_THAT(data->images.ToVector(), ElementsAreArray(expected));
  EXPECT_EQ(data->images.at({0, 1}), 1.0f);
  EXPECT_EQ(data->images.at({0, 2}), 0.2f);
  EXPECT_THAT(data->labels, ElementsAre(9, 0, 4));

  absl::StatusOr<Dataset> first_two = LoadFashionMnist(dir, Split::kTest, WithLimit(2));
  ASSERT_TRUE(first_two.ok()) << first_two.status();
  EXPECT_EQ(first_two->images.shape(), (Shape{2, 4}));
  EXPECT_THAT(first_two->images.ToVector(),
              ElementsAreArray(expected.begin(), expected.begin() + 8));
  EXPECT_THAT(first_two->labels, ElementsAre(9, 0));

  absl::StatusOr<Dataset> beyond = LoadFashionMnist(dir, Split::kTest, WithLimit(100));
  ASSERT_TRUE(beyond.ok()) << beyond.status();
  EXPECT_EQ(beyond->images.shape(), (Shape{3, 4}));
}

TEST(LoadFashionMnistTest, BadLimit) {
  const std::string dir = MakeFakeMnist("fake_limit", IdxBytes({1, 1, 1}, {7}), IdxBytes({1}, {1}));
  for (int64_t limit : {0, -2}) {
    absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTest, WithLimit(limit));
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(data.status().message(), HasSubstr("limit must be -1 (all) or positive"));
  }
}

TEST(LoadFashionMnistTest, CountMismatch) {
  const std::string dir =
      MakeFakeMnist("fake_count", IdxBytes({2, 1, 1}, {1, 2}), IdxBytes({3}, {1, 2, 3}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTest, {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(),
              AllOf(HasSubstr("t10k-images-idx3-ubyte.gz holds 2 images"),
                    HasSubstr("t10k-labels-idx1-ubyte.gz holds 3 labels")));
}

TEST(LoadFashionMnistTest, LabelOutOfRange) {
  const std::string dir =
      MakeFakeMnist("fake_label", IdxBytes({3, 1, 1}, {1, 2, 3}), IdxBytes({3}, {1, 10, 3}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTest, WithLimit(1));
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr("t10k-labels-idx1-ubyte.gz"),
                                             HasSubstr("label 10 at index 1 is outside 0..9")));
}

TEST(LoadFashionMnistTest, WrongRanks) {
  std::string dir =
      MakeFakeMnist("fake_images_2d", IdxBytes({2, 4}, Pattern(8)), IdxBytes({2}, {1, 2}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTest, {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr("t10k-images-idx3-ubyte.gz"),
                                             HasSubstr("must be 3-D"), HasSubstr("(2, 4)")));

  dir = MakeFakeMnist("fake_labels_2d", IdxBytes({2, 1, 1}, {1, 2}), IdxBytes({2, 1}, {1, 2}));
  data = LoadFashionMnist(dir, Split::kTest, {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(),
              AllOf(HasSubstr("t10k-labels-idx1-ubyte.gz"), HasSubstr("must be 1-D")));
}

TEST(LoadFashionMnistTest, MissingFolderNamesTheFile) {
  const std::string dir = TempPath("no_such_folder");
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir, Split::kTrain, {});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(),
              HasSubstr(dir + "/train-images-idx3-ubyte.gz: no such file"));
}

TEST(LoadFashionMnistTest, ClassNames) {
  EXPECT_STREQ(kFashionMnistClassNames[0], "T-shirt/top");
  EXPECT_STREQ(kFashionMnistClassNames[7], "Sneaker");
  EXPECT_STREQ(kFashionMnistClassNames[9], "Ankle boot");
}

// --- Data folders ---------------------------------------------------------------------

// Sets an environment variable for one scope and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, /*overwrite=*/1);
    }
  }
  ~ScopedEnv() {
    if (had_old_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_old_;
  std::string old_;
};

TEST(DataDirTest, RunfilesFirst) {
  // This test declares data = [FASHION_MNIST], so the files are in its runfiles
  // (char_dataset_test checks FortunesDir the same way).
  EXPECT_EQ(FashionMnistDir(), absl::StrCat(std::getenv("TEST_SRCDIR"), "/fashion_mnist"));
}

TEST(DataDirTest, EnvironmentThenDefault) {
  const std::string empty_runfiles = TempPath("empty_runfiles");
  std::filesystem::create_directories(empty_runfiles);
  ScopedEnv srcdir("TEST_SRCDIR", empty_runfiles.c_str());
  ScopedEnv runfiles("RUNFILES_DIR", nullptr);
  {
    ScopedEnv mnist("FASHION_MNIST_DIR", "/somewhere/mnist");
    ScopedEnv fortunes("FORTUNES_DIR", "/somewhere/fortunes");
    EXPECT_EQ(FashionMnistDir(), "/somewhere/mnist");
    EXPECT_EQ(FortunesDir(), "/somewhere/fortunes");
  }
  ScopedEnv mnist("FASHION_MNIST_DIR", nullptr);
  ScopedEnv fortunes("FORTUNES_DIR", nullptr);
  EXPECT_EQ(FashionMnistDir(), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(FortunesDir(), "/usr/share/games/fortunes");
}

// --- The real Fashion-MNIST -----------------------------------------------------------

// Loads one split, printing how long it took (a report, not an assertion).
absl::StatusOr<Dataset> TimedLoad(Split split, const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Dataset> data = LoadFashionMnist(FashionMnistDir(), split, options);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "LoadFashionMnist(" << (split == Split::kTrain ? "train" : "test") << ", limit "
            << options.limit << "): " << ms << " ms\n";
  return data;
}

void ExpectBalancedAndScaled(const Dataset& data, int64_t n) {
  ASSERT_EQ(data.images.shape(), (Shape{n, 28 * 28}));
  ASSERT_EQ(static_cast<int64_t>(data.labels.size()), n);
  std::vector<int64_t> per_class(10, 0);
  for (int32_t label : data.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++per_class[label];
  }
  EXPECT_THAT(per_class, ::testing::Each(n / 10));
  const float* p = data.images.data();
  const auto [lo, hi] = std::minmax_element(p, p + data.images.numel());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
}

TEST(RealFashionMnistTest, TestAndTrainSets) {
  absl::StatusOr<Dataset> test = TimedLoad(Split::kTest, {});
  ASSERT_TRUE(test.ok()) << test.status();
  ExpectBalancedAndScaled(*test, 10000);

  absl::StatusOr<Dataset> first = TimedLoad(Split::kTest, WithLimit(100));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->images.shape(), (Shape{100, 784}));
  EXPECT_EQ(first->labels, std::vector<int32_t>(test->labels.begin(), test->labels.begin() + 100));
  const std::vector<float> all = test->images.ToVector();
  EXPECT_EQ(first->images.ToVector(), std::vector<float>(all.begin(), all.begin() + 100 * 784));

  absl::StatusOr<Dataset> train = TimedLoad(Split::kTrain, {});
  ASSERT_TRUE(train.ok()) << train.status();
  ExpectBalancedAndScaled(*train, 60000);
}

TEST(RealFashionMnistTest, RawFilesMatchTheFormat) {
  absl::StatusOr<IdxArray> labels = ReadIdxFile(FashionMnistDir() + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(labels->dims, ElementsAre(10000));
  absl::StatusOr<IdxArray> images = ReadIdxFile(FashionMnistDir() + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_THAT(images->dims, ElementsAre(10000, 28, 28));
}

}  // namespace
}  // namespace tt::tensor
