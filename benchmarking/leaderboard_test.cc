#include "benchmarking/leaderboard.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "benchmarking/loadgen.h"
#include "benchmarking/result.pb.h"
#include "benchmarking/result_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tt::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// --- Results from real (fake-clock) runs: latency = cost, so speedups are exact ---

class FakeQsl : public QuerySampleLibrary {
 public:
  std::string Name() const override { return "fake"; }
  int64_t TotalSampleCount() const override { return 50; }
};

class FakeSut : public SystemUnderTest {
 public:
  FakeSut(ManualClock* clock, int64_t cost_ns) : clock_(clock), cost_ns_(cost_ns) {}
  std::string Name() const override { return "fake"; }
  void Issue(const std::vector<int64_t>& samples) override {
    clock_->Advance(cost_ns_ * static_cast<int64_t>(samples.size()));
  }

 private:
  ManualClock* clock_;
  int64_t cost_ns_;
};

proto::ResultPayload Run(const std::string& task, const std::string& submitter,
                         const std::string& recipe, int64_t cost_ns, double accuracy) {
  ManualClock clock;
  FakeQsl qsl;
  FakeSut sut(&clock, cost_ns);
  TestSettings s;
  s.min_query_count = 100;
  s.min_duration_s = 0;
  s.warmup_queries = 0;
  proto::ResultPayload p;
  p.set_task(task);
  p.set_submitter(submitter);
  p.mutable_recipe()->set_name(recipe);
  SetPerformance(RunPerformance(sut, qsl, s, clock).value(), &p);
  p.set_model_size_bytes(4000);
  *p.mutable_accuracy() =
      MakeAccuracy("top1_accuracy", Direction::kHigherIsBetter, accuracy, 1000, 0.88, 0.99);
  return p;
}

constexpr int64_t kBaseNs = 1'000'000;

// An entry of `task` at `cost_ns`, compared with a 1 ms baseline: speedup 1e6 / cost.
proto::Result Entry(const std::string& task, const std::string& submitter,
                    const std::string& recipe, int64_t cost_ns, double accuracy = 0.88,
                    bool with_baseline = true) {
  proto::ResultPayload p = Run(task, submitter, recipe, cost_ns, accuracy);
  if (with_baseline) {
    const absl::Status status = SetBaseline(Run(task, "", "baseline", kBaseNs, 0.88), &p);
    EXPECT_TRUE(status.ok()) << status;
  }
  FinalizeValidity(&p);
  return SealResult(p);
}

std::vector<LoadedResult> Loaded(const std::vector<proto::Result>& results) {
  std::vector<LoadedResult> out;
  for (size_t i = 0; i < results.size(); ++i) {
    out.push_back({absl::StrCat("mem/", i, ".result.pb"), results[i]});
  }
  return out;
}

using P = std::pair<int, std::string>;

std::vector<P> RankedNames(const EventBoard& e) {
  std::vector<P> out;
  for (const EventEntry& x : e.ranked) out.push_back({x.rank, x.submission});
  return out;
}

std::string TmpDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// --- Formatting and the Pareto front ---

TEST(FormatSpeedupTest, ThreeSignificantDigits) {
  EXPECT_EQ(FormatSpeedup(12.345), "12.3x");
  EXPECT_EQ(FormatSpeedup(12.35), "12.3x");  // 12.35 is stored just below: rounds down
  EXPECT_EQ(FormatSpeedup(9.996), "10.0x");  // rounded first, then printed
  EXPECT_EQ(FormatSpeedup(1.0), "1.00x");
  EXPECT_EQ(FormatSpeedup(1234.5), "1230x");
  EXPECT_EQ(FormatSpeedup(0.4567), "0.457x");
}

TEST(ParetoFrontTest, DominatedPointsAreOff) {
  // (cost, quality): lower cost and higher quality are better.
  EXPECT_THAT(ParetoFront({{1, 0.80}, {2, 0.85}, {3, 0.84}, {4, 0.90}, {4, 0.89}, {1, 0.80}}),
              ElementsAre(true, true, false, true, false, true));
  EXPECT_THAT(ParetoFront({}), IsEmpty());
}

TEST(HtmlEscapeTest, AllFive) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
}

// --- Ranking ---

