#include "tensor/model_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "tensor/check.h"
#include "tensor/file_io.h"

namespace tt::tensor {
namespace {

// Larger element counts are rejected before any size arithmetic, so that n * 4 and
// similar products cannot overflow int64.
constexpr int64_t kMaxElements = int64_t{1} << 60;

// Marks elided data in ModelToText output; ModelFromText looks for it to explain why
// such text does not load.
constexpr absl::string_view kElidedMarker = "bytes elided";

// --- Errors --------------------------------------------------------------------------

template <typename... Args>
absl::Status TensorError(const proto::TensorProto& tensor, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(), "': ", args...));
}

// `status` with "<what>: " in front of its message, keeping its code.
absl::Status Prefixed(absl::string_view what, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

std::string FileWhat(const std::string& path) { return absl::StrCat("model file '", path, "'"); }

std::string DTypeName(int dtype) {
  if (proto::DType_IsValid(dtype)) return proto::DType_Name(static_cast<proto::DType>(dtype));
  return absl::StrCat(dtype);
}

std::string ProtoShapeToString(const proto::TensorProto& tensor) {
  return ShapeToString(Shape(tensor.shape().begin(), tensor.shape().end()));
}

// Bytes that hold `n` values of `dtype` (a valid, known dtype; n <= kMaxElements).
int64_t DataBytes(proto::DType dtype, int64_t n) {
  switch (dtype) {
    case proto::F32:
      return 4 * n;
    case proto::INT8:
      return n;
    case proto::INT4:
      return (n + 1) / 2;
    default:
      return -1;
  }
}

// --- Little-endian float32 coding ------------------------------------------------------
// Shifts on the bit pattern, so the byte order is the file's, not the host's. GCC and
// Clang merge these into single 32-bit loads/stores on little-endian hosts.

void EncodeF32(const float* values, int64_t n, char* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof(bits));
    unsigned char* b = reinterpret_cast<unsigned char*>(out + 4 * i);
    b[0] = static_cast<unsigned char>(bits);
    b[1] = static_cast<unsigned char>(bits >> 8);
    b[2] = static_cast<unsigned char>(bits >> 16);
    b[3] = static_cast<unsigned char>(bits >> 24);
  }
}

