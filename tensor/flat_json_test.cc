#include "tensor/flat_json.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::tensor {
namespace {

using ::testing::HasSubstr;

TEST(FlatJsonTest, WritesKeysInOrderWithTypes) {
  FlatJson json;
  json.Add("test_accuracy", 0.875);
  json.Add("epochs", 5);
  json.Add("ok", true);
  json.Add("model", "cnn");
  EXPECT_EQ(json.ToString(),
            "{\"test_accuracy\": 0.875, \"epochs\": 5, \"ok\": true, \"model\": \"cnn\"}\n");
}

TEST(FlatJsonTest, ReplacesRepeatedKeysAndEscapes) {
  FlatJson json;
  json.Add("a", 1);
  json.Add("a", "x\"y\\z\n\x01");
  EXPECT_EQ(json.ToString(), "{\"a\": \"x\\\"y\\\\z\\n\\u0001\"}\n");
}

TEST(FlatJsonTest, NonFiniteNumbersAreNull) {
  FlatJson json;
  json.Add("nan", std::nan(""));
  json.Add("inf", INFINITY);
  EXPECT_EQ(json.ToString(), "{\"nan\": null, \"inf\": null}\n");
}

TEST(FlatJsonTest, WriteFileRoundTripAndLeavesNoTemporary) {
  const std::string path = ::testing::TempDir() + "/figures.json";
  FlatJson json;
  json.Add("images_per_second", 1234.5);
  ASSERT_TRUE(json.WriteFile(path).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), json.ToString());
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST(FlatJsonTest, UnwritablePathIsAnErrorNamingIt) {
  FlatJson json;
  absl::Status status = json.WriteFile("/nonexistent-dir/x.json");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("/nonexistent-dir/x.json"));
}

}  // namespace
}  // namespace tt::tensor
