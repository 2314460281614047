#include "tensor/flat_json.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/file_io.h"

namespace tt::tensor {

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void FlatJson::Set(absl::string_view key, std::string encoded) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(encoded);
      return;
    }
  }
  entries_.emplace_back(std::string(key), std::move(encoded));
}

void FlatJson::Add(absl::string_view key, double value) {
  Set(key, std::isfinite(value) ? absl::StrFormat("%.17g", value) : "null");
}
void FlatJson::Add(absl::string_view key, int64_t value) { Set(key, absl::StrCat(value)); }
void FlatJson::Add(absl::string_view key, bool value) { Set(key, value ? "true" : "false"); }
void FlatJson::Add(absl::string_view key, absl::string_view value) { Set(key, JsonQuote(value)); }

std::string FlatJson::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < entries_.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", JsonQuote(entries_[i].first), ": ",
                    entries_[i].second);
  }
  return out + "}\n";
}

absl::Status FlatJson::WriteFile(const std::string& path) const {
  absl::Status status = WriteFileAtomically(path, ToString());
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("cannot write JSON file '", path, "': ", status.message()));
}

}  // namespace tt::tensor
