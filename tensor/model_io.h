// Reference models <-> model files: build a model from a file's architecture and load
// its parameters, or save a trained model with its architecture and metadata.
//
//   MlpConfig config;
//   auto model = MakeMlp(config, seed);
//   ... train ...
//   TT_RETURN_IF_ERROR(SaveClassifier("mlp.ttm", ToArchitecture(config), *model, meta));
//   TT_ASSIGN_OR_RETURN(LoadedClassifier loaded, LoadClassifier("mlp.ttm"));
//   Tensor logits = loaded.model->Forward(images);
//
// Loading checks the file (model_file.h), builds the architecture it names, and loads
// every tensor by name with its shape checked: a file whose tensors disagree with its
// architecture is an error naming the tensor, never a crash.
#ifndef TT_TENSOR_MODEL_IO_H_
#define TT_TENSOR_MODEL_IO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tensor/model.pb.h"
#include "tensor/models.h"

namespace tt::tensor {

proto::Architecture ToArchitecture(const MlpConfig& config);
proto::Architecture ToArchitecture(const CnnConfig& config);
proto::Architecture ToArchitecture(const GptConfig& config);

// Builds a freshly initialized MLP or CNN for `arch`; an error for GPT or bad sizes.
absl::StatusOr<std::unique_ptr<Sequential>> BuildClassifier(const proto::Architecture& arch,
                                                             uint64_t seed);

absl::Status SaveClassifier(const std::string& path, const proto::Architecture& arch,
                            const Sequential& model, const proto::Metadata& metadata);
absl::Status SaveGpt(const std::string& path, const Gpt& model,
                     const proto::Metadata& metadata);

struct LoadedClassifier {
  std::unique_ptr<Sequential> model;
  proto::Architecture architecture;
  proto::Metadata metadata;
};
absl::StatusOr<LoadedClassifier> LoadClassifier(const std::string& path);

struct LoadedGpt {
  std::unique_ptr<Gpt> model;
  proto::Metadata metadata;
};
absl::StatusOr<LoadedGpt> LoadGpt(const std::string& path);

}  // namespace tt::tensor

#endif  // TT_TENSOR_MODEL_IO_H_