float DecodeF32At(const char* data, int64_t i) {
  const unsigned char* b = reinterpret_cast<const unsigned char*>(data + 4 * i);
  const uint32_t bits =
      uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

void DecodeF32(const char* data, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = DecodeF32At(data, i);
}

// The i-th signed 4-bit value of INT4 data: low nibble first, sign-extended.
int DecodeInt4At(const char* data, int64_t i) {
  const unsigned char byte = static_cast<unsigned char>(data[i / 2]);
  const int nibble = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
  return nibble >= 8 ? nibble - 16 : nibble;
}

// --- Validation ------------------------------------------------------------------------

absl::Status ValidateQuant(const proto::TensorProto& tensor, int64_t num_elements) {
  const proto::QuantParams& quant = tensor.quant();
  int64_t expected_scales = 0;
  std::string why;
  switch (quant.scheme()) {
    case proto::PER_TENSOR:
      expected_scales = 1;
      why = "PER_TENSOR";
      break;
    case proto::PER_CHANNEL: {
      const int rank = tensor.shape_size();
      if (quant.axis() < 0 || quant.axis() >= rank) {
        return TensorError(tensor, "quant: PER_CHANNEL axis ", quant.axis(),
                           " is out of range for shape ", ProtoShapeToString(tensor));
      }
      expected_scales = tensor.shape(quant.axis());
      why = absl::StrCat("PER_CHANNEL over axis ", quant.axis(), " of shape ",
                         ProtoShapeToString(tensor));
      break;
    }
    case proto::PER_BLOCK:
      if (quant.block_size() <= 0) {
        return TensorError(tensor, "quant: PER_BLOCK block_size ", quant.block_size(),
                           " must be > 0");
      }
      expected_scales = (num_elements + quant.block_size() - 1) / quant.block_size();
      why =
          absl::StrCat("PER_BLOCK, ", num_elements, " elements in blocks of ", quant.block_size());
      break;
    default:
      return TensorError(tensor, "quant: unknown scheme ", static_cast<int>(quant.scheme()));
  }
  if (quant.scale_size() != expected_scales) {
    return TensorError(tensor, "quant: ", quant.scale_size(), " scales, expected ", expected_scales,
                       " (", why, ")");
  }
  for (int i = 0; i < quant.scale_size(); ++i) {
    const float scale = quant.scale(i);
    if (!std::isfinite(scale) || !(scale > 0.0f)) {
      return TensorError(tensor, "quant: scale[", i, "] = ", scale,
                         " is not a finite positive number");
    }
  }
  if (quant.zero_point_size() != 0 && quant.zero_point_size() != quant.scale_size()) {
    return TensorError(tensor, "quant: ", quant.zero_point_size(), " zero points for ",
                       quant.scale_size(), " scales (expected as many, or none)");
  }
  int lo = std::numeric_limits<int>::min();
  int hi = std::numeric_limits<int>::max();
  if (tensor.dtype() == proto::INT8) {
    lo = -128;
    hi = 127;
  } else if (tensor.dtype() == proto::INT4) {
    lo = -8;
    hi = 7;
  }
  for (int i = 0; i < quant.zero_point_size(); ++i) {
    const int zp = quant.zero_point(i);
    if (zp < lo || zp > hi) {
      return TensorError(tensor, "quant: zero_point[", i, "] = ", zp, " is outside the ",
                         DTypeName(tensor.dtype()), " range [", lo, ", ", hi, "]");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCsr(const proto::TensorProto& tensor, int64_t num_elements) {
  const proto::SparseEncoding& sparse = tensor.sparse();
  if (tensor.shape_size() != 2) {
    return TensorError(tensor, "CSR needs a 2-D tensor, shape is ", ProtoShapeToString(tensor));
  }
  const int64_t rows = tensor.shape(0);
  const int64_t cols = tensor.shape(1);
  const int64_t nnz = sparse.nnz();
  if (nnz < 0 || nnz > num_elements) {
    return TensorError(tensor, "CSR nnz ", nnz, " is outside [0, ", num_elements, "] for shape ",
                       ProtoShapeToString(tensor));
  }
  if (sparse.row_ptr_size() != rows + 1) {
    return TensorError(tensor, "CSR row_ptr has ", sparse.row_ptr_size(),
                       " entries, expected rows + 1 = ", rows + 1);
  }
  if (sparse.row_ptr(0) != 0) {
    return TensorError(tensor, "CSR row_ptr[0] = ", sparse.row_ptr(0), ", expected 0");
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (sparse.row_ptr(r + 1) < sparse.row_ptr(r)) {
      return TensorError(tensor, "CSR row_ptr decreases at row ", r, " (", sparse.row_ptr(r),
                         " then ", sparse.row_ptr(r + 1), ")");
    }
  }
  if (sparse.row_ptr(rows) != nnz) {
    return TensorError(tensor, "CSR row_ptr[", rows, "] = ", sparse.row_ptr(rows),
                       ", expected nnz = ", nnz);
  }
  if (sparse.col_idx_size() != nnz) {
    return TensorError(tensor, "CSR col_idx has ", sparse.col_idx_size(),
                       " entries, expected nnz = ", nnz);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = sparse.row_ptr(r); k < sparse.row_ptr(r + 1); ++k) {
      const int64_t c = sparse.col_idx(k);
      if (c < 0 || c >= cols) {
        return TensorError(tensor, "CSR col_idx[", k, "] = ", c, " (row ", r, ") is outside [0, ",
                           cols, ")");
      }
      if (k > sparse.row_ptr(r) && c <= sparse.col_idx(k - 1)) {
        return TensorError(tensor, "CSR columns of row ", r,
                           " are not strictly increasing at col_idx[", k, "]");
      }
    }
  }
  const int64_t expected_bytes = DataBytes(tensor.dtype(), nnz);
  if (static_cast<int64_t>(tensor.data().size()) != expected_bytes) {
    return TensorError(tensor, "data has ", tensor.data().size(), " bytes, but ", nnz,
                       " CSR values of ", DTypeName(tensor.dtype()), " need ", expected_bytes);
  }
  return absl::OkStatus();
}

// --- Text summary of tensor data ---------------------------------------------------------

// "802816 bytes elided; F32 min -0.1204 max 0.1301 mean 0.0001" for ModelToText.
// INT8/INT4 tensors show their integer range, CSR ones the range of their nonzeros.
std::string DataSummary(const proto::TensorProto& tensor) {
  const std::string& data = tensor.data();
  std::string summary = absl::StrCat(data.size(), " ", kElidedMarker);
  // Only a valid tensor's bytes are decoded; an invalid one says why (ModelToText may be
  // given any ModelFile).
  const absl::Status valid = ValidateTensorProto(tensor);
  if (!valid.ok()) return absl::StrCat(summary, "; INVALID: ", valid.message());
  const int64_t count = tensor.sparse().format() == proto::CSR
                            ? tensor.sparse().nnz()
                            : NumElements(Shape(tensor.shape().begin(), tensor.shape().end()));
  if (count == 0) return summary;
  absl::StrAppend(&summary, "; ", DTypeName(tensor.dtype()));
  if (tensor.sparse().format() == proto::CSR) absl::StrAppend(&summary, " nonzeros");
  if (tensor.dtype() == proto::F32) {
    float lo = std::numeric_limits<float>::infinity();
    float hi = -lo;
    double sum = 0.0;
    int64_t finite = 0;
    for (int64_t i = 0; i < count; ++i) {
      const float v = DecodeF32At(data.data(), i);
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
      ++finite;
    }
    if (finite == 0) {
      absl::StrAppend(&summary, " no finite values");
    } else {
      absl::StrAppend(&summary, absl::StrFormat(" min %.4g max %.4g mean %.4g", lo, hi,
                                                sum / static_cast<double>(finite)));
    }
    if (finite < count) absl::StrAppend(&summary, " nonfinite ", count - finite);
    return summary;
  }
  int lo = std::numeric_limits<int>::max();
  int hi = std::numeric_limits<int>::min();
  for (int64_t i = 0; i < count; ++i) {
    const int v = tensor.dtype() == proto::INT8 ? static_cast<int>(static_cast<int8_t>(data[i]))
                                                : DecodeInt4At(data.data(), i);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  absl::StrAppend(&summary, " min ", lo, " max ", hi);
  return summary;
}

// Prints TensorProto.data as a comment line, `# data: <DataSummary>`. The Printer calls
// PrintFieldName with the enclosing TensorProto and then PrintBytes with the value, in
// that order, so the summary is made in the first call and printed in the second. One
// instance serves one Printer on one thread.
class ElidedDataPrinter : public google::protobuf::TextFormat::FastFieldValuePrinter {
 public:
  using FastFieldValuePrinter::PrintFieldName;

  void PrintFieldName(const google::protobuf::Message& message, int /*field_index*/,
                      int /*field_count*/, const google::protobuf::Reflection* /*reflection*/,
                      const google::protobuf::FieldDescriptor* /*field*/,
                      google::protobuf::TextFormat::BaseTextGenerator* generator) const override {
    // Registered for TensorProto.data only, so `message` is a TensorProto.
    pending_ = DataSummary(static_cast<const proto::TensorProto&>(message));
    generator->PrintLiteral("# data");
  }

  void PrintBytes(const std::string& /*value*/,
                  google::protobuf::TextFormat::BaseTextGenerator* generator) const override {
    generator->PrintString(pending_);
  }

 private:
  mutable std::string pending_;
};

// Keeps the first error of a text-format parse.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    // The parser counts lines and columns from 0.
    error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// --- File I/O ----------------------------------------------------------------------------

}  // namespace

// --- Tensors ---------------------------------------------------------------------------

proto::TensorProto TensorToProto(const std::string& name, const Tensor& tensor) {
  TT_CHECK(tensor.defined(), "TensorToProto: tensor '", name, "' is undefined");
  proto::TensorProto out;
  out.set_name(name);
  out.set_dtype(proto::F32);
  for (int64_t d : tensor.shape()) out.add_shape(d);
  const int64_t n = tensor.numel();
  std::string* data = out.mutable_data();
  data->resize(static_cast<size_t>(4 * n));
  if (n > 0) EncodeF32(tensor.data(), n, data->data());
  return out;
}

absl::Status ValidateTensorProto(const proto::TensorProto& tensor) {
  if (tensor.name().empty()) {
    return absl::InvalidArgumentError("a tensor has an empty name");
  }
  if (tensor.dtype() == proto::DTYPE_UNSPECIFIED || !proto::DType_IsValid(tensor.dtype())) {
    return TensorError(tensor, "unsupported dtype ", DTypeName(tensor.dtype()),
                       " (expected F32, INT8 or INT4)");
  }
  int64_t n = 1;
  for (int64_t d : tensor.shape()) {
    if (d < 0) {
      return TensorError(tensor, "negative dimension in shape ", ProtoShapeToString(tensor));
    }
    if (d != 0 && n > kMaxElements / d) {
      return TensorError(tensor, "shape ", ProtoShapeToString(tensor), " is too large");
    }
    n *= d;
  }

  const proto::SparseEncoding& sparse = tensor.sparse();
  switch (sparse.format()) {
    case proto::NONE: {
      if (sparse.row_ptr_size() != 0 || sparse.col_idx_size() != 0 || sparse.nnz() != 0) {
        return TensorError(tensor, "sparse row_ptr/col_idx/nnz are set but format is NONE");
      }
      const int64_t expected_bytes = DataBytes(tensor.dtype(), n);
      if (static_cast<int64_t>(tensor.data().size()) != expected_bytes) {
        return TensorError(tensor, "data has ", tensor.data().size(), " bytes, but shape ",
                           ProtoShapeToString(tensor), " of ", DTypeName(tensor.dtype()), " needs ",
                           expected_bytes);
      }
      break;
    }
    case proto::CSR:
      TT_RETURN_IF_ERROR(ValidateCsr(tensor, n));
      break;
    default:
      return TensorError(tensor, "unknown sparse format ", static_cast<int>(sparse.format()));
  }

  if (tensor.dtype() != proto::F32 && !tensor.has_quant()) {
    return TensorError(tensor, DTypeName(tensor.dtype()), " tensor has no quantization parameters");
  }
  if (tensor.has_quant()) TT_RETURN_IF_ERROR(ValidateQuant(tensor, n));
  return absl::OkStatus();
}

absl::StatusOr<Tensor> TensorFromProto(const proto::TensorProto& tensor) {
  TT_RETURN_IF_ERROR(ValidateTensorProto(tensor));
  if (tensor.dtype() != proto::F32) {
    return TensorError(tensor, "dtype is ", DTypeName(tensor.dtype()),
                       ", not F32; dequantization belongs to the quantization module, "
                       "which reads the TensorProto itself");
  }
  const Shape shape(tensor.shape().begin(), tensor.shape().end());
  const std::string& data = tensor.data();
  if (tensor.sparse().format() == proto::CSR) {
    Tensor out = Tensor::Zeros(shape);
    const proto::SparseEncoding& sparse = tensor.sparse();
    const int64_t cols = shape[1];
    float* dst = out.data();
    for (int64_t r = 0; r + 1 < sparse.row_ptr_size(); ++r) {
      for (int64_t k = sparse.row_ptr(r); k < sparse.row_ptr(r + 1); ++k) {
        dst[r * cols + sparse.col_idx(k)] = DecodeF32At(data.data(), k);
      }
    }
    return out;
  }
  Tensor out = Tensor::Empty(shape);
  if (out.numel() > 0) DecodeF32(data.data(), out.numel(), out.data());
  return out;
}

// --- Models ----------------------------------------------------------------------------

proto::ModelFile MakeModelFile(const proto::Architecture& arch, const NamedTensors& params,
                               const proto::Metadata& meta) {
  proto::ModelFile model;
  model.set_format(kModelFormatName);
  model.set_version(kModelFormatVersion);
  *model.mutable_architecture() = arch;
  for (const auto& [name, tensor] : params) *model.add_tensors() = TensorToProto(name, tensor);
  *model.mutable_metadata() = meta;
  return model;
}

absl::Status ValidateModelFile(const proto::ModelFile& model) {
  if (model.format() != kModelFormatName) {
    // A foreign protobuf can put anything here: show a short, escaped prefix.
    constexpr size_t kShown = 40;
    std::string shown = absl::CHexEscape(model.format().substr(0, kShown));
    if (model.format().size() > kShown) absl::StrAppend(&shown, "...");
    return absl::InvalidArgumentError(absl::StrCat("not a TinyTorch model: format is '", shown,
                                                   "', expected '", kModelFormatName, "'"));
  }
  if (model.version() == 0 || model.version() > kModelFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported version ", model.version(), " (this reader reads 1 to ", kModelFormatVersion,
        model.version() > kModelFormatVersion ? "; the file was written by newer code)" : ")"));
  }
  std::unordered_map<std::string, int> index_of;
  for (int i = 0; i < model.tensors_size(); ++i) {
    const proto::TensorProto& tensor = model.tensors(i);
    const auto [it, inserted] = index_of.emplace(tensor.name(), i);
    if (!inserted && !tensor.name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor name '", tensor.name(),
                                                     "' (tensors #", it->second, " and #", i, ")"));
    }
    absl::Status status = ValidateTensorProto(tensor);
    if (!status.ok() && tensor.name().empty()) {
      return Prefixed(absl::StrCat("tensor #", i), status);
    }
    TT_RETURN_IF_ERROR(status);
  }
  // Activation parameters: checked like the quant of a scalar INT8 tensor of that name.
  for (const auto& [name, quant] : model.activation_quant()) {
    proto::TensorProto probe;
    probe.set_name(name);
    probe.set_dtype(proto::INT8);
    *probe.mutable_quant() = quant;
    if (name.empty()) return absl::InvalidArgumentError("activation_quant has an empty key");
    if (quant.scheme() != proto::PER_TENSOR) {
      return absl::InvalidArgumentError(
          absl::StrCat("activation_quant '", name, "': scheme must be PER_TENSOR"));
    }
    absl::Status status = ValidateQuant(probe, 1);
    if (!status.ok()) return Prefixed("activation_quant", status);
  }
  return absl::OkStatus();
}

