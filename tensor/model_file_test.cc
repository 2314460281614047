#include "tensor/model_file.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tensor/model.pb.h"
#include "tensor/tensor.h"

namespace tt::tensor {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// --- Helpers -----------------------------------------------------------------------------

std::string TempPath(const std::string& name) { return ::testing::TempDir() + name; }

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float FromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

std::vector<uint32_t> AllBits(const Tensor& t) {
  std::vector<uint32_t> bits;
  for (float v : t.ToVector()) bits.push_back(Bits(v));
  return bits;
}

// A 3-4-2 MLP's parameters with seeded random values.
NamedTensors MakeParams(uint64_t seed) {
  Rng rng(seed);
  return {
      {"fc1.weight", Tensor::Randn({3, 4}, rng)},
      {"fc1.bias", Tensor::Randn({4}, rng)},
      {"fc2.weight", Tensor::Randn({4, 2}, rng)},
      {"fc2.bias", Tensor::Randn({2}, rng)},
  };
}

// Zero-filled parameters with the same names and shapes as `params`.
NamedTensors ZerosLike(const NamedTensors& params) {
  NamedTensors out;
  for (const auto& [name, t] : params) out.emplace_back(name, Tensor::Zeros(t.shape()));
  return out;
}

proto::ModelFile MakeModel(const NamedTensors& params) {
  proto::Architecture arch;
  for (int64_t n : {3, 4, 2}) arch.mutable_mlp()->add_layer_sizes(n);
  proto::Metadata meta;
  meta.set_dataset("fashion-mnist");
  meta.set_accuracy(0.875);
  meta.set_seed(42);
  meta.set_created_by("model_file_test");
  meta.set_epochs(3);
  (*meta.mutable_notes())["optimizer"] = "adam";
  (*meta.mutable_notes())["lr"] = "1e-3";
  (*meta.mutable_notes())["batch"] = "64";
  return MakeModelFile(arch, params, meta);
}

// A valid INT8 tensor of shape (rows, cols), quantized per tensor.
proto::TensorProto Int8Tensor(const std::string& name, int rows, int cols) {
  proto::TensorProto t;
  t.set_name(name);
  t.set_dtype(proto::INT8);
  t.add_shape(rows);
  t.add_shape(cols);
  std::string data;
  for (int i = 0; i < rows * cols; ++i) data.push_back(static_cast<char>(i % 11 - 3));
  t.set_data(data);
  t.mutable_quant()->add_scale(0.05f);
  return t;
}

// A valid F32 CSR tensor:
//   [[0, 1, 0, 2],
//    [0, 0, 0, 0],
//    [3, 0, 4, 0]]
proto::TensorProto CsrTensor() {
  proto::TensorProto t = TensorToProto("sparse.weight", Tensor::FromVector({1, 2, 3, 4}, {4}));
  t.clear_shape();
  t.add_shape(3);
  t.add_shape(4);
  proto::SparseEncoding* s = t.mutable_sparse();
  s->set_format(proto::CSR);
  for (int p : {0, 2, 2, 4}) s->add_row_ptr(p);
  for (int c : {1, 3, 0, 2}) s->add_col_idx(c);
  s->set_nnz(4);
  return t;
}

std::string ErrorOf(const absl::Status& status) { return std::string(status.message()); }

// Silences protobuf's own logging for a scope: parsing corrupt bytes logs (e.g. about
// invalid UTF-8 in a string field) besides returning false, which floods the test log.
class ScopedProtobufLogSilencer {
 public:
  ScopedProtobufLogSilencer() : previous_(google::protobuf::SetLogHandler(&Discard)) {}
  ~ScopedProtobufLogSilencer() { google::protobuf::SetLogHandler(previous_); }

 private:
  static void Discard(google::protobuf::LogLevel, const char*, int, const std::string&) {}
  google::protobuf::LogHandler* previous_;
};

// --- Tensors -------------------------------------------------------------------------------

TEST(TensorProtoTest, EncodesLittleEndianF32) {
  proto::TensorProto t = TensorToProto("x", Tensor::FromVector({1.0f, -2.0f}, {2, 1}));
  EXPECT_EQ(t.name(), "x");
  EXPECT_EQ(t.dtype(), proto::F32);
  EXPECT_THAT(t.shape(), ::testing::ElementsAre(2, 1));
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, least significant byte first.
  EXPECT_EQ(t.data(), std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
  EXPECT_FALSE(t.has_quant());
  EXPECT_EQ(t.sparse().format(), proto::NONE);
}

TEST(TensorProtoTest, RoundTripIsBitExact) {
  const std::vector<uint32_t> bits = {
      0x00000000u,  // +0
      0x80000000u,  // -0
      0x00000001u,  // smallest denormal
      0x807fffffu,  // largest negative denormal
      0x7f800000u,  // +inf
      0xff800000u,  // -inf
      0x7fc01234u,  // quiet NaN with a payload
      0xffc00042u,  // negative quiet NaN with a payload
      0x7f7fffffu,  // largest finite
      0x3eaaaaabu,  // 1/3
  };
  std::vector<float> values;
  for (uint32_t b : bits) values.push_back(FromBits(b));
  const Tensor original = Tensor::FromVector(values, {2, 5});

  absl::StatusOr<Tensor> back = TensorFromProto(TensorToProto("special", original));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), Shape({2, 5}));
  EXPECT_EQ(AllBits(*back), bits);
  EXPECT_FALSE(back->SharesStorageWith(original));
}

