// TinyMLPerf: run events with recipes, write sealed result files, print the leaderboard.
//
//   bazel run -c opt //benchmarking:tinymlperf -- --event=mlp_sprint --recipe=int8
//   bazel run -c opt //benchmarking:tinymlperf -- --all --json=/tmp/tinymlperf.json
//   bazel run -c opt //benchmarking:tinymlperf -- --all --quick      # the pipeline, ~1 min
//
// Every event runs its baseline first (the ratios are to it, measured in the same run).
// Results go to --out_dir as <recipe>-<task>-<scenario>.result.{txtpb,pb}, with an
// MLPerf-style log summary beside each (.summary.txt); the leaderboard
// is then built from everything in --out_dir (a class can point several runs at one
// folder) and written there as leaderboard.md and leaderboard.html. The JSON keys are
// listed in benchmarking/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "benchmarking/events.h"
#include "benchmarking/leaderboard.h"
#include "benchmarking/result_io.h"
#include "benchmarking/tasks.h"
#include "tensor/check.h"
#include "tensor/file_io.h"
#include "tensor/flat_json.h"

ABSL_FLAG(std::string, event, "", "an event (mlp_sprint, cnn_marathon, transformer_decathlon, "
                                  "training_relay) or 'all'");
ABSL_FLAG(std::string, recipe, "", "comma-separated recipes (default: every built-in recipe "
                                   "of the event); the baseline always runs");
ABSL_FLAG(bool, all, false, "every event with every built-in recipe");
ABSL_FLAG(bool, quick, false, "short settings and data slices: checks the pipeline, not speed");
ABSL_FLAG(std::string, out_dir, "/tmp/tinymlperf-results", "where result files are written");
ABSL_FLAG(std::string, json, "", "write the summary as one flat JSON object to this file");
ABSL_FLAG(std::string, submitter, "", "your name or team, recorded in every result");
ABSL_FLAG(uint64_t, seed, 20240101, "the load generator's seed (sample order)");
ABSL_FLAG(int, finetune_epochs, -1, "fine-tuning epochs of pruned+int8 (-1: recipe default)");
ABSL_FLAG(int, repeat, 1, "run each event this many times (into out_dir/repeatK) and check "
                          "that the runs' median latencies fall within each other's CIs");

namespace tt::bench {
namespace {

std::string KeyPart(const std::string& s) { return absl::StrReplaceAll(s, {{"+", "_"}}); }

// "mlp" for mlp_sprint etc.: the prefix of the summary's best_* keys.
std::string ShortName(const std::string& event) {
  if (event == "mlp_sprint") return "mlp";
  if (event == "cnn_marathon") return "cnn";
  if (event == "transformer_decathlon") return "transformer";
  if (event == "training_relay") return "training";
  return event;
}

// Reruns `event` repeat - 1 more times (into out_dir/repeatK; the leaderboard, which reads
// out_dir recursively, counts each submission's newest result) and prints, per recipe,
// each run's median latency with its block-median interval (stats.h: allows for drift
// within a run); a pair of runs AGREES when each median lies inside the other's interval.
absl::Status Repeat(const EventSpec& event, const std::vector<std::string>& recipes,
                    const RunOptions& options, EventContext& context,
                    const std::vector<RecipeOutcome>& first, tensor::FlatJson* json) {
  std::vector<std::vector<RecipeOutcome>> runs = {first};
  for (int k = 2; k <= absl::GetFlag(FLAGS_repeat); ++k) {
    RunOptions again = options;
    again.out_dir = absl::StrCat(options.out_dir, "/repeat", k);
    TT_ASSIGN_OR_RETURN(std::vector<RecipeOutcome> run, RunEvent(event, recipes, again, context));
    runs.push_back(std::move(run));
  }
  int pairs = 0, agree = 0;
  std::printf("  repeatability (median per query, [block-median CI]):\n");
  for (size_t r = 0; r < first.size(); ++r) {
    std::printf("  %-12s", first[r].result.payload().recipe().name().c_str());
    for (const auto& run : runs) {
      const auto& lat = run[r].result.payload().performance().latency();
      std::printf("  %.4g us [%.4g, %.4g]", lat.p50_ns() / 1e3, lat.p50_block_ci().lo() / 1e3,
                  lat.p50_block_ci().hi() / 1e3);
    }
    for (size_t a = 0; a < runs.size(); ++a) {
      for (size_t b = a + 1; b < runs.size(); ++b) {
        const auto& x = runs[a][r].result.payload().performance().latency();
        const auto& y = runs[b][r].result.payload().performance().latency();
        const auto& xc = x.p50_block_ci();
        const auto& yc = y.p50_block_ci();
        const bool ok = x.p50_ns() >= yc.lo() && x.p50_ns() <= yc.hi() &&
                        y.p50_ns() >= xc.lo() && y.p50_ns() <= xc.hi();
        ++pairs;
        agree += ok;
        std::printf("  %s", ok ? "agree" : "DIFFER");
      }
    }
    std::printf("\n");
  }
  json->Add(absl::StrCat(ShortName(event.name), "_repeat_pairs"), pairs);
  json->Add(absl::StrCat(ShortName(event.name), "_repeat_pairs_agreeing"), agree);
  return absl::OkStatus();
}

absl::Status Main() {
  const auto start = std::chrono::steady_clock::now();
  std::vector<const EventSpec*> events;
  const std::string event_flag = absl::GetFlag(FLAGS_event);
  if (absl::GetFlag(FLAGS_all) || event_flag == "all") {
    for (const EventSpec& e : Events()) events.push_back(&e);
  } else if (event_flag.empty()) {
    return absl::InvalidArgumentError("give --event=NAME (or --all); see --helpfull");
  } else {
    TT_ASSIGN_OR_RETURN(const EventSpec* e, FindEvent(event_flag));
    events.push_back(e);
  }
  std::vector<std::string> recipes;
  const std::string recipe_flag = absl::GetFlag(FLAGS_recipe);
  if (!recipe_flag.empty()) {
    if (events.size() != 1) {
      return absl::InvalidArgumentError("--recipe needs a single --event");
    }
    recipes = absl::StrSplit(recipe_flag, ',', absl::SkipEmpty());
  }

  RunOptions options;
  options.quick = absl::GetFlag(FLAGS_quick);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.out_dir = absl::GetFlag(FLAGS_out_dir);
  options.submitter = absl::GetFlag(FLAGS_submitter);
  options.finetune_epochs = absl::GetFlag(FLAGS_finetune_epochs);
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error) return absl::InternalError(absl::StrCat(options.out_dir, ": ", error.message()));