absl::Status SaveModel(const std::string& path, const proto::ModelFile& model) {
  TT_RETURN_IF_ERROR(
      Prefixed(absl::StrCat("cannot save ", FileWhat(path)), ValidateModelFile(model)));
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::OutOfRangeError(absl::StrCat("cannot save ", FileWhat(path), ": ", size,
                                              " bytes exceed the 2 GiB protobuf limit"));
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream string_stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&string_stream);
    // Map entries (Metadata.notes) in key order: the same model gives the same bytes.
    coded.SetSerializationDeterministic(true);
    if (!model.SerializeToCodedStream(&coded)) {
      return absl::InternalError(
          absl::StrCat("cannot save ", FileWhat(path), ": serialization failed"));
    }
  }  // `coded` trims `bytes` to the serialized size here.
  return Prefixed(FileWhat(path), WriteFileAtomically(path, bytes));
}

absl::StatusOr<proto::ModelFile> LoadModel(const std::string& path) {
  // A protobuf message cannot exceed 2 GiB.
  absl::StatusOr<std::string> bytes = ReadFileBytes(path, static_cast<size_t>(INT_MAX));
  if (!bytes.ok()) return Prefixed(FileWhat(path), bytes.status());
  if (bytes->empty()) {
    return absl::DataLossError(absl::StrCat(FileWhat(path), " is empty (0 bytes)"));
  }
  proto::ModelFile model;
  if (!model.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(FileWhat(path), " is truncated or corrupt: its ",
                                            bytes->size(),
                                            " bytes do not parse as a model protobuf"));
  }
  TT_RETURN_IF_ERROR(Prefixed(FileWhat(path), ValidateModelFile(model)));
  return model;
}