TEST(TensorProtoTest, EmptyTensorsKeepTheirShape) {
  for (const Shape& shape : {Shape{0}, Shape{3, 0}, Shape{0, 7, 2}}) {
    proto::TensorProto t = TensorToProto("empty", Tensor::Zeros(shape));
    EXPECT_TRUE(t.data().empty());
    EXPECT_TRUE(ValidateTensorProto(t).ok());
    absl::StatusOr<Tensor> back = TensorFromProto(t);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->shape(), shape);
    EXPECT_EQ(back->numel(), 0);
  }
}

TEST(TensorProtoTest, ScalarHasEmptyShapeAndOneValue) {
  proto::TensorProto t = TensorToProto("temperature", Tensor::Scalar(-3.5f));
  EXPECT_EQ(t.shape_size(), 0);
  EXPECT_EQ(t.data().size(), 4u);
  absl::StatusOr<Tensor> back = TensorFromProto(t);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->dim(), 0);
  EXPECT_EQ(back->item(), -3.5f);
}

TEST(TensorProtoDeathTest, UndefinedTensorIsAContractViolation) {
  EXPECT_DEATH(TensorToProto("w", Tensor()), "TensorToProto: tensor 'w' is undefined");
}

TEST(TensorProtoTest, QuantizedTensorsValidateButDoNotDecode) {
  const proto::TensorProto t = Int8Tensor("fc1.weight", 2, 3);
  EXPECT_TRUE(ValidateTensorProto(t).ok()) << ValidateTensorProto(t);
  absl::StatusOr<Tensor> back = TensorFromProto(t);
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(ErrorOf(back.status()),
              AllOf(HasSubstr("tensor 'fc1.weight'"), HasSubstr("INT8"),
                    HasSubstr("dequantization belongs to the quantization module")));
}

TEST(TensorProtoTest, DataSizeMustMatchShapeForEveryDType) {
  proto::TensorProto f32 = TensorToProto("w", Tensor::Zeros({2, 3}));
  f32.mutable_data()->pop_back();
  EXPECT_THAT(ErrorOf(ValidateTensorProto(f32)),
              HasSubstr("tensor 'w': data has 23 bytes, but shape (2, 3) of F32 needs 24"));

  proto::TensorProto int8 = Int8Tensor("q", 2, 3);
  EXPECT_TRUE(ValidateTensorProto(int8).ok());
  int8.mutable_data()->push_back('\0');
  EXPECT_THAT(ErrorOf(ValidateTensorProto(int8)),
              HasSubstr("data has 7 bytes, but shape (2, 3) of INT8 needs 6"));

  // INT4: 5 values take ceil(5 / 2) = 3 bytes.
  proto::TensorProto int4;
  int4.set_name("q4");
  int4.set_dtype(proto::INT4);
  int4.add_shape(5);
  int4.mutable_quant()->add_scale(0.5f);
  int4.set_data(std::string(3, '\x21'));
  EXPECT_TRUE(ValidateTensorProto(int4).ok()) << ValidateTensorProto(int4);
  for (size_t bytes : {2, 5}) {
    int4.set_data(std::string(bytes, '\0'));
    EXPECT_THAT(ErrorOf(ValidateTensorProto(int4)), HasSubstr("of INT4 needs 3"));
  }
}

TEST(TensorProtoTest, RejectsBadHeaders) {
  proto::TensorProto t = TensorToProto("w", Tensor::Zeros({2}));
  t.set_dtype(proto::DTYPE_UNSPECIFIED);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("tensor 'w': unsupported dtype DTYPE_UNSPECIFIED"));
  t.set_dtype(static_cast<proto::DType>(9));
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("unsupported dtype 9 (expected F32, INT8 or INT4)"));

  t = TensorToProto("w", Tensor::Zeros({2}));
  t.set_shape(0, -2);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("negative dimension in shape (-2)"));

  t = TensorToProto("w", Tensor::Zeros({2}));
  t.clear_shape();
  for (int i = 0; i < 4; ++i) t.add_shape(int64_t{1} << 20);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("is too large"));

  t = TensorToProto("", Tensor::Zeros({2}));
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("empty name"));
}

