#include "tensor/char_dataset.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/check.h"
#include "tensor/idx_reader.h"
#include "tensor/tensor.h"

namespace tt::tensor {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

CharDataset MustFromText(std::string text) {
  absl::StatusOr<CharDataset> data = CharDataset::FromText(std::move(text));
  TT_CHECK(data.ok(), data.status().ToString());
  return *std::move(data);
}

TEST(CharDatasetTest, VocabularyIsTheSortedDistinctBytes) {
  const CharDataset data = MustFromText("hello world");
  EXPECT_EQ(data.vocabulary(), " dehlorw");
  EXPECT_EQ(data.vocab_size(), 8);
  EXPECT_EQ(data.size(), 11);
  EXPECT_EQ(data.text(), "hello world");
  //                              h  e  l  l  o  ' ' w  o  r  l  d
  EXPECT_THAT(data.ids(), ElementsAre(3, 2, 4, 4, 5, 0, 7, 5, 6, 4, 1));
}

TEST(CharDatasetTest, EncodeDecodeRoundTrip) {
  const CharDataset data = MustFromText("the quick brown fox\njumps over the lazy dog\t\x01\xff");
  const std::string sample = "a quick dog\t\xff";
  absl::StatusOr<std::vector<int32_t>> ids = data.Encode(sample);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), sample.size());
  for (int32_t id : *ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, data.vocab_size());
  }
  EXPECT_EQ(data.Decode(*ids), sample);
  EXPECT_EQ(data.Decode(data.ids()), data.text());
  absl::StatusOr<std::vector<int32_t>> none = data.Encode("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(CharDatasetTest, EncodeNamesTheUnknownCharacter) {
  const CharDataset data = MustFromText("hello");
  absl::StatusOr<std::vector<int32_t>> ids = data.Encode("hellz");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ids.status().message(), AllOf(HasSubstr("character 'z' at position 4"),
                                            HasSubstr("vocabulary of 4 characters")));

  ids = data.Encode(std::string("he\x07", 3));
  EXPECT_THAT(ids.status().message(), HasSubstr("character '\\x07' at position 2"));
}

TEST(CharDatasetDeathTest, DecodeRejectsIdsOutsideTheVocabulary) {
  const CharDataset data = MustFromText("abc");
  EXPECT_DEATH(data.Decode({0, 3}), "id 3 at position 1 is outside the vocabulary 0..2");
  EXPECT_DEATH(data.Decode({-1}), "id -1 at position 0");
}

TEST(CharDatasetTest, WindowTargetsAreShiftedByOne) {
  const CharDataset data = MustFromText("abcdefgh");
  const CharDataset::Window window = data.GetWindow(2, 3);
  EXPECT_EQ(data.Decode(window.inputs), "cde");
  EXPECT_EQ(data.Decode(window.targets), "def");
  const CharDataset::Window last = data.GetWindow(0, 7);  // the longest possible
  EXPECT_EQ(data.Decode(last.inputs), "abcdefg");
  EXPECT_EQ(data.Decode(last.targets), "bcdefgh");
}

TEST(CharDatasetDeathTest, WindowOutOfRange) {
  const CharDataset data = MustFromText("abcdefgh");
  EXPECT_DEATH(data.GetWindow(5, 3), "needs characters up to 9 but the corpus has 8");
  EXPECT_DEATH(data.GetWindow(-1, 2), "GetWindow: start -1");
  EXPECT_DEATH(data.GetWindow(0, 0), "GetWindow: start 0 length 0");
}

TEST(CharDatasetTest, SampleBatchRowsAreWindowsOfTheText) {
  const CharDataset data = MustFromText("It was the best of times, it was the worst of times.");
  Rng rng(3);
  std::vector<int32_t> inputs, targets;
  data.SampleBatch(rng, 6, 10, &inputs, &targets);
  ASSERT_EQ(inputs.size(), 60u);
  ASSERT_EQ(targets.size(), 60u);
  for (int b = 0; b < 6; ++b) {
    const std::vector<int32_t> row_in(inputs.begin() + b * 10, inputs.begin() + b * 10 + 10);
    const std::vector<int32_t> row_out(targets.begin() + b * 10, targets.begin() + b * 10 + 10);
    // The row plus its last target is a piece of the text, and the targets are the
    // inputs shifted by one.
    const std::string piece = data.Decode(row_in) + data.Decode({row_out.back()});
    EXPECT_NE(data.text().find(piece), std::string::npos) << piece;
    EXPECT_EQ(data.Decode(row_out), piece.substr(1));
  }

  Rng same(3);
  std::vector<int32_t> inputs2, targets2;
  data.SampleBatch(same, 6, 10, &inputs2, &targets2);
  EXPECT_EQ(inputs2, inputs);
  EXPECT_EQ(targets2, targets);
}

TEST(CharDatasetTest, SampleBatchWithTheOnlyPossibleStart) {
  const CharDataset data = MustFromText("abcd");
  Rng rng(0);
  std::vector<int32_t> inputs, targets;
  data.SampleBatch(rng, 2, 3, &inputs, &targets);
  EXPECT_EQ(data.Decode(inputs), "abcabc");
  EXPECT_EQ(data.Decode(targets), "bcdbcd");
}

