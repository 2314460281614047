#include "compression/pruned_int8.h"

#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"
#include "tensor/model_file.h"
#include "tensor/model_io.h"
#include "tensor/nn.h"

namespace tt::compress {
namespace {

using quant::QParams;
using quant::QuantizedLayer;
using tensor::proto::ModelFile;
using tensor::proto::TensorProto;

bool IsWeighted(const QuantizedLayer& q) { return q.kind != QuantizedLayer::Kind::kMaxPool; }
bool IsConv(const QuantizedLayer& q) { return q.kind == QuantizedLayer::Kind::kConv; }

// The 2-D matrix a weight is stored as when CSR: a Linear's (in, out) itself, a conv's
// (OC, C*K*K) view of its (OC, C, K, K) elements.
std::pair<int64_t, int64_t> MatrixShape(const QuantizedLayer& q) {
  if (IsConv(q)) return {q.out_features, q.in_features};
  return {q.in_features, q.out_features};
}
// The output channel axis of that matrix (and of the dense shape).
int OutputAxis(const QuantizedLayer& q) { return IsConv(q) ? 0 : 1; }

// The activation parameters as the quantization module stores them: the model runs on
// uint8 activations, the file holds int8 zero points (uint8 = int8 + 128).
tensor::proto::QuantParams ActivationToProto(const QParams& p) {
  tensor::proto::QuantParams q;
  q.add_scale(p.scale);
  q.add_zero_point(p.zero_point - 128);
  return q;
}

absl::StatusOr<QParams> ActivationFromProto(const ModelFile& file, const std::string& key) {
  auto it = file.activation_quant().find(key);
  if (it == file.activation_quant().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model file has no activation_quant entry '", key, "'"));
  }
  QParams p;
  p.scale = it->second.scale(0);  // ValidateModelFile: exactly one finite scale > 0
  p.zero_point = (it->second.zero_point_size() > 0 ? it->second.zero_point(0) : 0) + 128;
  return p;
}

void SetWeightQuant(const QuantizedLayer& q, TensorProto* t) {
  tensor::proto::QuantParams* qp = t->mutable_quant();
  for (float s : q.weight_scale) qp->add_scale(s);
  if (q.weight_scale.size() > 1) {
    qp->set_scheme(tensor::proto::PER_CHANNEL);
    qp->set_axis(OutputAxis(q));
  }
}

TensorProto DenseWeight(const QuantizedLayer& q) {
  TensorProto t;
  t.set_name(q.name + ".weight");
  t.set_dtype(tensor::proto::INT8);
  for (int64_t d : q.weight_shape) t.add_shape(d);
  t.set_data(reinterpret_cast<const char*>(q.weight.data()), q.weight.size());
  SetWeightQuant(q, &t);
  return t;
}

// The CSR form of q.weight viewed as MatrixShape(q): row r's nonzeros, columns
// increasing, their int8 values in `data` in the same order.
absl::StatusOr<TensorProto> CsrWeight(const QuantizedLayer& q, int64_t* nnz_out) {
  const auto [rows, cols] = MatrixShape(q);
  TT_CHECK(rows * cols == static_cast<int64_t>(q.weight.size()), "CsrWeight: layer ", q.name,
           " has ", q.weight.size(), " weights, expected ", rows, " x ", cols);
  if (cols > std::numeric_limits<int32_t>::max() ||
      rows * cols > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", q.name, ".weight': ", rows, " x ",
                                                   cols, " is too large for int32 CSR indices"));
  }
  TensorProto t;
  t.set_name(q.name + ".weight");
  t.set_dtype(tensor::proto::INT8);
  t.add_shape(rows);
  t.add_shape(cols);
  tensor::proto::SparseEncoding* sparse = t.mutable_sparse();
  sparse->set_format(tensor::proto::CSR);
  std::string values;
  sparse->add_row_ptr(0);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = q.weight.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      if (row[c] == 0) continue;
      sparse->add_col_idx(static_cast<int32_t>(c));
      values.push_back(static_cast<char>(row[c]));
    }
    sparse->add_row_ptr(static_cast<int32_t>(values.size()));
  }
  sparse->set_nnz(static_cast<int64_t>(values.size()));
  *nnz_out = static_cast<int64_t>(values.size());
  t.set_data(std::move(values));
  SetWeightQuant(q, &t);
  return t;
}