TEST(TensorProtoTest, CsrDecodesToDense) {
  const proto::TensorProto t = CsrTensor();
  ASSERT_TRUE(ValidateTensorProto(t).ok()) << ValidateTensorProto(t);
  absl::StatusOr<Tensor> dense = TensorFromProto(t);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(dense->shape(), Shape({3, 4}));
  EXPECT_EQ(dense->ToVector(), std::vector<float>({0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 4, 0}));
}

TEST(TensorProtoTest, RejectsBadCsr) {
  struct Case {
    const char* what;
    void (*mutate)(proto::TensorProto&);
    const char* error;
  };
  const Case cases[] = {
      {"row_ptr size", [](proto::TensorProto& t) { t.mutable_sparse()->add_row_ptr(4); },
       "row_ptr has 5 entries, expected rows + 1 = 4"},
      {"row_ptr[0]", [](proto::TensorProto& t) { t.mutable_sparse()->set_row_ptr(0, 1); },
       "row_ptr[0] = 1, expected 0"},
      {"decreasing", [](proto::TensorProto& t) { t.mutable_sparse()->set_row_ptr(2, 1); },
       "row_ptr decreases at row 1"},
      {"column range", [](proto::TensorProto& t) { t.mutable_sparse()->set_col_idx(3, 4); },
       "col_idx[3] = 4 (row 2) is outside [0, 4)"},
      {"negative column", [](proto::TensorProto& t) { t.mutable_sparse()->set_col_idx(0, -1); },
       "col_idx[0] = -1"},
      {"duplicate column", [](proto::TensorProto& t) { t.mutable_sparse()->set_col_idx(1, 1); },
       "columns of row 0 are not strictly increasing"},
      {"nnz vs row_ptr", [](proto::TensorProto& t) { t.mutable_sparse()->set_nnz(3); },
       "row_ptr[3] = 4, expected nnz = 3"},
      {"nnz range", [](proto::TensorProto& t) { t.mutable_sparse()->set_nnz(13); },
       "nnz 13 is outside [0, 12]"},
      {"col_idx size", [](proto::TensorProto& t) { t.mutable_sparse()->add_col_idx(3); },
       "col_idx has 5 entries, expected nnz = 4"},
      {"data size", [](proto::TensorProto& t) { t.mutable_data()->append(4, '\0'); },
       "data has 20 bytes, but 4 CSR values of F32 need 16"},
      {"rank", [](proto::TensorProto& t) { t.add_shape(1); },
       "CSR needs a 2-D tensor, shape is (3, 4, 1)"},
      {"fields without CSR",
       [](proto::TensorProto& t) { t.mutable_sparse()->set_format(proto::NONE); },
       "sparse row_ptr/col_idx/nnz are set but format is NONE"},
      {"unknown format",
       [](proto::TensorProto& t) {
         t.mutable_sparse()->set_format(static_cast<proto::SparseFormat>(5));
       },
       "unknown sparse format 5"},
  };
  for (const Case& c : cases) {
    proto::TensorProto t = CsrTensor();
    c.mutate(t);
    const absl::Status status = ValidateTensorProto(t);
    EXPECT_THAT(ErrorOf(status), AllOf(HasSubstr("tensor 'sparse.weight'"), HasSubstr(c.error)))
        << c.what;
    EXPECT_FALSE(TensorFromProto(t).ok()) << c.what;
  }
}

TEST(TensorProtoTest, ChecksQuantizationParameters) {
  // Per-channel INT8 over axis 0 of a (4, 3) weight: 4 scales.
  proto::TensorProto t = Int8Tensor("conv.weight", 4, 3);
  proto::QuantParams* q = t.mutable_quant();
  q->set_scheme(proto::PER_CHANNEL);
  q->set_axis(0);
  q->clear_scale();
  for (float s : {0.1f, 0.2f, 0.3f}) q->add_scale(s);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("tensor 'conv.weight': quant: 3 scales, expected 4 (PER_CHANNEL over "
                        "axis 0 of shape (4, 3))"));
  q->add_scale(0.4f);
  EXPECT_TRUE(ValidateTensorProto(t).ok()) << ValidateTensorProto(t);

  q->set_axis(1);  // 3 channels along axis 1
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("4 scales, expected 3"));
  q->set_axis(2);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("PER_CHANNEL axis 2 is out of range for shape (4, 3)"));
  q->set_axis(0);

  for (float bad : {0.0f, -0.1f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    q->set_scale(2, bad);
    EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
                AllOf(HasSubstr("scale[2] = "), HasSubstr("is not a finite positive number")))
        << bad;
  }
  q->set_scale(2, 0.3f);

  q->add_zero_point(0);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("1 zero points for 4 scales"));
  for (int zp : {0, 5, -128}) q->add_zero_point(zp);
  EXPECT_TRUE(ValidateTensorProto(t).ok()) << ValidateTensorProto(t);
  q->set_zero_point(3, 128);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("zero_point[3] = 128 is outside the INT8 range [-128, 127]"));
  q->clear_zero_point();

  // Per block: 12 values in blocks of 5 take 3 scales.
  q->set_scheme(proto::PER_BLOCK);
  q->set_block_size(5);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("4 scales, expected 3 (PER_BLOCK"));
  q->set_block_size(3);
  EXPECT_TRUE(ValidateTensorProto(t).ok()) << ValidateTensorProto(t);
  q->set_block_size(0);
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)), HasSubstr("PER_BLOCK block_size 0 must be > 0"));

  t.clear_quant();
  EXPECT_THAT(ErrorOf(ValidateTensorProto(t)),
              HasSubstr("INT8 tensor has no quantization parameters"));
}