TEST(CharDatasetDeathTest, SampleBatchTooLong) {
  const CharDataset data = MustFromText("abcd");
  Rng rng(0);
  std::vector<int32_t> inputs, targets;
  EXPECT_DEATH(data.SampleBatch(rng, 1, 4, &inputs, &targets),
               "a window needs length \\+ 1 characters; the corpus has 4");
  EXPECT_DEATH(data.SampleBatch(rng, 0, 2, &inputs, &targets), "batch 0");
}

TEST(CharDatasetTest, SplitTakesTheLastFractionAsValidation) {
  const CharDataset data = MustFromText("0123456789");
  absl::StatusOr<CharDatasetSplit> split = data.Split(0.3);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->train.text(), "0123456");
  EXPECT_EQ(split->validation.text(), "789");
  // Both keep the full vocabulary, so an id means the same character everywhere.
  EXPECT_EQ(split->train.vocabulary(), data.vocabulary());
  EXPECT_EQ(split->validation.vocabulary(), data.vocabulary());
  EXPECT_THAT(split->validation.ids(), ElementsAre(7, 8, 9));
  absl::StatusOr<std::vector<int32_t>> ids = split->train.Encode("9");
  ASSERT_TRUE(ids.ok()) << ids.status();  // '9' is only in the validation text
  EXPECT_THAT(*ids, ElementsAre(9));

  absl::StatusOr<CharDatasetSplit> again = data.Split(0.3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->train.ids(), split->train.ids());
}

TEST(CharDatasetTest, SplitErrors) {
  const CharDataset data = MustFromText("0123456789");
  for (double bad : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    absl::StatusOr<CharDatasetSplit> split = data.Split(bad);
    EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(split.status().message(), HasSubstr("val_fraction must be in (0, 1)"));
  }
  absl::StatusOr<CharDatasetSplit> split = data.Split(0.1);  // 1 validation character
  EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(split.status().message(), HasSubstr("gives 9 train and 1 validation characters"));
}

TEST(CharDatasetTest, EmptyTextIsAnError) {
  absl::StatusOr<CharDataset> data = CharDataset::FromText("");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr("the text is empty"));
}

TEST(CharDatasetTest, FromFilesConcatenatesInOrder) {
  const std::string a = TempPath("part_a.txt");
  const std::string b = TempPath("part_b.txt");
  WriteFile(a, "first\n");
  WriteFile(b, "second\n");
  absl::StatusOr<CharDataset> data = CharDataset::FromFiles({b, a});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->text(), "second\nfirst\n");
}

TEST(CharDatasetTest, FromFilesErrors) {
  const std::string missing = TempPath("missing.txt");
  absl::StatusOr<CharDataset> data = CharDataset::FromFiles({missing});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr(missing), HasSubstr("no such file")));

  const std::string folder = TempPath("a_folder");
  std::filesystem::create_directories(folder);
  data = CharDataset::FromFiles({folder});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr(folder), HasSubstr("not a regular file")));

  const std::string empty = TempPath("empty.txt");
  WriteFile(empty, "");
  data = CharDataset::FromFiles({empty, empty});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr(empty), HasSubstr("are all empty")));

  data = CharDataset::FromFiles({});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr("no files given"));
}

TEST(CharDatasetTest, LoadFortunesSkipsIndexesAndSortsNames) {
  const std::string dir = TempPath("fake_fortunes");
  std::filesystem::create_directories(dir + "/a_subfolder");
  WriteFile(dir + "/zen", "Z\n%\n");
  WriteFile(dir + "/art", "A\n%\n");
  WriteFile(dir + "/art.dat", "\x01\x02 index");
  WriteFile(dir + "/art.u8", "link");
  absl::StatusOr<CharDataset> data = CharDataset::LoadFortunes(dir);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->text(), "A\n%\nZ\n%\n");
}

TEST(CharDatasetTest, LoadFortunesErrors) {
  const std::string missing = TempPath("no_fortunes_here");
  absl::StatusOr<CharDataset> data = CharDataset::LoadFortunes(missing);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr(missing), HasSubstr("no such folder")));

  const std::string only_index = TempPath("only_index");
  std::filesystem::create_directories(only_index);
  WriteFile(only_index + "/x.dat", "index");
  data = CharDataset::LoadFortunes(only_index);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), AllOf(HasSubstr(only_index), HasSubstr("no fortune files")));
}

// --- The real fortunes ----------------------------------------------------------------

TEST(RealFortunesTest, LoadsTheWholeCorpus) {
  // data = [FORTUNES] puts the files in this test's runfiles.
  EXPECT_EQ(FortunesDir(), absl::StrCat(std::getenv("TEST_SRCDIR"), "/fortunes"));
  absl::StatusOr<CharDataset> data = CharDataset::LoadFortunes(FortunesDir());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_GT(data->size(), 2000000);
  EXPECT_GE(data->vocab_size(), 60);
  EXPECT_LE(data->vocab_size(), 256);
  EXPECT_EQ(data->Decode(data->ids()), data->text());
  absl::StatusOr<std::vector<int32_t>> ids = data->Encode("Fortune favors the bold.\n");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(data->Decode(*ids), "Fortune favors the bold.\n");

  absl::StatusOr<CharDatasetSplit> split = data->Split(0.1);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->train.size() + split->validation.size(), data->size());
  EXPECT_EQ(split->train.text() + split->validation.text(), data->text());
}

}  // namespace
}  // namespace tt::tensor