  tensor::FlatJson json;
  int valid = 0, invalid = 0;
  EventContext context(options.quick);
  for (const EventSpec* event : events) {
    const std::vector<std::string> these = recipes.empty() ? event->recipes : recipes;
    TT_ASSIGN_OR_RETURN(std::vector<RecipeOutcome> outcomes,
                        RunEvent(*event, these, options, context));
    double best = 0;
    std::printf("\n== %s (%s): %s ==\n", event->title.c_str(), event->name.c_str(),
                event->headline.c_str());
    for (const RecipeOutcome& o : outcomes) {
      const proto::ResultPayload& p = o.result.payload();
      const std::string key = absl::StrCat(ShortName(event->name), "_", KeyPart(p.recipe().name()));
      const double speedup = p.has_baseline() ? p.baseline().speedup() : 0.0;
      const bool ok = p.validity().valid();
      (ok ? valid : invalid) += 1;
      if (ok && p.recipe().name() != "baseline") best = std::max(best, speedup);
      // MLPerf-style log summary next to the result files; one line here.
      TT_RETURN_IF_ERROR(tensor::WriteFileAtomically(o.stem + ".summary.txt",
                                                     ResultSummary(o.result)));
      std::string figure;
      if (o.tokens_per_second > 0) {
        figure = absl::StrFormat("%.0f tokens/s", o.tokens_per_second);
      } else if (o.images_per_second > 0) {
        figure = absl::StrFormat("%.0f images/s", o.images_per_second);
      } else {
        figure = absl::StrFormat("p90 %.2f us (p50 %.2f us)",
                                 p.performance().latency().p90_ns() / 1e3,
                                 p.performance().latency().p50_ns() / 1e3);
      }
      std::printf("  %-12s %8.2fx  %-28s %s %.4f  %s\n", p.recipe().name().c_str(), speedup,
                  figure.c_str(), p.accuracy().metric().c_str(), p.accuracy().value(),
                  ok ? "VALID" : absl::StrCat("INVALID: ", p.validity().reasons(0)).c_str());
      json.Add(key + "_speedup", speedup);
      json.Add(key + "_valid", ok);
      json.Add(key + "_quality", p.accuracy().value());
      json.Add(key + "_quality_target", p.accuracy().target_value());
      json.Add(key + "_model_size_bytes", p.model_size_bytes());
      json.Add(key + "_p50_latency_ns", p.performance().latency().p50_ns());
      json.Add(key + "_p90_latency_ns", p.performance().latency().p90_ns());
      json.Add(key + "_samples_per_second", p.performance().samples_per_second());
      if (o.tokens_per_second > 0) json.Add(key + "_tokens_per_second", o.tokens_per_second);
      if (o.images_per_second > 0) json.Add(key + "_images_per_second", o.images_per_second);
    }
    json.Add(absl::StrCat("best_", ShortName(event->name), "_speedup"), best);
    if (absl::GetFlag(FLAGS_repeat) > 1) {
      TT_RETURN_IF_ERROR(Repeat(*event, these, options, context, outcomes, &json));
    }
  }

  TT_ASSIGN_OR_RETURN(Leaderboard board, BuildLeaderboardFromDirectory(options.out_dir));
  std::printf("\n%s", RenderText(board).c_str());
  TT_RETURN_IF_ERROR(
      tensor::WriteFileAtomically(options.out_dir + "/leaderboard.md", RenderMarkdown(board)));
  TT_RETURN_IF_ERROR(
      tensor::WriteFileAtomically(options.out_dir + "/leaderboard.html", RenderHtml(board)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\n%d valid, %d invalid results in %.1f s; files in %s (leaderboard.html)\n",
              valid, invalid, seconds, options.out_dir.c_str());
  json.Add("valid_results", valid);
  json.Add("invalid_results", invalid);
  json.Add("rejected_files", static_cast<int64_t>(board.rejected.size()));
  json.Add("seconds", seconds);
  json.Add("quick", options.quick);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) TT_RETURN_IF_ERROR(json.WriteFile(json_path));
  return absl::OkStatus();
}

}  // namespace
}  // namespace tt::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = tt::bench::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "tinymlperf: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
