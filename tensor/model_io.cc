#include "tensor/model_io.h"

#include "absl/strings/str_cat.h"
#include "tensor/check.h"
#include "tensor/model_file.h"

namespace tt::tensor {

proto::Architecture ToArchitecture(const MlpConfig& config) {
  proto::Architecture arch;
  for (int64_t s : config.layer_sizes) arch.mutable_mlp()->add_layer_sizes(s);
  return arch;
}

proto::Architecture ToArchitecture(const CnnConfig& config) {
  proto::Architecture arch;
  proto::CnnSpec* cnn = arch.mutable_cnn();
  cnn->set_in_channels(config.in_channels);
  cnn->set_height(config.height);
  cnn->set_width(config.width);
  for (int64_t c : config.conv_channels) cnn->add_conv_channels(c);
  cnn->set_kernel_size(config.kernel_size);
  cnn->set_hidden(config.hidden);
  cnn->set_num_classes(config.num_classes);
  return arch;
}

proto::Architecture ToArchitecture(const GptConfig& config) {
  proto::Architecture arch;
  proto::GptSpec* gpt = arch.mutable_gpt();
  gpt->set_vocab_size(config.vocab_size);
  gpt->set_d_model(config.d_model);
  gpt->set_num_heads(config.num_heads);
  gpt->set_num_layers(config.num_layers);
  gpt->set_context_length(config.context_length);
  return arch;
}

namespace {
// Sizes come from a file: check them before they reach a constructor's TT_CHECK.
absl::Status CheckPositive(int64_t v, const char* what) {
  if (v <= 0 || v > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("architecture: ", what, " is ", v, ", expected 1..", int64_t{1} << 24));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<Sequential>> BuildClassifier(const proto::Architecture& arch,
                                                             uint64_t seed) {
  if (arch.has_mlp()) {
    MlpConfig config;
    config.layer_sizes.assign(arch.mlp().layer_sizes().begin(), arch.mlp().layer_sizes().end());
    if (config.layer_sizes.size() < 2) {
      return absl::InvalidArgumentError("architecture: an MLP needs at least 2 layer sizes");
    }
    for (int64_t s : config.layer_sizes) TT_RETURN_IF_ERROR(CheckPositive(s, "an MLP layer size"));
    return MakeMlp(config, seed);
  }
  if (arch.has_cnn()) {
    const proto::CnnSpec& s = arch.cnn();
    CnnConfig config;
    config.in_channels = s.in_channels();
    config.height = s.height();
    config.width = s.width();
    config.conv_channels.assign(s.conv_channels().begin(), s.conv_channels().end());
    config.kernel_size = s.kernel_size();
    config.hidden = s.hidden();
    config.num_classes = s.num_classes();
    TT_RETURN_IF_ERROR(CheckPositive(config.in_channels, "in_channels"));
    TT_RETURN_IF_ERROR(CheckPositive(config.kernel_size, "kernel_size"));
    TT_RETURN_IF_ERROR(CheckPositive(config.hidden, "hidden"));
    TT_RETURN_IF_ERROR(CheckPositive(config.num_classes, "num_classes"));
    int64_t h = config.height, w = config.width;
    for (int64_t c : config.conv_channels) {
      TT_RETURN_IF_ERROR(CheckPositive(c, "a conv channel count"));
      h = (h + 2 * (config.kernel_size / 2) - config.kernel_size + 1) / 2;
      w = (w + 2 * (config.kernel_size / 2) - config.kernel_size + 1) / 2;
    }
    if (h <= 0 || w <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "architecture: a ", config.height, "x", config.width, " image is too small for ",
          config.conv_channels.size(), " conv blocks"));
    }
    return MakeCnn(config, seed);
  }
  return absl::InvalidArgumentError("architecture: not an image classifier (MLP or CNN)");
}

absl::Status SaveClassifier(const std::string& path, const proto::Architecture& arch,
                            const Sequential& model, const proto::Metadata& metadata) {
  return SaveModel(path, MakeModelFile(arch, model.NamedParameters(), metadata));
}

absl::Status SaveGpt(const std::string& path, const Gpt& model, const proto::Metadata& metadata) {
  return SaveModel(path,
                   MakeModelFile(ToArchitecture(model.config()), model.NamedParameters(), metadata));
}

absl::StatusOr<LoadedClassifier> LoadClassifier(const std::string& path) {
  TT_ASSIGN_OR_RETURN(proto::ModelFile file, LoadModel(path));
  auto built = BuildClassifier(file.architecture(), /*seed=*/0);
  if (!built.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", built.status().message()));
  }
  LoadedClassifier out;
  out.model = std::move(built).value();
  absl::Status loaded = LoadParameters(file, out.model->NamedParameters());
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", loaded.message()));
  }
  out.architecture = file.architecture();
  out.metadata = file.metadata();
  return out;
}

absl::StatusOr<LoadedGpt> LoadGpt(const std::string& path) {
  TT_ASSIGN_OR_RETURN(proto::ModelFile file, LoadModel(path));
  if (!file.architecture().has_gpt()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a GPT model file"));
  }
  const proto::GptSpec& s = file.architecture().gpt();
  for (auto [v, what] : {std::pair{s.vocab_size(), "vocab_size"}, {s.d_model(), "d_model"},
                         {s.num_heads(), "num_heads"}, {s.num_layers(), "num_layers"},
                         {s.context_length(), "context_length"}}) {
    absl::Status st = CheckPositive(v, what);
    if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.message()));
  }
  if (s.d_model() % s.num_heads() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": d_model ", s.d_model(),
                                                   " is not a multiple of num_heads ",
                                                   s.num_heads()));
  }
  GptConfig config{s.vocab_size(), s.d_model(), s.num_heads(), s.num_layers(),
                   s.context_length()};
  LoadedGpt out;
  out.model = std::make_unique<Gpt>(config, /*seed=*/0);
  absl::Status loaded = LoadParameters(file, out.model->NamedParameters());
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", loaded.message()));
  }
  out.metadata = file.metadata();
  return out;
}

}  // namespace tt::tensor