absl::Status LoadParameters(const proto::ModelFile& model, const NamedTensors& params) {
  // Phase 1: check everything and decode into temporaries.
  std::unordered_map<std::string, int> param_index;
  for (int i = 0; i < static_cast<int>(params.size()); ++i) {
    const auto& [name, tensor] = params[i];
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "' is undefined"));
    }
    if (!param_index.emplace(name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate parameter name '", name, "'"));
    }
  }
  std::unordered_map<std::string, int> file_index;
  for (int i = 0; i < model.tensors_size(); ++i) {
    if (!file_index.emplace(model.tensors(i).name(), i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model file has duplicate tensor name '", model.tensors(i).name(), "'"));
    }
  }
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : params) {
    if (file_index.count(name) == 0) missing.push_back(absl::StrCat("'", name, "'"));
  }
  if (!missing.empty()) {
    std::string message = absl::StrCat("model file has no tensor ", missing[0]);
    if (missing.size() > 1) {
      absl::StrAppend(&message, " (", missing.size(), " of ", params.size(),
                      " parameters missing: ", absl::StrJoin(missing, ", "), ")");
    }
    return absl::NotFoundError(message);
  }
  for (const proto::TensorProto& tensor : model.tensors()) {
    if (param_index.count(tensor.name()) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("model file has tensor '", tensor.name(), "' that the model does not have"));
    }
  }
  std::vector<Tensor> decoded(params.size());
  for (int i = 0; i < static_cast<int>(params.size()); ++i) {
    const auto& [name, param] = params[i];
    const proto::TensorProto& stored = model.tensors(file_index.at(name));
    const Shape file_shape(stored.shape().begin(), stored.shape().end());
    if (file_shape != param.shape()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': file has shape ",
                                                     ShapeToString(file_shape), ", model expects ",
                                                     ShapeToString(param.shape())));
    }
    TT_ASSIGN_OR_RETURN(decoded[i], TensorFromProto(stored));
  }
  // Phase 2: nothing can fail any more.
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor param = params[i].second;  // a handle: CopyFrom writes the model's storage
    param.CopyFrom(decoded[i]);
  }
  return absl::OkStatus();
}