// --- Files -----------------------------------------------------------------------------------

TEST(ModelFileTest, MakeModelFileFillsTheHeader) {
  const proto::ModelFile model = MakeModel(MakeParams(1));
  EXPECT_EQ(model.format(), "tinytorch.model");
  EXPECT_EQ(model.version(), kModelFormatVersion);
  EXPECT_TRUE(model.architecture().has_mlp());
  ASSERT_EQ(model.tensors_size(), 4);
  EXPECT_EQ(model.tensors(2).name(), "fc2.weight");
  EXPECT_EQ(model.metadata().dataset(), "fashion-mnist");
  EXPECT_TRUE(ValidateModelFile(model).ok()) << ValidateModelFile(model);
}

TEST(ModelFileTest, SaveLoadRoundTripIsExact) {
  const NamedTensors params = MakeParams(7);
  const proto::ModelFile model = MakeModel(params);
  const std::string path = TempPath("roundtrip.ttm");
  ASSERT_TRUE(SaveModel(path, model).ok());

  absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*loaded, model));

  const NamedTensors fresh = ZerosLike(params);
  ASSERT_TRUE(LoadParameters(*loaded, fresh).ok());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(AllBits(fresh[i].second), AllBits(params[i].second)) << params[i].first;
  }
}

TEST(ModelFileTest, SaveIsAtomicAndDeterministic) {
  const std::string path = TempPath("atomic.ttm");
  // A stale temporary from an interrupted earlier save must not matter.
  WriteBytes(path + ".tmp", "half a model");
  const proto::ModelFile model = MakeModel(MakeParams(3));
  ASSERT_TRUE(SaveModel(path, model).ok());
  EXPECT_FALSE(FileExists(path + ".tmp"));
  const std::string first = ReadBytes(path);
  ASSERT_FALSE(first.empty());

  // Saving again (over the existing file) gives the same bytes: map entries are sorted.
  ASSERT_TRUE(SaveModel(path, model).ok());
  EXPECT_FALSE(FileExists(path + ".tmp"));
  EXPECT_EQ(ReadBytes(path), first);

  // A save that fails leaves the existing file as it was, and no temporary.
  proto::ModelFile invalid = model;
  invalid.mutable_tensors(0)->mutable_data()->pop_back();
  const absl::Status status = SaveModel(path, invalid);
  EXPECT_THAT(ErrorOf(status), AllOf(HasSubstr("cannot save model file '" + path + "'"),
                                     HasSubstr("tensor 'fc1.weight': data has 47 bytes")));
  EXPECT_EQ(ReadBytes(path), first);
  EXPECT_FALSE(FileExists(path + ".tmp"));
}

TEST(ModelFileTest, SaveIntoMissingDirectoryNamesThePath) {
  const std::string path = TempPath("no_such_dir/model.ttm");
  const absl::Status status = SaveModel(path, MakeModel(MakeParams(1)));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ErrorOf(status), AllOf(HasSubstr(path), HasSubstr("cannot create")));
}

TEST(LoadModelTest, MissingFile) {
  const std::string path = TempPath("does_not_exist.ttm");
  absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ErrorOf(loaded.status()),
              AllOf(HasSubstr("model file '" + path + "'"), HasSubstr("No such file")));
}

TEST(LoadModelTest, DirectoryIsNotAModel) {
  absl::StatusOr<proto::ModelFile> loaded = LoadModel(::testing::TempDir());
  EXPECT_THAT(ErrorOf(loaded.status()),
              AllOf(HasSubstr(::testing::TempDir()), HasSubstr("cannot read")));
}

TEST(LoadModelTest, EmptyFile) {
  const std::string path = TempPath("empty.ttm");
  WriteBytes(path, "");
  absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ErrorOf(loaded.status()), HasSubstr("model file '" + path + "' is empty"));
}

