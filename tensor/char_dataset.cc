#include "tensor/char_dataset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tensor/check.h"
#include "tensor/idx_reader.h"

namespace tt::tensor {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// Appends the bytes of `path` to *out.
absl::Status AppendFile(const std::string& path, std::string* out) {
  TT_RETURN_IF_ERROR(CheckRegularFile(path));
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    out->append(buffer, n);
  }
  if (std::ferror(file.get())) {
    return absl::DataLossError(absl::StrCat(path, ": read error: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The sorted distinct bytes of `text`.
std::string DistinctBytes(absl::string_view text) {
  std::array<bool, 256> seen{};
  for (char c : text) seen[static_cast<unsigned char>(c)] = true;
  std::string bytes;
  for (int b = 0; b < 256; ++b) {
    if (seen[b]) bytes.push_back(static_cast<char>(b));
  }
  return bytes;
}

}  // namespace

CharDataset::CharDataset(std::string text, std::string vocabulary)
    : text_(std::move(text)), vocabulary_(std::move(vocabulary)) {
  char_to_id_.fill(-1);
  for (size_t id = 0; id < vocabulary_.size(); ++id) {
    char_to_id_[static_cast<unsigned char>(vocabulary_[id])] = static_cast<int16_t>(id);
  }
  ids_.resize(text_.size());
  for (size_t i = 0; i < text_.size(); ++i) {
    ids_[i] = char_to_id_[static_cast<unsigned char>(text_[i])];
  }
}

absl::StatusOr<CharDataset> CharDataset::FromText(std::string text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("CharDataset: the text is empty");
  }
  std::string vocabulary = DistinctBytes(text);
  return CharDataset(std::move(text), std::move(vocabulary));
}

absl::StatusOr<CharDataset> CharDataset::FromFiles(const std::vector<std::string>& paths) {
  if (paths.empty()) {
    return absl::InvalidArgumentError("CharDataset::FromFiles: no files given");
  }
  std::string text;
  for (const std::string& path : paths) TT_RETURN_IF_ERROR(AppendFile(path, &text));
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("CharDataset::FromFiles: the ", paths.size(),
                                                   " file(s) starting with ", paths.front(),
                                                   " are all empty"));
  }
  return FromText(std::move(text));
}

absl::StatusOr<CharDataset> CharDataset::LoadFortunes(const std::string& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  }
  std::vector<std::string> names;
  // The error_code overloads: a folder that vanishes mid-listing is an error, not a throw.
  std::filesystem::directory_iterator it(dir, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (absl::EndsWith(name, ".dat") || absl::EndsWith(name, ".u8")) continue;
    std::error_code status_error;
    // Follows symlinks: Bazel's runfiles are links to the real files.
    if (!std::filesystem::is_regular_file(it->path(), status_error)) continue;
    names.push_back(name);
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat(dir, ": cannot list: ", error.message()));
  }
  if (names.empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no fortune files (regular files not ending in .dat or .u8)"));
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const std::string& name : names) paths.push_back(absl::StrCat(dir, "/", name));
  return FromFiles(paths);
}

absl::StatusOr<std::vector<int32_t>> CharDataset::Encode(absl::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const int16_t id = char_to_id_[static_cast<unsigned char>(text[i])];
    if (id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CharDataset::Encode: character '", absl::CHexEscape(text.substr(i, 1)), "' at position ",
          i, " is not in the vocabulary of ", vocab_size(), " characters"));
    }
    ids[i] = id;
  }
  return ids;
}

std::string CharDataset::Decode(const std::vector<int32_t>& ids) const {
  std::string text(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    TT_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "CharDataset::Decode: id ", ids[i],
             " at position ", i, " is outside the vocabulary 0..", vocab_size() - 1);
    text[i] = vocabulary_[ids[i]];
  }
  return text;
}

absl::StatusOr<CharDatasetSplit> CharDataset::Split(double val_fraction) const {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CharDataset::Split: val_fraction must be in (0, 1), got ", val_fraction));
  }
  const int64_t n = size();
  const int64_t val_size = std::llround(static_cast<double>(n) * val_fraction);
  const int64_t train_size = n - val_size;
  if (val_size < 2 || train_size < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CharDataset::Split: val_fraction ", val_fraction, " of ", n, " characters gives ",
        train_size, " train and ", val_size, " validation characters; each part needs at least 2"));
  }
  return CharDatasetSplit{CharDataset(text_.substr(0, train_size), vocabulary_),
                          CharDataset(text_.substr(train_size), vocabulary_)};
}

CharDataset::Window CharDataset::GetWindow(int64_t start, int64_t length) const {
  TT_CHECK(start >= 0 && length >= 1 && start + length + 1 <= size(),
           "CharDataset::GetWindow: start ", start, " length ", length, " needs characters up to ",
           start + length + 1, " but the corpus has ", size());
  Window window;
  window.inputs.assign(ids_.begin() + start, ids_.begin() + start + length);
  window.targets.assign(ids_.begin() + start + 1, ids_.begin() + start + length + 1);
  return window;
}

void CharDataset::SampleBatch(Rng& rng, int64_t batch, int64_t length, std::vector<int32_t>* inputs,
                              std::vector<int32_t>* targets) const {
  TT_CHECK(batch >= 1 && length >= 1 && length + 1 <= size(), "CharDataset::SampleBatch: batch ",
           batch, " length ", length, " (a window needs length + 1 characters; the corpus has ",
           size(), ")");
  TT_CHECK(inputs != nullptr && targets != nullptr, "CharDataset::SampleBatch: null output vector");
  inputs->resize(batch * length);
  targets->resize(batch * length);
  for (int64_t b = 0; b < batch; ++b) {
    // Starts in [0, size - length - 1], so the last target, at start + length, exists.
    const int64_t start = rng.UniformInt(size() - length);
    const int32_t* src = ids_.data() + start;
    std::copy(src, src + length, inputs->data() + b * length);
    std::copy(src + 1, src + length + 1, targets->data() + b * length);
  }
}

}  // namespace tt::tensor
