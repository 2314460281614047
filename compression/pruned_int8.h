// Pruning and int8 together: a statically quantized classifier whose int8 weights are
// mostly zero, stored in the model file with the CSR encoding, so that the file is
// smaller than either technique alone makes it.
//
//   // A pruned (e.g. 90%, fine-tuned) float MLP -> int8 (quantization module):
//   TT_ASSIGN_OR_RETURN(auto q, tt::quant::QuantizeClassifier(mlp, arch, calibration));
//   TT_ASSIGN_OR_RETURN(PrunedInt8FileStats stats,
//                       SavePrunedInt8Classifier("mlp_p90_int8.ttm", *q, meta));
//   // stats.file_bytes: about 15x smaller than the f32 file at 90% sparsity
//   TT_ASSIGN_OR_RETURN(auto loaded, LoadPrunedInt8Classifier("mlp_p90_int8.ttm"));
//   Tensor logits = loaded.model->Forward(images);   // bit-identical to q->Forward
//
// Why the sizes multiply. Symmetric int8 maps 0.0f to the integer 0 exactly, so every
// pruned weight stays an exact zero after quantization (and a few tiny survivors round
// to 0 as well). In CSR a stored weight costs its int8 value (1 byte) plus its column
// index, a protobuf varint (1 byte below 128, 2 below 16384): 2-3 bytes per nonzero, against
// 4 bytes per weight, zero or not, in the f32 file. At sparsity s the weight bytes shrink
// by about 4 / (2.5 (1 - s)): 16x at 90%, 3.2x at 50% (int8 alone: 4x). Below about 60%
// sparsity CSR's indices cost more than dense int8 saves, hence the per-tensor choice
// (WeightStorage::kSmaller).
//
// The file (tensor/model.proto) is the quantization module's static int8 format
// (quantization/quantized_model.h): same architecture, tensor names, activation_quant
// entries ("input", "<layer>.output", int8 zero points = uint8 - 128) and float biases.
// The only difference is the weight tensors, each either
//   - dense: dtype INT8, the float layout's shape, every element; or
//   - CSR:   dtype INT8, a 2-D shape, sparse {format CSR, row_ptr, col_idx, nnz}, and
//            `data` holding only the nnz int8 values, row by row.
// Quantization parameters are the same in both: PER_CHANNEL symmetric scales (no zero
// points) over the output channel, axis 1 of a Linear weight (in, out) and axis 0 of a
// conv weight, or PER_TENSOR when the model was quantized with one scale.
//
// Conv weights (OC, C, K, K). CSR is defined on matrices only, so a sparse conv weight
// is stored as its (OC, C*K*K) view: the same elements in the same row-major order, one
// row per filter, so the per-channel scales stay on axis 0. The loader restores
// (OC, C, K, K) from the architecture. (In the reference CNN the convolutions hold 2% of
// the weights; the fully connected layers are what CSR shrinks.)
//
// Loading expands every CSR weight into a dense int8 buffer (zeros where nothing is
// stored) and builds the quantized network with quant::QuantizedClassifier::Build, so it
// runs the ordinary dense int8 kernels: the file is small, the model in memory is not,
// and the outputs are bit-identical to the model that was saved. (Running sparse int8
// kernels on it would be the next step; see the module README's exercises.)
#ifndef TT_COMPRESSION_PRUNED_INT8_H_
#define TT_COMPRESSION_PRUNED_INT8_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantization/quantized_model.h"
#include "tensor/model.pb.h"

namespace tt::compress {

// How each weight tensor is written.
enum class WeightStorage {
  kSmaller,  // CSR when its serialized tensor is smaller than the dense one, else dense
  kCsr,      // always CSR
  kDense,    // never CSR: quant::LoadQuantizedClassifier reads the file too
};

struct PrunedInt8Options {
  WeightStorage storage = WeightStorage::kSmaller;
};

// What a save wrote, for reports.
struct PrunedInt8FileStats {
  int64_t file_bytes = 0;       // serialized ModelFile (the file on disk for Save)
  int64_t weights = 0;          // int8 weights of all weighted layers
  int64_t nonzero_weights = 0;  // of them nonzero (the CSR nnz where stored CSR)
  int csr_tensors = 0, dense_tensors = 0;

  double WeightSparsity() const {
    return weights == 0 ? 0.0 : 1.0 - static_cast<double>(nonzero_weights) / weights;
  }
};

// The ModelFile of `model` with its weights stored as `options` says. Its metadata is
// `metadata` plus the notes "quantization" (as the quantization module writes it) and
// "sparse_weights". Also fills *stats (file_bytes = the serialized size) when not null.
// Errors: a model without layers; a weight too large for int32 CSR indices.
absl::StatusOr<tensor::proto::ModelFile> PrunedInt8ModelFile(
    const quant::QuantizedClassifier& model, const tensor::proto::Metadata& metadata,
    const PrunedInt8Options& options = {}, PrunedInt8FileStats* stats = nullptr);

// The quantized classifier stored in `file`, which is validated first
// (tensor::ValidateModelFile). Accepts dense and CSR weights in any mix (so also every
// file quant::SaveQuantizedClassifier writes). Errors (InvalidArgument, naming the
// tensor): an invalid file (bad CSR: row_ptr, col_idx, nnz or data size inconsistent,
// columns out of range or not increasing), no activation parameters (not a statically
// quantized model), a missing or extra tensor, a weight that is not INT8, a shape that
// is not the architecture's (dense) or its 2-D view (CSR), quantization parameters that
// are not symmetric per channel over the output axis (or per tensor), a bias of the
// wrong size; and whatever QuantizedClassifier::Build rejects.
absl::StatusOr<quant::LoadedQuantizedClassifier> PrunedInt8FromModelFile(
    const tensor::proto::ModelFile& file);

// Writes PrunedInt8ModelFile(...) to `path` atomically (tensor::SaveModel); returns the
// stats, file_bytes being the file's size. Errors name the path.
absl::StatusOr<PrunedInt8FileStats> SavePrunedInt8Classifier(
    const std::string& path, const quant::QuantizedClassifier& model,
    const tensor::proto::Metadata& metadata, const PrunedInt8Options& options = {});

// tensor::LoadModel(path) (NotFound, DataLoss, InvalidArgument for an invalid file),
// then PrunedInt8FromModelFile. Errors start with the path.
absl::StatusOr<quant::LoadedQuantizedClassifier> LoadPrunedInt8Classifier(const std::string& path);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_PRUNED_INT8_H_