TEST(LoadModelTest, TruncatedFiles) {
  const std::string good = TempPath("good.ttm");
  ASSERT_TRUE(SaveModel(good, MakeModel(MakeParams(5))).ok());
  const std::string bytes = ReadBytes(good);
  ASSERT_GT(bytes.size(), 100u);

  const std::string path = TempPath("truncated.ttm");
  for (size_t length : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    WriteBytes(path, bytes.substr(0, length));
    absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << length;
    EXPECT_THAT(ErrorOf(loaded.status()),
                AllOf(HasSubstr("model file '" + path + "'"), HasSubstr("truncated or corrupt"),
                      HasSubstr(std::to_string(length) + " bytes")))
        << length;
  }
}

// Protobuf has no end marker, so a cut between two top-level fields parses. What must
// never happen is that a cut file loads as the complete model.
TEST(LoadModelTest, NoPrefixLoadsAsTheWholeModel) {
  const NamedTensors params = MakeParams(5);
  const proto::ModelFile model = MakeModel(params);
  const std::string good = TempPath("prefix_source.ttm");
  ASSERT_TRUE(SaveModel(good, model).ok());
  const std::string bytes = ReadBytes(good);

  const std::string path = TempPath("prefix.ttm");
  int rejected_by_load = 0;
  for (size_t length = 0; length < bytes.size(); ++length) {
    WriteBytes(path, bytes.substr(0, length));
    absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
    if (!loaded.ok()) {
      ++rejected_by_load;
      EXPECT_THAT(ErrorOf(loaded.status()), HasSubstr(path)) << length;
      continue;
    }
    const bool complete = LoadParameters(*loaded, ZerosLike(params)).ok() &&
                          MessageDifferencer::Equals(loaded->metadata(), model.metadata());
    EXPECT_FALSE(complete) << "a " << length << "-byte prefix of " << bytes.size()
                           << " bytes loads as the whole model";
  }
  // Nearly every cut lands inside a field and fails to parse.
  EXPECT_GT(rejected_by_load, static_cast<int>(bytes.size()) * 9 / 10);
}

TEST(LoadModelTest, FlippedBytes) {
  const std::string good = TempPath("flip_source.ttm");
  ASSERT_TRUE(SaveModel(good, MakeModel(MakeParams(9))).ok());
  const std::string bytes = ReadBytes(good);
  const std::string path = TempPath("flipped.ttm");

  // A flip in the format string: still a protobuf, no longer ours.
  const size_t format_at = bytes.find("tinytorch.model");
  ASSERT_NE(format_at, std::string::npos);
  std::string flipped = bytes;
  flipped[format_at] ^= 0x20;  // 't' -> 'T'
  WriteBytes(path, flipped);
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              AllOf(HasSubstr(path), HasSubstr("not a TinyTorch model: format is "
                                               "'Tinytorch.model', expected 'tinytorch.model'")));

  // A flip in the first tag byte breaks the structure.
  flipped = bytes;
  flipped[0] ^= 0xFF;
  WriteBytes(path, flipped);
  EXPECT_FALSE(LoadModel(path).ok());

  // Any single flipped byte either loads or fails with a message that names the file;
  // flips in the structure (tags, lengths, header) fail.
  ScopedProtobufLogSilencer quiet;
  int failures = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    flipped = bytes;
    flipped[i] ^= 0xFF;
    WriteBytes(path, flipped);
    absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
    if (loaded.ok()) continue;
    ++failures;
    EXPECT_THAT(ErrorOf(loaded.status()), HasSubstr("model file '" + path + "'")) << i;
  }
  EXPECT_GT(failures, 20);
}

TEST(LoadModelTest, RandomBytes) {
  std::mt19937 gen(1234);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(gen() & 0xFF);
  const std::string path = TempPath("noise.ttm");
  WriteBytes(path, noise);
  absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(ErrorOf(loaded.status()),
              AllOf(HasSubstr(path),
                    AnyOf(HasSubstr("truncated or corrupt"), HasSubstr("not a TinyTorch model"))));
}

TEST(LoadModelTest, OtherProtobufsAreNotModels) {
  const std::string path = TempPath("foreign.ttm");

  proto::ModelFile other = MakeModel(MakeParams(2));
  other.set_format("something else");
  WriteBytes(path, other.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              AllOf(HasSubstr("model file '" + path + "'"),
                    HasSubstr("not a TinyTorch model: format is 'something else'")));

  // A TensorProto alone: its name (field 1) reads as the format and its dtype (field 2)
  // as the version, which is why the format field exists.
  proto::TensorProto header_only;
  header_only.set_name("fc1.weight");
  header_only.set_dtype(proto::F32);
  WriteBytes(path, header_only.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              HasSubstr("not a TinyTorch model: format is 'fc1.weight'"));

  // With data, its bytes do not even parse as a ModelFile.
  WriteBytes(path, TensorToProto("fc1.weight", Tensor::Scalar(1.0f)).SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()), HasSubstr("truncated or corrupt"));
}

