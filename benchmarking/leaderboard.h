// The TinyMLPerf leaderboard: built from a directory of result files (so a class can
// collect them in one place), ranked per event and all-around, rendered for a terminal,
// Markdown and a self-contained HTML page with SVG charts.
//
//   TT_ASSIGN_OR_RETURN(Leaderboard board, BuildLeaderboardFromDirectory("results/"));
//   std::cout << RenderText(board);
//   // or: bazel run //benchmarking:leaderboard -- results/ [--markdown | --html=board.html]
//
// The rules, in the order they apply:
//   1. Reading. Every file under the directory (recursively) whose name ends in
//      ".result.txtpb" or ".result.pb" is read with ReadResult (result_io.h). A file that
//      is malformed, tampered with (checksum mismatch) or breaks the schema is REJECTED:
//      listed with the reason, left out of everything else. It never stops the board.
//   2. Duplicates. Files with the same payload checksum are one result (a run writes
//      text and binary copies): counted once. Different results for the same submission
//      and event: the newest (end_time_unix_ms; equal times: the later path in byte
//      order) counts, the others are noted as superseded. Newest, not best: picking the
//      best of several noisy runs would reward re-running until lucky.
//   3. Events. An event is (task, scenario). A submission is "submitter/recipe" (or the
//      recipe name when no submitter is given).
//   4. Ranking. An entry is RANKED when its result is valid and has a baseline comparison;
//      otherwise it is listed under "not ranked" with why (its validity reasons, or "no
//      baseline"). Ranked entries are ordered by speedup over the baseline, rounded to 3
//      significant digits (FormatSpeedup: the number shown in the table). Equal rounded
//      speedups TIE: they share a rank and the next rank is skipped (competition ranking:
//      1, 2, 2, 4), and are listed by submission name. Rounding makes the tie rule an
//      equivalence (unlike "within 1%", which is not transitive) and matches what
//      readers see; differences below it are noise on a shared machine anyway.
//   5. All-around. score = geometric mean of a submission's speedups over the events it
//      has a ranked entry in: exp(mean(log speedup_e)). The geometric mean is the only
//      mean for which 2x faster on one event and 2x slower on another cancel out, and it
//      does not depend on which recipe is the baseline. Missing events: only COMPLETE
//      submissions (a ranked entry in every event that has any ranked entry) are ranked
//      all-around, with ties as in 4. Incomplete ones are listed after them, unranked,
//      with their partial score and the count of events entered: skipping the hard event
//      must not be a way to win.
#ifndef TT_BENCHMARKING_LEADERBOARD_H_
#define TT_BENCHMARKING_LEADERBOARD_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarking/result.pb.h"

namespace tt::bench {

struct RejectedFile {
  std::string path;
  std::string reason;
};

struct LoadedResult {
  std::string path;  // where it came from (shown in the board)
  proto::Result result;
};

// One submission's result in one event.
struct EventEntry {
  std::string submission;
  std::string path;
  proto::ResultPayload payload;
  int rank = 0;                      // 1-based; 0 when not ranked
  double speedup = 0.0;              // 0 when there is no baseline comparison
  std::vector<std::string> reasons;  // why not ranked (empty when ranked)
};

struct EventBoard {
  std::string task;
  std::string scenario;              // "SingleStream", ...
  std::string metric;                // the headline metric's name (from the first ranked entry)
  std::vector<EventEntry> ranked;    // by rank, ties by submission name
  std::vector<EventEntry> unranked;  // by submission name
};

struct AllAroundEntry {
  std::string submission;
  double score = 0.0;            // geometric mean of the speedups below that are > 0
  int events_entered = 0;        // events with a ranked entry
  bool complete = false;         // ranked in every event that has ranked entries
  int rank = 0;                  // among complete submissions; 0 for incomplete ones
  std::vector<double> speedups;  // per Leaderboard::events, 0 where not ranked
};

struct Leaderboard {
  std::string source;                      // the directory, or "" for in-memory results
  int files_read = 0;                      // result files found (including rejected)
  std::vector<EventBoard> events;          // by (task, scenario)
  std::vector<AllAroundEntry> all_around;  // complete by rank, then incomplete
  std::vector<RejectedFile> rejected;      // by path
  std::vector<std::string> notes;          // duplicates counted once, superseded results
};

// The leaderboard of `results` (each re-verified: a result failing VerifyResult joins
// `rejected`). Deterministic: the same results in any order give the same board.
Leaderboard BuildLeaderboard(std::vector<LoadedResult> results,
                             std::vector<RejectedFile> rejected = {});

// Reads every result file under `dir` (rule 1) and builds the board. NotFound /
// InvalidArgument only when `dir` itself cannot be listed; bad files are rejections.
absl::StatusOr<Leaderboard> BuildLeaderboardFromDirectory(const std::string& dir);

// A speedup rounded to 3 significant digits, then printed without exponent: "12.3x",
// "1.05x", "0.5x", "1230x". Equal strings are ties (rule 4).
std::string FormatSpeedup(double speedup);

// Which points are on the Pareto front of (cost, quality): point i is on it unless some
// j has cost_j <= cost_i and quality_j >= quality_i with at least one strict (j is as
// fast and as good, and better in one). Lower cost and higher quality are better; pass
// -quality for a lower-is-better metric. Equal points are all on the front.
std::vector<bool> ParetoFront(const std::vector<std::pair<double, double>>& cost_quality);

// &, <, >, " and ' as entities: safe in HTML and SVG text and in quoted attributes.
std::string HtmlEscape(absl::string_view text);

// A plain-text report for a terminal: per-event tables, all-around, rejected files, notes.
std::string RenderText(const Leaderboard& board);
// The same as GitHub-flavoured Markdown tables (names escaped).
std::string RenderMarkdown(const Leaderboard& board);
// A self-contained HTML page (inline CSS and SVG, no scripts, no external files): the
// tables, a speedup bar chart per event and an accuracy-vs-latency Pareto chart per
// event. Every user-provided string is escaped with HtmlEscape; the markup is
// well-formed XML (every element closed, attributes quoted).
std::string RenderHtml(const Leaderboard& board);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_LEADERBOARD_H_
