// leaderboard: the TinyMLPerf leaderboard of a directory of result files.
//
//   bazel run //benchmarking:leaderboard -- DIR                 # terminal tables
//   bazel run //benchmarking:leaderboard -- DIR --markdown      # Markdown instead
//   bazel run //benchmarking:leaderboard -- DIR --html=FILE     # also a self-contained page
//
// Every "*.result.txtpb" and "*.result.pb" under DIR (recursively) is read and checked;
// malformed or tampered files are listed as rejected with the reason (benchmarking/
// leaderboard.h has the ranking rules). Relative paths are taken from the directory
// `bazel run` was started in ($BUILD_WORKING_DIRECTORY). Exit status: 0 when the board was
// built (rejected files included), 1 when DIR cannot be read or FILE cannot be written,
// 2 for bad usage.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "benchmarking/leaderboard.h"

ABSL_FLAG(bool, markdown, false, "print Markdown tables instead of terminal tables");
ABSL_FLAG(std::string, html, "", "also write the leaderboard as a self-contained HTML page here");

namespace {

constexpr char kUsage[] = "usage: leaderboard DIR [--markdown] [--html=FILE]";

// Under `bazel run`, relative paths mean the directory the user ran bazel from.
std::string FromWorkingDirectory(const std::string& path) {
  const char* working_dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (!path.empty() && path[0] != '/' && working_dir != nullptr) {
    return absl::StrCat(working_dir, "/", path);
  }
  return path;
}

bool WriteFile(const std::string& path, const std::string& text) {
  // A temporary name, then rename: a browser reloading the page never sees half of it.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "builds the TinyMLPerf leaderboard from a directory of result files.\n", kUsage));
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string dir = FromWorkingDirectory(args[1]);
  absl::StatusOr<tt::bench::Leaderboard> board = tt::bench::BuildLeaderboardFromDirectory(dir);
  if (!board.ok()) {
    std::fprintf(stderr, "leaderboard: %s\n", std::string(board.status().message()).c_str());
    return 1;
  }
  const std::string text = absl::GetFlag(FLAGS_markdown) ? tt::bench::RenderMarkdown(*board)
                                                         : tt::bench::RenderText(*board);
  std::fwrite(text.data(), 1, text.size(), stdout);
  const std::string html_path = absl::GetFlag(FLAGS_html);
  if (!html_path.empty()) {
    const std::string path = FromWorkingDirectory(html_path);
    if (!WriteFile(path, tt::bench::RenderHtml(*board))) {
      std::fprintf(stderr, "leaderboard: cannot write '%s'\n", path.c_str());
      return 1;
    }
    std::fprintf(stderr, "leaderboard: wrote %s\n", path.c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
