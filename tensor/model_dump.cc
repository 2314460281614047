// model_dump: prints a TinyTorch model file (.ttm) in protobuf text format.
//
//   bazel run //tensor:model_dump -- /path/to/model.ttm          # data summarized
//   bazel run //tensor:model_dump -- /path/to/model.ttm --full   # every byte
//
// The file is loaded and validated like any model (tensor/model_file.h): a missing,
// corrupt or foreign file prints the reason to stderr and exits with status 1.
// `bazel run` starts in the runfiles tree, so give an absolute path (or one relative to
// $BUILD_WORKING_DIRECTORY, which is used for relative paths when set).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tensor/model_file.h"

ABSL_FLAG(bool, full, false,
          "print every tensor's data bytes (text that ModelFromText reads back) instead of "
          "a min/max/mean summary");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "prints a TinyTorch model file in text format.\n"
      "usage: model_dump path/to/model.ttm [--full]");
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: model_dump path/to/model.ttm [--full]\n");
    return 1;
  }
  std::string path = args[1];
  // Under `bazel run`, relative paths mean the directory the user ran bazel from.
  const char* working_dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (!path.empty() && path[0] != '/' && working_dir != nullptr) {
    path = absl::StrCat(working_dir, "/", path);
  }

  absl::StatusOr<tt::tensor::proto::ModelFile> model = tt::tensor::LoadModel(path);
  if (!model.ok()) {
    std::fprintf(stderr, "model_dump: %s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  tt::tensor::TextOptions options;
  options.tensor_data =
      absl::GetFlag(FLAGS_full) ? tt::tensor::TensorData::kFull : tt::tensor::TensorData::kSummary;
  const std::string text = tt::tensor::ModelToText(*model, options);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
