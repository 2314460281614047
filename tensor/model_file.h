// The model file (`.ttm`): saving, loading, validating and dumping trained models.
//
// A model file is one serialized proto::ModelFile (tensor/model.proto): the
// architecture, named tensors (F32, or INT8/INT4 with quantization parameters, dense or
// CSR) and metadata. This header turns float32 Tensors into TensorProtos and back,
// writes files atomically, and checks everything read from disk before it can reach a
// model: a file that is missing, cut short, corrupt, someone else's protobuf, too new,
// or inconsistent (data size vs shape, bad CSR, bad scales) is an error that names the
// file and the tensor, never a crash or a silently wrong model.
//
//   // Save.
//   NamedTensors params = {{"fc1.weight", w1}, {"fc1.bias", b1}};
//   proto::Architecture arch;
//   for (int64_t n : {784, 256, 10}) arch.mutable_mlp()->add_layer_sizes(n);
//   proto::Metadata meta;
//   meta.set_dataset("fashion-mnist");
//   TT_RETURN_IF_ERROR(SaveModel("mlp.ttm", MakeModelFile(arch, params, meta)));
//
//   // Load into a freshly built model with the same parameter names and shapes.
//   TT_ASSIGN_OR_RETURN(proto::ModelFile file, LoadModel("mlp.ttm"));
//   TT_RETURN_IF_ERROR(LoadParameters(file, params));
//
//   // Look at it: `bazel run //tensor:model_dump -- mlp.ttm [--full]`.
//   std::cout << ModelToText(file);
//
// Byte order: tensor data is little-endian on every host. Encoding and decoding go
// through uint32 bit patterns assembled with shifts, never a raw memcpy of floats, so
// the code is correct on big-endian hosts too; compilers turn the shifts into plain
// loads and stores on little-endian ones. Floats round-trip bit-exactly (-0.0,
// denormals, infinities, NaN payloads).
//
// Limits: protobuf has no end marker or checksum. A file cut exactly between two
// top-level fields still parses (as a model missing its last tensors or its metadata:
// LoadParameters then reports the missing tensors), and a flipped bit inside tensor
// values is not detected. Files must be under 2 GiB (the protobuf message limit).
#ifndef TT_TENSOR_MODEL_FILE_H_
#define TT_TENSOR_MODEL_FILE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/model.pb.h"
#include "tensor/tensor.h"

namespace tt::tensor {

// ModelFile.format of every TinyTorch model file.
inline constexpr char kModelFormatName[] = "tinytorch.model";
// The newest ModelFile.version this code writes and reads. Versions 1..this load.
inline constexpr uint32_t kModelFormatVersion = 1;

// Parameters travel as NamedTensors (tensor.h): by name, in the model's order, e.g.
// {"fc1.weight", w}. The tensors are handles: LoadParameters writes into the model's
// own storage.

// --- Tensors ---------------------------------------------------------------------

// A dense F32 TensorProto holding a copy of `tensor`'s values (little-endian).
// `tensor` must be defined (TT_CHECK). Autograd state is not stored.
proto::TensorProto TensorToProto(const std::string& name, const Tensor& tensor);

// Checks that `tensor` is self-consistent; error messages start with "tensor '<name>': "
// (ValidateModelFile names an unnamed tensor by its index). Checks:
// - a non-empty name; dtype F32, INT8 or INT4; every dim >= 0;
// - dense: `data` has n * 4 (F32), n (INT8) or ceil(n / 2) (INT4) bytes, n = elements;
// - CSR: a 2-D shape; row_ptr has rows + 1 entries, starts at 0, never decreases and
//   ends at nnz; col_idx has nnz entries in [0, cols), strictly increasing within a row;
//   `data` holds exactly nnz values. Sparse fields are empty unless the format is CSR;
// - INT8/INT4 carry quantization parameters; `quant`, when present, has a known scheme
//   and 1 (per tensor), shape[axis] (per channel, axis in [0, rank)) or
//   ceil(n / block_size) (per block) scales, each finite and > 0, and zero_point empty
//   or one per scale (within the integer range for INT8/INT4).
absl::Status ValidateTensorProto(const proto::TensorProto& tensor);

// The float32 Tensor stored in `tensor` (validated first). A CSR tensor is expanded to
// dense. INT8/INT4 tensors are an error: dequantizing them belongs to the quantization
// module, which reads their TensorProtos directly.
absl::StatusOr<Tensor> TensorFromProto(const proto::TensorProto& tensor);

// --- Models ----------------------------------------------------------------------

// A ModelFile of the current format and version holding `arch`, `params` (each via
// TensorToProto, in order) and `meta`. Parameter names should be unique (SaveModel
// and LoadModel reject duplicates).
proto::ModelFile MakeModelFile(const proto::Architecture& arch, const NamedTensors& params,
                               const proto::Metadata& meta);

// Checks a whole ModelFile, as LoadModel does after parsing: format is
// kModelFormatName, version in [1, kModelFormatVersion], tensor names unique, every
// tensor passes ValidateTensorProto.
absl::Status ValidateModelFile(const proto::ModelFile& model);

// Writes `model` to `path`: validates it (ValidateModelFile, so every saved file
// loads), serializes it deterministically (same model, same bytes), writes
// `path + ".tmp"`, flushes it to disk and renames it over `path`. A reader never sees
// a half-written file, and on any error `path` is unchanged and the .tmp file removed.
// Errors name the path.
absl::Status SaveModel(const std::string& path, const proto::ModelFile& model);

// Reads and validates the model file at `path`. Errors name the path and the problem:
// NotFound for a missing file; DataLoss for an empty, truncated or corrupt file (bytes
// that do not parse); InvalidArgument for a protobuf that is not a TinyTorch model, an
// unsupported version, duplicate tensor names or an invalid tensor (named).
absl::StatusOr<proto::ModelFile> LoadModel(const std::string& path);

// Copies every tensor of `model` into the parameter of the same name (in place, with
// Tensor::CopyFrom; handles elsewhere see the new values). Every check runs before the
// first copy, so on error no parameter has changed. Errors: a parameter the file lacks
// ("model file has no tensor 'fc1.weight'"), a file tensor the model lacks, a shape
// mismatch ("tensor 'fc1.weight': file has shape (784, 128), model expects (784,
// 256)"), a tensor that is not F32 or fails validation, duplicate or undefined
// parameters.
absl::Status LoadParameters(const proto::ModelFile& model, const NamedTensors& params);

// --- Text format -----------------------------------------------------------------

// What ModelToText prints for each tensor's `data` bytes.
enum class TensorData {
  // A comment line instead of the bytes, e.g.
  // `# data: 802816 bytes elided: F32 min -0.1204 max 0.1301 mean 0.0001`.
  kSummary,
  // Every byte (escaped), so that ModelFromText reads the model back exactly.
  kFull,
};

struct TextOptions {
  TensorData tensor_data = TensorData::kSummary;
};

// `model` in protobuf text format, for people: a first comment line with the tensor
// count and sizes, repeated numbers on one line (`shape: [784, 256]`) and, by default,
// tensor data replaced by a summary comment. The text is valid text format either way;
// only kFull text holds the values needed to read a model back.
std::string ModelToText(const proto::ModelFile& model, TextOptions options = {});

// Parses text format (as written by ModelToText with TensorData::kFull) and validates
// the result like LoadModel. Errors give the line and column of a syntax error, or the
// validation failure.
absl::StatusOr<proto::ModelFile> ModelFromText(const std::string& text);

}  // namespace tt::tensor

#endif  // TT_TENSOR_MODEL_FILE_H_
