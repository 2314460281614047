// FlatJson: the machine-readable figures of a report or demo, as one flat JSON object.
//
//   FlatJson json;
//   json.Add("test_accuracy", 0.912);
//   json.Add("model", "cnn");
//   TT_RETURN_IF_ERROR(json.WriteFile(path));   // {"test_accuracy": 0.912, "model": "cnn"}
//
// Keys keep insertion order; adding a key twice replaces its value. Numbers that are not
// finite (NaN, inf) are written as null, since JSON has no such numbers. The file is
// written to a temporary name and renamed, so readers never see half a file.
#ifndef TT_TENSOR_FLAT_JSON_H_
#define TT_TENSOR_FLAT_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tt::tensor {

class FlatJson {
 public:
  void Add(absl::string_view key, double value);
  void Add(absl::string_view key, int64_t value);
  void Add(absl::string_view key, int value) { Add(key, static_cast<int64_t>(value)); }
  void Add(absl::string_view key, bool value);
  void Add(absl::string_view key, absl::string_view value);
  void Add(absl::string_view key, const char* value) { Add(key, absl::string_view(value)); }

  std::string ToString() const;  // one line, ends in "\n"
  absl::Status WriteFile(const std::string& path) const;

 private:
  void Set(absl::string_view key, std::string encoded);
  std::vector<std::pair<std::string, std::string>> entries_;  // key, encoded value
};

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace tt::tensor

#endif  // TT_TENSOR_FLAT_JSON_H_