TEST(LeaderboardTest, RankedBySpeedupWithTies) {
  const Leaderboard b = BuildLeaderboard(Loaded({
      Entry("mlp_sprint", "", "baseline", kBaseNs),  // 1x
      Entry("mlp_sprint", "", "b-simd", 100'000),    // 10x
      Entry("mlp_sprint", "", "a-simd", 100'000),    // 10x: tie, listed by name
      Entry("mlp_sprint", "", "int8", 81'000),       // 12.345x -> 12.3x
      Entry("mlp_sprint", "", "int4", 81'200),       // 12.315x -> 12.3x: a tie too
      Entry("mlp_sprint", "", "blocked", 500'000),   // 2x
  }));
  ASSERT_EQ(b.events.size(), 1u);
  const EventBoard& e = b.events[0];
  EXPECT_EQ(e.task, "mlp_sprint");
  EXPECT_EQ(e.scenario, "SingleStream");
  EXPECT_EQ(e.metric, "early_stopping_latency_ns");
  EXPECT_THAT(RankedNames(e), ElementsAre(P{1, "int4"}, P{1, "int8"}, P{3, "a-simd"},
                                          P{3, "b-simd"}, P{5, "blocked"}, P{6, "baseline"}));
  EXPECT_NEAR(e.ranked[1].speedup, 1e6 / 81'000, 1e-9);
  EXPECT_THAT(e.unranked, IsEmpty());
  EXPECT_THAT(b.rejected, IsEmpty());
}

TEST(LeaderboardTest, InvalidAndBaselineLessEntriesAreListedWithWhy) {
  const Leaderboard b = BuildLeaderboard(Loaded({
      Entry("mlp_sprint", "", "baseline", kBaseNs),
      Entry("mlp_sprint", "", "int4", 50'000, /*accuracy=*/0.80),  // below 0.8712
      Entry("mlp_sprint", "", "lonely", 100'000, 0.88, /*with_baseline=*/false),
  }));
  const EventBoard& e = b.events[0];
  EXPECT_THAT(RankedNames(e), ElementsAre(P{1, "baseline"}));
  ASSERT_EQ(e.unranked.size(), 2u);
  EXPECT_EQ(e.unranked[0].submission, "int4");
  EXPECT_EQ(e.unranked[0].rank, 0);
  EXPECT_DOUBLE_EQ(e.unranked[0].speedup, 20);  // fast, but it does not count
  EXPECT_THAT(e.unranked[0].reasons, ElementsAre(HasSubstr("quality target missed")));
  EXPECT_EQ(e.unranked[1].submission, "lonely");
  EXPECT_THAT(e.unranked[1].reasons, ElementsAre(HasSubstr("no baseline comparison")));
  EXPECT_THAT(RenderText(b), HasSubstr("Not ranked:"));
}

TEST(LeaderboardTest, AllAroundIsTheGeometricMeanOfCompleteSubmissions) {
  const Leaderboard b = BuildLeaderboard(Loaded({
      Entry("mlp_sprint", "", "baseline", kBaseNs), Entry("cnn_marathon", "", "baseline", kBaseNs),
      Entry("mlp_sprint", "x", "int8", 250'000),    // 4x
      Entry("cnn_marathon", "x", "int8", 111'111),  // 9x
      Entry("mlp_sprint", "y", "int8", 500'000),    // 2x
      Entry("cnn_marathon", "y", "int8", 125'000),  // 8x
      Entry("mlp_sprint", "z", "int8", 10'000),     // 100x, but no CNN entry
  }));
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[0].task, "cnn_marathon");  // events by name
  ASSERT_EQ(b.all_around.size(), 4u);
  const AllAroundEntry& first = b.all_around[0];
  EXPECT_EQ(first.submission, "x/int8");
  EXPECT_EQ(first.rank, 1);
  EXPECT_NEAR(first.score, 6.0, 1e-4);  // sqrt(4 * 9)
  EXPECT_TRUE(first.complete);
  EXPECT_NEAR(first.speedups[0], 9.0, 1e-4);
  EXPECT_EQ(b.all_around[1].submission, "y/int8");
  EXPECT_NEAR(b.all_around[1].score, 4.0, 1e-9);  // sqrt(2 * 8)
  EXPECT_EQ(b.all_around[2].submission, "baseline");
  EXPECT_EQ(b.all_around[2].rank, 3);
  // z skipped an event: listed last, unranked, with its partial score.
  const AllAroundEntry& z = b.all_around[3];
  EXPECT_EQ(z.submission, "z/int8");
  EXPECT_FALSE(z.complete);
  EXPECT_EQ(z.rank, 0);
  EXPECT_EQ(z.events_entered, 1);
  EXPECT_NEAR(z.score, 100.0, 1e-9);
  EXPECT_THAT(RenderText(b), HasSubstr("1 (incomplete)"));
}

TEST(LeaderboardTest, TheSameResultsInAnyOrderGiveTheSameBoard) {
  std::vector<LoadedResult> results = Loaded(
      {Entry("mlp_sprint", "", "baseline", kBaseNs), Entry("mlp_sprint", "", "a", 100'000),
       Entry("mlp_sprint", "", "b", 100'000), Entry("mlp_sprint", "", "c", 300'000),
       Entry("cnn_marathon", "", "a", 200'000), Entry("cnn_marathon", "", "baseline", kBaseNs)});
  const std::string expected = RenderText(BuildLeaderboard(results));
  std::mt19937 rng(3);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(results.begin(), results.end(), rng);
    EXPECT_EQ(RenderText(BuildLeaderboard(results)), expected);
  }
}

TEST(LeaderboardTest, DuplicatesAndSupersededResults) {
  proto::Result older = Entry("mlp_sprint", "", "int8", 100'000);
  proto::ResultPayload newer_payload = Entry("mlp_sprint", "", "int8", 200'000).payload();
  newer_payload.set_end_time_unix_ms(older.payload().end_time_unix_ms() + 1000);
  const proto::Result newer = SealResult(newer_payload);
  const Leaderboard b = BuildLeaderboard({{"dir/a.result.txtpb", older},
                                          {"dir/a.result.pb", older},  // the same, binary
                                          {"dir/b.result.pb", newer}});
  ASSERT_EQ(b.events.size(), 1u);
  ASSERT_EQ(b.events[0].ranked.size(), 1u);
  // The newer (slower!) run counts: newest, not best.
  EXPECT_EQ(b.events[0].ranked[0].path, "dir/b.result.pb");
  EXPECT_NEAR(b.events[0].ranked[0].speedup, 5.0, 1e-9);
  EXPECT_THAT(b.notes,
              ElementsAre("dir/a.result.pb: superseded by the newer dir/b.result.pb (same "
                          "submission and event)",
                          "dir/a.result.txtpb: same result as dir/a.result.pb (counted once)"));
}

TEST(LeaderboardTest, InMemoryResultsAreVerifiedToo) {
  proto::Result forged = Entry("mlp_sprint", "", "int8", 100'000);
  forged.mutable_payload()->mutable_baseline()->set_speedup(1000);  // checksum not redone
  const Leaderboard b = BuildLeaderboard({{"forged.result.pb", forged}});
  EXPECT_THAT(b.events, IsEmpty());
  ASSERT_EQ(b.rejected.size(), 1u);
  EXPECT_THAT(b.rejected[0].reason, HasSubstr("checksum mismatch"));
}

// --- From a directory ---

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(LeaderboardDirectoryTest, BadFilesAreRejectedNotFatal) {
  const std::string dir = TmpDir("results");
  std::filesystem::create_directories(dir + "/bob");
  ASSERT_TRUE(
      WriteResultFiles(dir + "/baseline", Entry("mlp_sprint", "", "baseline", kBaseNs)).ok());
  ASSERT_TRUE(
      WriteResultFiles(dir + "/bob/int8", Entry("mlp_sprint", "bob", "int8", 100'000)).ok());
  // Tampered: a copy of a good text file with its latency edited.
  const proto::Result good = Entry("mlp_sprint", "mallory", "int8", 400'000);
  std::string text = ResultToText(good);
  const size_t at = text.find("p50_ns: 400000");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 14, "p50_ns: 1000");
  WriteBytes(dir + "/mallory.result.txtpb", text);
  // Malformed: garbage, and a binary file cut short.
  WriteBytes(dir + "/garbage.result.pb", "this is not a protobuf");
  const std::string bytes = good.SerializeAsString();
  WriteBytes(dir + "/cut.result.pb", bytes.substr(0, bytes.size() / 2));
  // Not result files at all: ignored.
  WriteBytes(dir + "/README.txt", "hello");
  WriteBytes(dir + "/bob/int8.result.pb.tmp.123", "half a file");

  absl::StatusOr<Leaderboard> b = BuildLeaderboardFromDirectory(dir);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->files_read, 7);  // 2 x 2 written + 3 bad
  ASSERT_EQ(b->rejected.size(), 3u);
  EXPECT_EQ(b->rejected[0].path, dir + "/cut.result.pb");
  EXPECT_THAT(b->rejected[0].reason, HasSubstr("truncated or corrupt"));
  EXPECT_EQ(b->rejected[1].path, dir + "/garbage.result.pb");
  EXPECT_EQ(b->rejected[2].path, dir + "/mallory.result.txtpb");
  EXPECT_THAT(b->rejected[2].reason, HasSubstr("checksum mismatch"));
  EXPECT_THAT(b->rejected[2].reason, Not(HasSubstr("result file '")));  // path shown once
  ASSERT_EQ(b->events.size(), 1u);
  EXPECT_THAT(RankedNames(b->events[0]), ElementsAre(P{1, "bob/int8"}, P{2, "baseline"}));
  EXPECT_EQ(b->notes.size(), 2u);  // each .pb is the same result as its .txtpb
  const std::string report = RenderText(*b);
  EXPECT_THAT(report, HasSubstr("== Rejected files =="));
  EXPECT_THAT(report, HasSubstr("mallory.result.txtpb: checksum mismatch"));
}

TEST(LeaderboardDirectoryTest, MissingDirectory) {
  absl::StatusOr<Leaderboard> b = BuildLeaderboardFromDirectory("/nonexistent/results");
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(b.status().ToString(), HasSubstr("'/nonexistent/results' is not a directory"));
}

// --- Rendering ---

constexpr char kNastyName[] = "<script>alert(\"x\")</script> & 'co' | *bold*";

Leaderboard NastyBoard() {
  return BuildLeaderboard(Loaded({
      Entry("mlp_sprint", "", "baseline", kBaseNs, 0.880),
      Entry("mlp_sprint", kNastyName, "int8", 100'000, 0.872),
      Entry("mlp_sprint", "", "pruned", 50'000, 0.875),
      Entry("mlp_sprint", "", "fp32-simd", 200'000, 0.881),
      Entry("mlp_sprint", "", "slow-and-worse", 900'000, 0.874),
      Entry("mlp_sprint", "", "bad", 10'000, 0.5),
  }));
}

// An entity at the start of `s`: &amp; &lt; &gt; &quot; or &#digits;.
bool StartsWithEntity(const std::string& s) {
  for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;"}) {
    if (s.rfind(e, 0) == 0) return true;
  }
  size_t i = 2;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  return s.rfind("&#", 0) == 0 && i > 2 && i < s.size() && s[i] == ';';
}

// ` name="value"` pairs only (values without quotes or angle brackets).
bool AttributesAreQuoted(const std::string& attrs) {
  size_t i = 0;
  while (i < attrs.size()) {
    if (attrs[i++] != ' ') return false;
    const size_t name_start = i;
    while (i < attrs.size() && (std::isalnum(static_cast<unsigned char>(attrs[i])) ||
                                attrs[i] == '-' || attrs[i] == ':')) {
      ++i;
    }
    if (i == name_start || i + 1 >= attrs.size() || attrs[i] != '=' || attrs[i + 1] != '"') {
      return false;
    }
    const size_t close = attrs.find('"', i + 2);
    if (close == std::string::npos) return false;
    if (attrs.substr(i + 2, close - i - 2).find_first_of("<>") != std::string::npos) return false;
    i = close + 1;
  }
  return true;
}

// A small XML well-formedness check: tags nest and close, attributes are quoted, and
// every '&' starts an entity. (No '<' can hide in text: it would start a tag.)
void ExpectWellFormed(const std::string& html) {
  std::vector<std::string> open;
  size_t i = 0;
  if (html.rfind("<!DOCTYPE html>", 0) == 0) i = std::string("<!DOCTYPE html>").size();
  while (i < html.size()) {
    if (html[i] == '&') {
      ASSERT_TRUE(StartsWithEntity(html.substr(i, 8)))
          << "bare & at " << i << ": " << html.substr(i, 8);
      ++i;
      continue;
    }
    if (html[i] != '<') {
      ASSERT_NE(html[i], '>') << "stray > at " << i;
      ++i;
      continue;
    }
    const size_t end = html.find('>', i);
    ASSERT_NE(end, std::string::npos);
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag[0] == '/') {
      ASSERT_FALSE(open.empty()) << "</" << tag << "> closes nothing";
      ASSERT_EQ(open.back(), tag.substr(1)) << "mismatched close";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    const std::string attrs = tag.substr(name.size(), tag.size() - name.size() - self_closing);
    EXPECT_TRUE(AttributesAreQuoted(attrs)) << "<" << tag << ">";
    if (!self_closing) open.push_back(name);
  }
  EXPECT_THAT(open, IsEmpty());
}

TEST(WellFormedCheckTest, CatchesTheMistakesItIsFor) {
  EXPECT_TRUE(StartsWithEntity("&amp; x"));
  EXPECT_TRUE(StartsWithEntity("&#39;s"));
  EXPECT_FALSE(StartsWithEntity("& Jerry"));
  EXPECT_FALSE(StartsWithEntity("&#;"));
  EXPECT_TRUE(AttributesAreQuoted(" x1=\"2.0\" class=\"a b\""));
  EXPECT_FALSE(AttributesAreQuoted(" x1=2"));
  EXPECT_FALSE(AttributesAreQuoted(" title=\"<b>\""));
}

TEST(RenderTest, HtmlIsWellFormedAndEscaped) {
  const std::string html = RenderHtml(NastyBoard());
  ExpectWellFormed(html);
  // Kept for a look in a browser: bazel-testlogs/benchmarking/leaderboard_test/test.outputs.
  if (const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(outputs, "/leaderboard.html")) << html;
  }
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html,
              HasSubstr("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("class=\"bar\""));        // speedup bars
  EXPECT_THAT(html, HasSubstr("class=\"front\""));      // the Pareto front
  EXPECT_THAT(html, HasSubstr("class=\"off-front\""));  // slow-and-worse is dominated
  EXPECT_THAT(html, HasSubstr("<h3>Not ranked</h3>"));
}

TEST(RenderTest, HtmlWithRejectedFilesAndNotesIsWellFormed) {
  proto::Result r = Entry("mlp_sprint", "", "x", 100'000);
  const Leaderboard b = BuildLeaderboard({{"a<b>&.result.pb", r}, {"c.result.pb", r}},
                                         {{"bad<&>.result.pb", "reason with <tags> & \"quotes\""}});
  const std::string html = RenderHtml(b);
  ExpectWellFormed(html);
  EXPECT_THAT(html, HasSubstr("bad&lt;&amp;&gt;.result.pb"));
}

TEST(RenderTest, MarkdownEscapesTableBreakers) {
  const std::string md = RenderMarkdown(NastyBoard());
  EXPECT_THAT(md, HasSubstr("&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'co' \\| \\*bold\\*"));
  EXPECT_THAT(md, HasSubstr("| Rank | Submission | Speedup |"));
  EXPECT_THAT(md, HasSubstr("|---:|---|---:|"));
  // Every table row has as many unescaped '|' as its table's header.
  int header_pipes = -1, rows_checked = 0;
  for (size_t start = 0, end; (end = md.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = md.substr(start, end - start);
    if (line.empty() || line[0] != '|') {
      header_pipes = -1;
      continue;
    }
    int pipes = 0;
    for (size_t k = 0; k < line.size(); ++k)
      pipes += line[k] == '|' && (k == 0 || line[k - 1] != '\\');
    if (header_pipes < 0) {
      header_pipes = pipes;
    } else {
      EXPECT_EQ(pipes, header_pipes) << line;
      ++rows_checked;
    }
  }
  EXPECT_GT(rows_checked, 10);
}

TEST(RenderTest, TextTable) {
  const std::string text = RenderText(NastyBoard());
  EXPECT_THAT(text, HasSubstr("== mlp_sprint / SingleStream =="));
  EXPECT_THAT(text, HasSubstr("Rank  Submission"));
  EXPECT_THAT(text, HasSubstr("20.0x"));
  EXPECT_THAT(text, HasSubstr("quality target missed"));
  EXPECT_THAT(text, HasSubstr("== All-around =="));
}

TEST(RenderTest, EmptyBoard) {
  const Leaderboard b = BuildLeaderboard({});
  EXPECT_THAT(RenderText(b), HasSubstr("0 result files"));
  ExpectWellFormed(RenderHtml(b));
  EXPECT_THAT(RenderMarkdown(b), HasSubstr("No ranked results."));
}

}  // namespace
}  // namespace tt::bench
