// CharDataset: a character-level text corpus for next-character prediction.
//
// The vocabulary is the sorted set of distinct bytes of the text (so ids follow byte
// order and the same text always gives the same ids); the whole text is kept encoded.
// Training reads fixed-length windows whose targets are the inputs shifted by one.
//
//   TT_ASSIGN_OR_RETURN(CharDataset corpus, CharDataset::LoadFortunes(FortunesDir()));
//   TT_ASSIGN_OR_RETURN(CharDatasetSplit split, corpus.Split(0.1));
//   Rng rng(42);
//   std::vector<int32_t> inputs, targets;  // each (batch * length), row-major
//   split.train.SampleBatch(rng, /*batch=*/32, /*length=*/64, &inputs, &targets);
//   // targets[b * 64 + t] is the character after inputs[b * 64 + t].
//   TT_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, corpus.Encode("Q: "));
//   std::cout << corpus.Decode(prompt);
#ifndef TT_TENSOR_CHAR_DATASET_H_
#define TT_TENSOR_CHAR_DATASET_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/tensor.h"

namespace tt::tensor {

struct CharDatasetSplit;

class CharDataset {
 public:
  // One training example: targets[t] is the character that follows inputs[t].
  struct Window {
    std::vector<int32_t> inputs;   // ids[start, start + length)
    std::vector<int32_t> targets;  // ids[start + 1, start + length + 1)
  };

  // The corpus `text` (bytes, any encoding). InvalidArgument if it is empty.
  static absl::StatusOr<CharDataset> FromText(std::string text);
  // The concatenation of the files, in the given order. NotFound names a missing or
  // non-regular file, DataLoss a read error; InvalidArgument if there are no paths or
  // the files hold no text at all.
  static absl::StatusOr<CharDataset> FromFiles(const std::vector<std::string>& paths);
  // Every regular file in `dir` whose name does not end in .dat or .u8 (the fortune
  // program's index files and UTF-8 links), in sorted name order so the corpus is the
  // same on every machine. NotFound if `dir` is not a folder or holds no such file.
  static absl::StatusOr<CharDataset> LoadFortunes(const std::string& dir);

  // Number of distinct bytes; ids are 0..vocab_size()-1.
  int vocab_size() const { return static_cast<int>(vocabulary_.size()); }
  // vocabulary()[id] is the byte with that id; sorted ascending.
  const std::string& vocabulary() const { return vocabulary_; }
  // Length of the corpus in characters.
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  const std::string& text() const { return text_; }
  // The encoded corpus: ids()[i] is the id of text()[i].
  const std::vector<int32_t>& ids() const { return ids_; }

  // The ids of `text`. InvalidArgument naming the first character that is not in the
  // vocabulary and its position in `text`.
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text) const;
  // The text of `ids`. Every id must be in 0..vocab_size()-1 (a contract: ids come from
  // Encode or from a model's output layer, so a bad one is a bug; it stops the program).
  std::string Decode(const std::vector<int32_t>& ids) const;

  // Train = the first part of the corpus, validation = its last round(size() *
  // val_fraction) characters. Contiguous rather than random, so that no validation
  // window overlaps training text; both parts keep this corpus's vocabulary, so ids mean
  // the same in each. InvalidArgument unless 0 < val_fraction < 1 and each part has at
  // least 2 characters (one input/target pair).
  absl::StatusOr<CharDatasetSplit> Split(double val_fraction) const;

  // The window at `start`. Contract: start >= 0, length >= 1,
  // start + length + 1 <= size() (the last target must exist).
  Window GetWindow(int64_t start, int64_t length) const;

  // `batch` windows of `length` at independent uniformly random starts, written
  // row-major into *inputs and *targets (each resized to batch * length; reusing the
  // vectors across calls avoids reallocating). Contract: batch >= 1, length >= 1,
  // length + 1 <= size().
  void SampleBatch(Rng& rng, int64_t batch, int64_t length, std::vector<int32_t>* inputs,
                   std::vector<int32_t>* targets) const;

 private:
  // `vocabulary` must hold every byte of `text`, sorted and distinct.
  CharDataset(std::string text, std::string vocabulary);

  std::string text_;
  std::string vocabulary_;
  std::array<int16_t, 256> char_to_id_;  // -1 for bytes outside the vocabulary
  std::vector<int32_t> ids_;
};

// The two parts made by CharDataset::Split.
struct CharDatasetSplit {
  CharDataset train;
  CharDataset validation;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_CHAR_DATASET_H_