TEST(LoadModelTest, UnsupportedVersions) {
  const std::string path = TempPath("version.ttm");
  proto::ModelFile model = MakeModel(MakeParams(2));
  model.set_version(kModelFormatVersion + 1);
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              AllOf(HasSubstr(path), HasSubstr("unsupported version 2"),
                    HasSubstr("written by newer code")));
  model.set_version(0);
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()), HasSubstr("unsupported version 0"));
}

TEST(LoadModelTest, DuplicateTensorNames) {
  const std::string path = TempPath("duplicate.ttm");
  proto::ModelFile model = MakeModel(MakeParams(2));
  *model.add_tensors() = model.tensors(1);
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(
      ErrorOf(LoadModel(path).status()),
      AllOf(HasSubstr(path), HasSubstr("duplicate tensor name 'fc1.bias' (tensors #1 and #4)")));
  EXPECT_FALSE(SaveModel(path, model).ok());
}

TEST(LoadModelTest, ActivationQuantIsChecked) {
  proto::ModelFile model = MakeModel(MakeParams(2));
  proto::QuantParams good;
  good.add_scale(0.05f);
  good.add_zero_point(-3);
  (*model.mutable_activation_quant())["input"] = good;
  EXPECT_TRUE(ValidateModelFile(model).ok());
  const std::string path = TempPath("activation_quant.ttm");
  ASSERT_TRUE(SaveModel(path, model).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FLOAT_EQ(loaded->activation_quant().at("input").scale(0), 0.05f);

  proto::QuantParams bad_zp = good;
  bad_zp.set_zero_point(0, 200);
  (*model.mutable_activation_quant())["layer0.output"] = bad_zp;
  EXPECT_THAT(ErrorOf(ValidateModelFile(model)),
              AllOf(HasSubstr("activation_quant"), HasSubstr("layer0.output"),
                    HasSubstr("zero_point[0] = 200")));
  proto::QuantParams per_channel = good;
  per_channel.set_scheme(proto::PER_CHANNEL);
  (*model.mutable_activation_quant())["layer0.output"] = per_channel;
  EXPECT_THAT(ErrorOf(ValidateModelFile(model)), HasSubstr("PER_TENSOR"));
  proto::QuantParams nan_scale = good;
  nan_scale.set_scale(0, std::numeric_limits<float>::quiet_NaN());
  (*model.mutable_activation_quant())["layer0.output"] = nan_scale;
  EXPECT_THAT(ErrorOf(ValidateModelFile(model)), HasSubstr("not a finite positive number"));
}

TEST(LoadModelTest, InvalidTensorsAreNamed) {
  const std::string path = TempPath("bad_tensor.ttm");
  proto::ModelFile model = MakeModel(MakeParams(2));
  model.mutable_tensors(2)->mutable_data()->append("xyz");
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              AllOf(HasSubstr(path), HasSubstr("tensor 'fc2.weight': data has 35 bytes")));

  model = MakeModel(MakeParams(2));
  proto::TensorProto csr = CsrTensor();
  csr.mutable_sparse()->set_col_idx(0, 9);
  *model.add_tensors() = csr;
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              HasSubstr("tensor 'sparse.weight': CSR col_idx[0] = 9"));

  model = MakeModel(MakeParams(2));
  proto::TensorProto q = Int8Tensor("fc3.weight", 4, 2);
  q.mutable_quant()->set_scheme(proto::PER_CHANNEL);
  q.mutable_quant()->add_scale(0.2f);  // 2 scales for 4 channels
  *model.add_tensors() = q;
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              HasSubstr("tensor 'fc3.weight': quant: 2 scales, expected 4"));

  model = MakeModel(MakeParams(2));
  model.mutable_tensors(0)->clear_name();
  WriteBytes(path, model.SerializeAsString());
  EXPECT_THAT(ErrorOf(LoadModel(path).status()),
              HasSubstr("tensor #0: a tensor has an empty name"));
}

TEST(LoadModelTest, QuantizedAndSparseTensorsLoadAsProtos) {
  const std::string path = TempPath("mixed.ttm");
  proto::ModelFile model = MakeModel(MakeParams(2));
  *model.add_tensors() = Int8Tensor("fc3.weight", 4, 2);
  *model.add_tensors() = CsrTensor();
  ASSERT_TRUE(SaveModel(path, model).ok());
  absl::StatusOr<proto::ModelFile> loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*loaded, model));
}

// --- LoadParameters ------------------------------------------------------------------------