// The layers of the quantized network for `architecture`, with everything but the
// numbers (weights, scales, bias, activation parameters) filled in: built from the float
// model of that architecture, ReLUs fused into the layer before them, Flatten and
// Dropout dropped. This mirrors how quant::QuantizeClassifier reads a float model.
absl::StatusOr<std::vector<QuantizedLayer>> LayerSkeleton(
    const tensor::proto::Architecture& architecture) {
  TT_ASSIGN_OR_RETURN(std::unique_ptr<tensor::Sequential> model,
                      tensor::BuildClassifier(architecture, 0));
  std::vector<QuantizedLayer> layers;
  for (size_t i = 0; i < model->size(); ++i) {
    tensor::Layer* layer = &(*model)[i];
    QuantizedLayer q;
    q.name = std::to_string(i);
    if (auto* linear = dynamic_cast<tensor::Linear*>(layer)) {
      q.kind = QuantizedLayer::Kind::kLinear;
      q.in_features = linear->in_features();
      q.out_features = linear->out_features();
      q.weight_shape = {q.in_features, q.out_features};
    } else if (auto* conv = dynamic_cast<tensor::Conv2dLayer*>(layer)) {
      q.kind = QuantizedLayer::Kind::kConv;
      q.conv.in_channels = conv->in_channels();
      q.conv.out_channels = conv->out_channels();
      q.conv.kernel = conv->kernel_size();
      q.conv.stride = conv->options().stride;
      q.conv.padding = conv->options().padding;
      q.in_features = q.conv.patch();
      q.out_features = q.conv.out_channels;
      q.weight_shape = {q.conv.out_channels, q.conv.in_channels, q.conv.kernel, q.conv.kernel};
    } else if (auto* pool = dynamic_cast<tensor::MaxPool2dLayer*>(layer)) {
      q.kind = QuantizedLayer::Kind::kMaxPool;
      q.pool_kernel = pool->kernel();
      q.pool_stride = pool->stride();
      layers.push_back(std::move(q));
      continue;
    } else if (dynamic_cast<tensor::FlattenLayer*>(layer) != nullptr ||
               dynamic_cast<tensor::DropoutLayer*>(layer) != nullptr) {
      continue;
    } else {
      return absl::UnimplementedError(
          absl::StrCat("layer ", i, " (", layer->Describe(), ") has no quantized version"));
    }
    if (i + 1 < model->size() && dynamic_cast<tensor::ReLU*>(&(*model)[i + 1]) != nullptr) {
      q.relu = true;
      ++i;
    }
    layers.push_back(std::move(q));
  }
  return layers;
}