// --- Text format -----------------------------------------------------------------------

std::string ModelToText(const proto::ModelFile& model, TextOptions options) {
  int64_t data_bytes = 0;
  for (const proto::TensorProto& tensor : model.tensors()) data_bytes += tensor.data().size();
  std::string text =
      absl::StrCat("# ", model.tensors_size(), " tensors, ", data_bytes, " data bytes",
                   options.tensor_data == TensorData::kSummary
                       ? " (data elided: TensorData::kFull or model_dump --full prints it)"
                       : "",
                   "\n");

  google::protobuf::TextFormat::Printer printer;
  printer.SetUseShortRepeatedPrimitives(true);
  if (options.tensor_data == TensorData::kSummary) {
    const google::protobuf::FieldDescriptor* data_field =
        proto::TensorProto::descriptor()->FindFieldByNumber(proto::TensorProto::kDataFieldNumber);
    // The printer takes ownership.
    printer.RegisterFieldValuePrinter(data_field, new ElidedDataPrinter());
  }
  std::string body;
  printer.PrintToString(model, &body);
  return text + body;
}

absl::StatusOr<proto::ModelFile> ModelFromText(const std::string& text) {
  proto::ModelFile model;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &model)) {
    return absl::InvalidArgumentError(absl::StrCat("model text: ", errors.error()));
  }
  absl::Status status = ValidateModelFile(model);
  if (!status.ok() && absl::StrContains(text, kElidedMarker)) {
    status =
        absl::Status(status.code(), absl::StrCat(status.message(),
                                                 " (the text has elided tensor data; write it with "
                                                 "TensorData::kFull to read it back)"));
  }
  if (!status.ok()) return Prefixed("model text", status);
  return model;
}

}  // namespace tt::tensor