// True when every parameter still holds exactly the values of `reference`.
bool Unchanged(const NamedTensors& params, const NamedTensors& reference) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (AllBits(params[i].second) != AllBits(reference[i].second)) return false;
  }
  return true;
}

NamedTensors CloneAll(const NamedTensors& params) {
  NamedTensors out;
  for (const auto& [name, t] : params) out.emplace_back(name, t.Clone());
  return out;
}

TEST(LoadParametersTest, WritesIntoTheModelsStorage) {
  const NamedTensors saved = MakeParams(11);
  const NamedTensors model_params = ZerosLike(saved);
  const Tensor alias = model_params[0].second;  // another handle to fc1.weight
  ASSERT_TRUE(LoadParameters(MakeModel(saved), model_params).ok());
  EXPECT_EQ(AllBits(alias), AllBits(saved[0].second));
}

TEST(LoadParametersTest, MissingTensor) {
  NamedTensors params = ZerosLike(MakeParams(1));
  params.emplace_back("fc3.weight", Tensor::Zeros({2, 2}));
  params.emplace_back("fc3.bias", Tensor::Zeros({2}));
  const NamedTensors before = CloneAll(params);
  const absl::Status status = LoadParameters(MakeModel(MakeParams(2)), params);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ErrorOf(status), AllOf(HasSubstr("model file has no tensor 'fc3.weight'"),
                                     HasSubstr("2 of 6 parameters missing")));
  EXPECT_TRUE(Unchanged(params, before));
}

TEST(LoadParametersTest, ExtraTensor) {
  NamedTensors params = ZerosLike(MakeParams(1));
  params.pop_back();
  const NamedTensors before = CloneAll(params);
  const absl::Status status = LoadParameters(MakeModel(MakeParams(2)), params);
  EXPECT_THAT(ErrorOf(status),
              HasSubstr("model file has tensor 'fc2.bias' that the model does not have"));
  EXPECT_TRUE(Unchanged(params, before));
}

TEST(LoadParametersTest, ShapeMismatchLeavesParametersUntouched) {
  // The mismatch is in the last parameter, after three that would load fine.
  Rng rng(3);
  const NamedTensors params = {
      {"fc1.weight", Tensor::Randn({3, 4}, rng)},
      {"fc1.bias", Tensor::Randn({4}, rng)},
      {"fc2.weight", Tensor::Randn({4, 2}, rng)},
      {"fc2.bias", Tensor::Randn({3}, rng)},
  };
  const NamedTensors before = CloneAll(params);
  const absl::Status status = LoadParameters(MakeModel(MakeParams(2)), params);
  EXPECT_THAT(ErrorOf(status),
              HasSubstr("tensor 'fc2.bias': file has shape (2), model expects (3)"));
  EXPECT_TRUE(Unchanged(params, before));

  const NamedTensors wide = {{"fc1.weight", Tensor::Zeros({784, 256})}};
  proto::ModelFile narrow = MakeModel({{"fc1.weight", Tensor::Zeros({784, 128})}});
  EXPECT_THAT(ErrorOf(LoadParameters(narrow, wide)),
              HasSubstr("tensor 'fc1.weight': file has shape (784, 128), model expects (784, "
                        "256)"));
}

TEST(LoadParametersTest, UndecodableTensorLeavesParametersUntouched) {
  const NamedTensors params = MakeParams(4);
  const NamedTensors before = CloneAll(params);
  proto::ModelFile model = MakeModel(ZerosLike(params));
  *model.mutable_tensors(3) = Int8Tensor("fc2.bias", 1, 2);
  model.mutable_tensors(3)->clear_shape();
  model.mutable_tensors(3)->add_shape(2);
  const absl::Status status = LoadParameters(model, params);
  EXPECT_THAT(ErrorOf(status), AllOf(HasSubstr("tensor 'fc2.bias'"),
                                     HasSubstr("dequantization belongs to the quantization")));
  EXPECT_TRUE(Unchanged(params, before));
}

TEST(LoadParametersTest, RejectsBadParameterLists) {
  const proto::ModelFile model = MakeModel(MakeParams(1));
  NamedTensors params = ZerosLike(MakeParams(1));
  params.push_back(params[0]);
  EXPECT_THAT(ErrorOf(LoadParameters(model, params)),
              HasSubstr("duplicate parameter name 'fc1.weight'"));
  params.pop_back();
  params[1].second = Tensor();
  EXPECT_THAT(ErrorOf(LoadParameters(model, params)),
              HasSubstr("parameter 'fc1.bias' is undefined"));
}

// --- Text format ---------------------------------------------------------------------------