// Reads the weight tensor `t` of layer `q` (dense or CSR) into q->weight and its scales
// into q->weight_scale. Errors name the tensor.
absl::Status ReadWeight(const TensorProto& t, QuantizedLayer* q) {
  auto error = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "': ", parts...));
  };
  const std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() != tensor::proto::INT8) {
    return error("dtype is ", tensor::proto::DType_Name(t.dtype()),
                 ", expected INT8 (not a statically quantized model?)");
  }
  const auto [rows, cols] = MatrixShape(*q);
  const bool csr = t.sparse().format() == tensor::proto::CSR;
  if (csr) {
    if (shape != std::vector<int64_t>{rows, cols}) {
      return error("CSR shape ", tensor::ShapeToString(shape), " is not the ",
                   IsConv(*q) ? "(OC, C*K*K) view " : "", "(", rows, ", ", cols,
                   ") the architecture expects");
    }
  } else if (shape != q->weight_shape) {
    return error("shape ", tensor::ShapeToString(shape), ", the architecture expects ",
                 tensor::ShapeToString(q->weight_shape));
  }
  // Scales: symmetric, one per output channel on the output axis, or one in all.
  const tensor::proto::QuantParams& qp = t.quant();
  const bool per_channel = qp.scheme() == tensor::proto::PER_CHANNEL;
  if (!(qp.scheme() == tensor::proto::PER_TENSOR || (per_channel && qp.axis() == OutputAxis(*q)))) {
    return error("weights must be PER_TENSOR or PER_CHANNEL over axis ", OutputAxis(*q));
  }
  for (int32_t z : qp.zero_point()) {
    if (z != 0) return error("weights must be symmetric (zero point 0), got ", z);
  }
  q->weight_scale.assign(qp.scale().begin(), qp.scale().end());

  // Values. ValidateModelFile has checked the CSR structure and the data size, so
  // every index below is in range.
  const std::string& data = t.data();
  if (!csr) {
    q->weight.resize(data.size());
    std::memcpy(q->weight.data(), data.data(), data.size());
    return absl::OkStatus();
  }
  q->weight.assign(rows * cols, 0);
  const tensor::proto::SparseEncoding& sparse = t.sparse();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = sparse.row_ptr(r); k < sparse.row_ptr(r + 1); ++k) {
      q->weight[r * cols + sparse.col_idx(k)] = static_cast<int8_t>(data[k]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelFile> PrunedInt8ModelFile(const quant::QuantizedClassifier& model,
                                              const tensor::proto::Metadata& metadata,
                                              const PrunedInt8Options& options,
                                              PrunedInt8FileStats* stats) {
  const std::vector<QuantizedLayer>& layers = model.layers();
  if (layers.empty()) return absl::InvalidArgumentError("the quantized model has no layers");
  PrunedInt8FileStats s;
  ModelFile file;
  file.set_format(tensor::kModelFormatName);
  file.set_version(tensor::kModelFormatVersion);
  *file.mutable_architecture() = model.architecture();
  *file.mutable_metadata() = metadata;
  auto& notes = *file.mutable_metadata()->mutable_notes();
  notes["quantization"] =
      "static int8: symmetric int8 weights (per channel unless one scale), uint8 activations "
      "stored with int8 zero points (uint8 = int8 + 128), int32 accumulation";
  (*file.mutable_activation_quant())["input"] = ActivationToProto(layers.front().input);
  for (const QuantizedLayer& q : layers) {
    if (!IsWeighted(q)) continue;
    TensorProto dense = DenseWeight(q);
    int64_t nnz = 0;
    TT_ASSIGN_OR_RETURN(TensorProto csr, CsrWeight(q, &nnz));
    const bool use_csr =
        options.storage == WeightStorage::kCsr ||
        (options.storage == WeightStorage::kSmaller && csr.ByteSizeLong() < dense.ByteSizeLong());
    *file.add_tensors() = use_csr ? std::move(csr) : std::move(dense);
    ++(use_csr ? s.csr_tensors : s.dense_tensors);
    s.weights += static_cast<int64_t>(q.weight.size());
    s.nonzero_weights += nnz;
    *file.add_tensors() = tensor::TensorToProto(
        q.name + ".bias",
        tensor::Tensor::FromVector(q.bias, {static_cast<int64_t>(q.bias.size())}));
    if (!q.last)
      (*file.mutable_activation_quant())[q.name + ".output"] = ActivationToProto(q.output);
  }
  notes["sparse_weights"] = absl::StrCat(
      s.csr_tensors, " weight tensors CSR (int8 nonzeros only; conv weights as (OC, C*K*K)), ",
      s.dense_tensors, " dense; ", s.nonzero_weights, " of ", s.weights, " int8 weights nonzero");
  s.file_bytes = static_cast<int64_t>(file.ByteSizeLong());
  if (stats != nullptr) *stats = s;
  return file;
}

absl::StatusOr<quant::LoadedQuantizedClassifier> PrunedInt8FromModelFile(const ModelFile& file) {
  TT_RETURN_IF_ERROR(tensor::ValidateModelFile(file));
  if (file.activation_quant().empty()) {
    return absl::InvalidArgumentError(
        "not INT8: the file has no activation quantization parameters, so it is not a "
        "statically quantized model (a float model loads with tensor::LoadClassifier)");
  }
  TT_ASSIGN_OR_RETURN(std::vector<QuantizedLayer> layers, LayerSkeleton(file.architecture()));
  std::map<std::string, const TensorProto*> by_name;
  for (const TensorProto& t : file.tensors()) by_name[t.name()] = &t;
  auto find = [&](const std::string& name) -> absl::StatusOr<const TensorProto*> {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("model file has no tensor '", name, "'"));
    }
    return it->second;
  };

  TT_ASSIGN_OR_RETURN(QParams current, ActivationFromProto(file, "input"));
  int used_tensors = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    QuantizedLayer& q = layers[i];
    q.input = current;
    if (IsWeighted(q)) {
      TT_ASSIGN_OR_RETURN(const TensorProto* w, find(q.name + ".weight"));
      TT_RETURN_IF_ERROR(ReadWeight(*w, &q));
      TT_ASSIGN_OR_RETURN(const TensorProto* b, find(q.name + ".bias"));
      TT_ASSIGN_OR_RETURN(tensor::Tensor bias, tensor::TensorFromProto(*b));
      if (bias.dim() != 1 || bias.numel() != q.out_features) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", b->name(), "' has shape ",
                                                       tensor::ShapeToString(bias.shape()),
                                                       ", expected (", q.out_features, ")"));
      }
      q.bias.assign(bias.data(), bias.data() + bias.numel());
      used_tensors += 2;
      if (i + 1 < layers.size()) {
        TT_ASSIGN_OR_RETURN(current, ActivationFromProto(file, q.name + ".output"));
      }
    }
    q.output = current;
  }
  if (used_tensors != file.tensors_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model file has ", file.tensors_size(), " tensors, the architecture uses ", used_tensors));
  }
  TT_ASSIGN_OR_RETURN(std::unique_ptr<quant::QuantizedClassifier> built,
                      quant::QuantizedClassifier::Build(file.architecture(), std::move(layers)));
  return quant::LoadedQuantizedClassifier{std::move(built), file.metadata()};
}

absl::StatusOr<PrunedInt8FileStats> SavePrunedInt8Classifier(
    const std::string& path, const quant::QuantizedClassifier& model,
    const tensor::proto::Metadata& metadata, const PrunedInt8Options& options) {
  PrunedInt8FileStats stats;
  absl::StatusOr<ModelFile> file = PrunedInt8ModelFile(model, metadata, options, &stats);
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat("cannot save ", path, ": ", file.status().message()));
  }
  TT_RETURN_IF_ERROR(tensor::SaveModel(path, *file));
  return stats;  // file_bytes: SaveModel writes exactly the serialized message
}

absl::StatusOr<quant::LoadedQuantizedClassifier> LoadPrunedInt8Classifier(const std::string& path) {
  TT_ASSIGN_OR_RETURN(ModelFile file, tensor::LoadModel(path));
  absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = PrunedInt8FromModelFile(file);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(),
                        absl::StrCat(path, ": ", loaded.status().message()));
  }
  return loaded;
}

}  // namespace tt::compress
