#include "tensor/file_io.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::tensor {
namespace {

using ::testing::HasSubstr;

std::string Temp(const std::string& name) { return ::testing::TempDir() + "/" + name; }

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST(FileIoTest, WriteReplacesAtomicallyAndReadsBack) {
  const std::string path = Temp("atomic.bin");
  ASSERT_TRUE(WriteFileAtomically(path, "old contents").ok());
  std::ofstream(path + ".tmp") << "a stale temporary file from a killed writer";
  const std::string bytes("new\0bytes", 9);  // binary-safe
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  EXPECT_FALSE(Exists(path + ".tmp"));
  auto back = ReadFileBytes(path, 1 << 20);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, bytes);
}

TEST(FileIoTest, FailedWriteLeavesTheOldFileAndNoTemporary) {
  const std::string dir = Temp("not_a_dir_file");
  std::ofstream(dir) << "x";
  // The parent "directory" is a file: creating the temporary fails.
  const absl::Status status = WriteFileAtomically(dir + "/model.ttm", "data");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot create"));

  // Renaming over a directory fails after the temporary was written: it is removed.
  const std::string target = Temp("a_directory");
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  EXPECT_FALSE(WriteFileAtomically(target, "data").ok());
  EXPECT_FALSE(Exists(target + ".tmp"));
}

TEST(FileIoTest, ReadErrorsAndTheSizeLimit) {
  EXPECT_THAT(std::string(ReadFileBytes(Temp("missing"), 10).status().message()),
              HasSubstr("cannot open"));
  const std::string path = Temp("big.bin");
  ASSERT_TRUE(WriteFileAtomically(path, std::string(100, 'x')).ok());
  EXPECT_TRUE(ReadFileBytes(path, 100).ok());
  const absl::Status too_big = ReadFileBytes(path, 99).status();
  EXPECT_EQ(too_big.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(too_big.message()), HasSubstr("larger than 99 bytes"));
  EXPECT_THAT(std::string(ReadFileBytes(::testing::TempDir(), 10).status().message()),
              HasSubstr("cannot read"));
}

}  // namespace
}  // namespace tt::tensor