TEST(ModelTextTest, SummaryShowsNamesAndShapesAndElidesData) {
  proto::ModelFile model = MakeModel(
      {{"fc1.weight", Tensor::FromVector({-0.5f, 0.25f, 1.0f, 0.0f, 0.5f, 0.75f}, {2, 3})}});
  *model.add_tensors() = Int8Tensor("fc2.weight", 2, 5);
  const std::string text = ModelToText(model);

  EXPECT_THAT(text, HasSubstr("format: \"tinytorch.model\""));
  EXPECT_THAT(text, HasSubstr("layer_sizes: [3, 4, 2]"));
  EXPECT_THAT(text, HasSubstr("name: \"fc1.weight\""));
  EXPECT_THAT(text, HasSubstr("shape: [2, 3]"));
  EXPECT_THAT(text, HasSubstr("# data: 24 bytes elided; F32 min -0.5 max 1 mean 0.3333"));
  EXPECT_THAT(text, HasSubstr("# data: 10 bytes elided; INT8 min -3 max 6"));
  EXPECT_THAT(text, HasSubstr("dataset: \"fashion-mnist\""));
  EXPECT_THAT(text, HasSubstr("key: \"optimizer\""));
  EXPECT_THAT(text, Not(HasSubstr("\ndata:")));
  EXPECT_THAT(text, Not(HasSubstr(" data: \"")));

  // Still valid text format (the summaries are comments), but without the values.
  proto::ModelFile parsed;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &parsed));
  EXPECT_EQ(parsed.tensors(0).name(), "fc1.weight");
  EXPECT_TRUE(parsed.tensors(0).data().empty());
  absl::StatusOr<proto::ModelFile> back = ModelFromText(text);
  EXPECT_THAT(ErrorOf(back.status()),
              AllOf(HasSubstr("model text: tensor 'fc1.weight': data has 0 bytes"),
                    HasSubstr("elided tensor data")));
}

TEST(ModelTextTest, SummaryOfInt4AndInvalidTensors) {
  proto::ModelFile model = MakeModel({});
  proto::TensorProto int4;
  int4.set_name("q4");
  int4.set_dtype(proto::INT4);
  int4.add_shape(3);
  int4.mutable_quant()->add_scale(0.5f);
  int4.set_data(std::string("\x9f\x05", 2));  // -1, -7, 5 (and a padding nibble 0)
  *model.add_tensors() = int4;
  proto::TensorProto broken = TensorToProto("broken", Tensor::Zeros({2}));
  broken.mutable_data()->pop_back();
  *model.add_tensors() = broken;
  const std::string text = ModelToText(model);
  EXPECT_THAT(text, HasSubstr("# data: 2 bytes elided; INT4 min -7 max 5"));
  EXPECT_THAT(text, HasSubstr("# data: 7 bytes elided; INVALID: tensor 'broken': data has 7"));
}

TEST(ModelTextTest, SummaryCountsNonFiniteValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const proto::ModelFile model = MakeModel({{"w", Tensor::FromVector({1.0f, inf, 3.0f}, {3})}});
  EXPECT_THAT(ModelToText(model), HasSubstr("F32 min 1 max 3 mean 2 nonfinite 1"));
}

TEST(ModelTextTest, FullTextRoundTripIsExact) {
  std::vector<float> values;
  for (uint32_t b : {0x80000000u, 0x00000001u, 0x7fc01234u, 0xff800000u, 0x3eaaaaabu, 0x0au}) {
    values.push_back(FromBits(b));
  }
  proto::ModelFile model = MakeModel({{"special", Tensor::FromVector(values, {2, 3})},
                                      {"scalar", Tensor::Scalar(0.1f)},
                                      {"empty", Tensor::Zeros({0, 4})}});
  proto::TensorProto q = Int8Tensor("q", 3, 2);
  q.mutable_quant()->set_scheme(proto::PER_CHANNEL);
  q.mutable_quant()->clear_scale();
  for (float s : {0.1f, 1.0f / 3.0f, 7e-9f}) q.mutable_quant()->add_scale(s);
  *model.add_tensors() = q;
  *model.add_tensors() = CsrTensor();
  model.mutable_metadata()->set_accuracy(0.1 + 0.2);

  TextOptions options;
  options.tensor_data = TensorData::kFull;
  const std::string text = ModelToText(model, options);
  EXPECT_THAT(text, HasSubstr("data: \""));
  absl::StatusOr<proto::ModelFile> back = ModelFromText(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*back, model));
  EXPECT_EQ(back->tensors(0).data(), model.tensors(0).data());
}

TEST(ModelTextTest, SyntaxErrorsGiveTheLine) {
  absl::StatusOr<proto::ModelFile> back =
      ModelFromText("format: \"tinytorch.model\"\nversion: 1\nbogus_field: 3\n");
  EXPECT_THAT(ErrorOf(back.status()),
              AllOf(HasSubstr("model text: line 3"), HasSubstr("bogus_field")));
}

}  // namespace
}  // namespace tt::tensor
