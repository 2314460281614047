#include "benchmarking/result_io.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "benchmarking/loadgen.h"
#include "benchmarking/result.pb.h"
#include "benchmarking/system_info.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace tt::bench {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- A real payload, built the way a task will build one, on a ManualClock ---

class FakeQsl : public QuerySampleLibrary {
 public:
  std::string Name() const override { return "fake"; }
  int64_t TotalSampleCount() const override { return 100; }
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

PerformanceResult FakeRun(int64_t cost_ns, Scenario scenario, int64_t queries = 200) {
  ManualClock clock(1'000'000'000);
  FakeQsl qsl;
  FakeSut sut(&clock, cost_ns);
  TestSettings s;
  s.scenario = scenario;
  s.min_query_count = queries;
  s.offline_min_sample_count = queries;
  s.offline_batch_size = 50;
  s.min_duration_s = 0;
  s.warmup_queries = 0;
  return RunPerformance(sut, qsl, s, clock).value();
}

SystemInfo FixedSystem() {
  SystemInfo info;
  info.cpu.model_name = "Test CPU";
  info.cpu.vendor = "TestVendor";
  info.cpu.features = {"avx2", "fma"};
  info.cpu.logical_cores = 2;
  info.cpu.physical_cores = 2;
  info.online_cores = 2;
  info.kernel_isa = "avx2+fma";
  info.build = CurrentBuild();
  info.os = "Linux test";
  return info;
}

proto::ResultPayload MakePayload(const std::string& recipe, int64_t cost_ns, double accuracy,
                                 const proto::ResultPayload* baseline = nullptr,
                                 Scenario scenario = Scenario::kSingleStream) {
  proto::ResultPayload p;
  p.set_task("mlp_sprint");
  p.mutable_recipe()->set_name(recipe);
  (*p.mutable_recipe()->mutable_parameters())["backend"] = "simd";
  (*p.mutable_recipe()->mutable_parameters())["threads"] = "1";
  p.set_submitter("alice");
  *p.mutable_system() = SystemToProto(FixedSystem());
  SetPerformance(FakeRun(cost_ns, scenario), &p);
  p.set_model_size_bytes(100000);
  p.set_peak_memory_bytes(250000);
  *p.mutable_accuracy() =
      MakeAccuracy("top1_accuracy", Direction::kHigherIsBetter, accuracy, 10000, 0.88, 0.99);
  if (baseline != nullptr) {
    EXPECT_TRUE(SetBaseline(*baseline, &p).ok());
  }
  FinalizeValidity(&p);
  return p;
}

proto::Result GoodResult() {
  const proto::ResultPayload base = MakePayload("baseline", 1'000'000, 0.88);
  return SealResult(MakePayload("int8", 100'000, 0.875, &base));
}

std::string TmpPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// --- SHA-256 against FIPS 180-4 / NIST test vectors ---

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PaddingBoundaries) {
  // 55 bytes: the length fits in the same block; 56: it needs another; 64: a whole block.
  EXPECT_EQ(Sha256Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha256Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

// --- Building a payload ---

TEST(BuildPayloadTest, AGoodResultVerifies) {
  const proto::Result r = GoodResult();
  EXPECT_TRUE(VerifyResult(r).ok()) << VerifyResult(r);
  EXPECT_TRUE(r.payload().validity().valid());
  EXPECT_EQ(r.payload().scenario(), proto::SINGLE_STREAM);
  EXPECT_EQ(r.payload().performance().query_count(), 200);
  EXPECT_EQ(r.payload().settings().performance_sample_count(), 100);
  EXPECT_EQ(r.payload().system().cpu_model(), "Test CPU");
}

TEST(BuildPayloadTest, SpeedupIsBaselineLatencyOverOurs) {
  const proto::Result r = GoodResult();
  const proto::BaselineComparison& c = r.payload().baseline();
  EXPECT_EQ(c.baseline_recipe(), "baseline");
  EXPECT_EQ(c.metric(), "early_stopping_latency_ns");
  EXPECT_TRUE(c.lower_is_better());
  EXPECT_EQ(c.value(), 100'000);
  EXPECT_EQ(c.baseline_value(), 1'000'000);
  EXPECT_DOUBLE_EQ(c.speedup(), 10.0);
  EXPECT_DOUBLE_EQ(c.ratios().at("p50_latency_ns"), 0.1);
  EXPECT_DOUBLE_EQ(c.ratios().at("model_size_bytes"), 1.0);
}

TEST(BuildPayloadTest, OfflineSpeedupIsThroughputOverBaseline) {
  const proto::ResultPayload base =
      MakePayload("baseline", 1'000'000, 0.88, nullptr, Scenario::kOffline);
  const proto::ResultPayload fast = MakePayload("int8", 250'000, 0.88, &base, Scenario::kOffline);
  EXPECT_EQ(fast.baseline().metric(), "samples_per_second");
  EXPECT_FALSE(fast.baseline().lower_is_better());
  EXPECT_DOUBLE_EQ(fast.baseline().speedup(), 4.0);
  EXPECT_TRUE(VerifyResult(SealResult(fast)).ok()) << VerifyResult(SealResult(fast));
}

TEST(BuildPayloadTest, BaselineMustMatchAndBeValid) {
  proto::ResultPayload base = MakePayload("baseline", 1'000'000, 0.88);
  proto::ResultPayload p = MakePayload("int8", 100'000, 0.88);
  proto::ResultPayload other_task = base;
  other_task.set_task("cnn_marathon");
  EXPECT_THAT(SetBaseline(other_task, &p).ToString(), HasSubstr("baseline is for cnn_marathon"));
  proto::ResultPayload short_base = base;
  SetPerformance(FakeRun(1'000'000, Scenario::kSingleStream, /*queries=*/20), &short_base);
  const absl::Status status = SetBaseline(short_base, &p);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.ToString(), HasSubstr("invalid performance run"));
}

TEST(BuildPayloadTest, QualityTargetDecidesValidity) {
  // Reference 0.88 at 99%: the target is 0.8712.
  proto::ResultPayload p = MakePayload("int4", 100'000, 0.86);
  EXPECT_FALSE(p.validity().valid());
  EXPECT_FALSE(p.validity().quality_target_met());
  ASSERT_EQ(p.validity().reasons_size(), 1);
  EXPECT_THAT(p.validity().reasons(0), HasSubstr("quality target missed: top1_accuracy 0.86 <"));
  FinalizeValidity(&p);  // idempotent
  EXPECT_EQ(p.validity().reasons_size(), 1);
  EXPECT_TRUE(VerifyResult(SealResult(p)).ok());  // invalid results are still well-formed

  proto::ResultPayload none = MakePayload("int8", 100'000, 0.88);
  none.clear_accuracy();
  FinalizeValidity(&none);
  EXPECT_FALSE(none.validity().valid());
  EXPECT_THAT(none.validity().reasons(0), HasSubstr("no accuracy recorded"));
}

TEST(BuildPayloadTest, LowerIsBetterAccuracyTarget) {
  const proto::Accuracy a =
      MakeAccuracy("validation_perplexity", Direction::kLowerIsBetter, 5.0, 1000, 4.99, 0.99);
  EXPECT_NEAR(a.target_value(), 4.99 / 0.99, 1e-12);  // 5.0404
  EXPECT_TRUE(a.target_met());
  EXPECT_FALSE(
      MakeAccuracy("validation_perplexity", Direction::kLowerIsBetter, 5.1, 1000, 4.99, 0.99)
          .target_met());
}

TEST(BuildPayloadTest, FileStem) {
  proto::ResultPayload p = GoodResult().payload();
  EXPECT_EQ(ResultFileStem(p), "alice-int8-mlp_sprint-SingleStream");
  p.set_submitter("../etc/pass wd");
  p.mutable_recipe()->set_name("int8+prune 50%");
  EXPECT_EQ(ResultFileStem(p), ".._etc_pass_wd-int8_prune_50_-mlp_sprint-SingleStream");
  p.clear_submitter();
  EXPECT_EQ(ResultFileStem(p), "int8_prune_50_-mlp_sprint-SingleStream");
}

// --- Round trips ---

TEST(RoundTripTest, TextAndBinaryFilesReadBackIdentical) {
  const proto::Result r = GoodResult();
  const std::string stem = TmpPath("alice-int8");
  ASSERT_TRUE(WriteResultFiles(stem, r).ok());
  for (const char* suffix : {kTextResultSuffix, kBinaryResultSuffix}) {
    absl::StatusOr<proto::Result> back = ReadResult(stem + suffix);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, r)) << suffix;
  }
  EXPECT_THAT(ReadAll(stem + kTextResultSuffix), StartsWith("# TinyMLPerf result: mlp_sprint"));
}

TEST(RoundTripTest, AwkwardDoublesSurviveTextFormat) {
  proto::ResultPayload p = GoodResult().payload();
  auto& ratios = *p.mutable_baseline()->mutable_ratios();
  ratios["third"] = 1.0 / 3.0;
  ratios["tenth_plus_fifth"] = 0.1 + 0.2;
  ratios["denormal"] = 4.9406564584124654e-324;
  ratios["huge"] = 1.7976931348623157e308;
  ratios["tiny"] = 2.2250738585072014e-308;
  const proto::Result r = SealResult(p);
  absl::StatusOr<proto::Result> back = ResultFromText(ResultToText(r));
  ASSERT_TRUE(back.ok()) << back.status();  // the checksum matched: bit-exact
  EXPECT_TRUE(MessageDifferencer::Equals(*back, r));
}

TEST(RoundTripTest, EncodingIsSniffedForOtherNames) {
  const proto::Result r = GoodResult();
  ASSERT_TRUE(WriteResult(TmpPath("binary.dat"), r, ResultEncoding::kBinary).ok());
  ASSERT_TRUE(WriteResult(TmpPath("text.dat"), r, ResultEncoding::kText).ok());
  EXPECT_TRUE(ReadResult(TmpPath("binary.dat")).ok());
  EXPECT_TRUE(ReadResult(TmpPath("text.dat")).ok());
}

TEST(RoundTripTest, SerializationIsDeterministic) {
  const proto::Result r = GoodResult();
  proto::Result copy;
  ASSERT_TRUE(copy.ParseFromString(r.SerializeAsString()));
  EXPECT_EQ(PayloadSha256(copy.payload()), r.payload_sha256());
}

// --- Tampering ---

TEST(TamperTest, EveryOneByteChangeToABinaryFileIsRejected) {
  const proto::Result r = GoodResult();
  const std::string path = TmpPath("t.result.pb");
  ASSERT_TRUE(WriteResult(path, r, ResultEncoding::kBinary).ok());
  const std::string bytes = ReadAll(path);
  ASSERT_GT(bytes.size(), 500u);
  int accepted = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x20, 0x80}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      if (ResultFromBinary(bad).ok()) {
        ++accepted;
        ADD_FAILURE() << "byte " << i << " ^ " << int{mask} << " was accepted";
      }
    }
  }
  EXPECT_EQ(accepted, 0);
}

TEST(TamperTest, EditedTextIsAChecksumMismatch) {
  const proto::Result r = GoodResult();
  const std::string text = ResultToText(r);
  const std::string p90 = absl::StrCat("p90_ns: ", r.payload().performance().latency().p90_ns());
  ASSERT_THAT(text, HasSubstr(p90));
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {p90, "p90_ns: 99999"},
           {"name: \"int8\"", "name: \"int9\""},
           {"submitter: \"alice\"", "submitter: \"mallory\""},
           {"speedup: 10", "speedup: 20"}}) {
    ASSERT_THAT(text, HasSubstr(from));
    const std::string path = TmpPath("edited.result.txtpb");
    WriteAll(path, absl::StrReplaceAll(text, {{from, to}}));
    const absl::StatusOr<proto::Result> back = ReadResult(path);
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss) << from;
    EXPECT_THAT(back.status().ToString(),
                HasSubstr(absl::StrCat("result file '", path, "': checksum mismatch")));
    EXPECT_THAT(back.status().ToString(), HasSubstr("edited or corrupted"));
  }
}

TEST(TamperTest, MissingOrMalformedChecksum) {
  proto::Result r = GoodResult();
  r.clear_payload_sha256();
  EXPECT_THAT(VerifyResult(r).ToString(), HasSubstr("is not 64 lowercase hex digits"));
  r = GoodResult();
  r.set_payload_sha256(absl::AsciiStrToUpper(r.payload_sha256()));
  EXPECT_THAT(VerifyResult(r).ToString(), HasSubstr("is not 64 lowercase hex digits"));
}

// --- Malformed files ---

TEST(MalformedTest, EveryTruncationOfABinaryFileIsRejected) {
  const std::string bytes = GoodResult().SerializeAsString();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ResultFromBinary(bytes.substr(0, n)).ok()) << n;
  }
}

TEST(MalformedTest, ErrorsNameTheFileAndTheProblem) {
  const std::string empty = TmpPath("empty.result.pb");
  WriteAll(empty, "");
  EXPECT_THAT(ReadResult(empty).status().ToString(),
              HasSubstr(absl::StrCat("result file '", empty, "': is empty (0 bytes)")));

  const std::string garbage = TmpPath("garbage.result.pb");
  WriteAll(garbage, "\xff\xff\xff\xff garbage");
  EXPECT_THAT(ReadResult(garbage).status().ToString(),
              HasSubstr(absl::StrCat("result file '", garbage, "': truncated or corrupt")));

  const std::string syntax = TmpPath("syntax.result.txtpb");
  WriteAll(syntax, "format: \"tinymlperf.result\"\nversion: 1\npayload {\n  task: }\n");
  EXPECT_THAT(ReadResult(syntax).status().ToString(),
              HasSubstr("text format: line 4 column 9: Expected string"));

  const std::string unknown = TmpPath("unknown.result.txtpb");
  WriteAll(unknown, "format: \"tinymlperf.result\"\nversion: 1\nspeed: 9000\n");
  EXPECT_THAT(ReadResult(unknown).status().ToString(), HasSubstr("line 3"));

  EXPECT_THAT(ReadResult(TmpPath("missing.result.pb")).status().ToString(),
              HasSubstr("cannot open"));
}

TEST(MalformedTest, WrongFormatOrVersion) {
  proto::Result r = GoodResult();
  r.set_format("tinytorch.model");
  EXPECT_THAT(VerifyResult(r).ToString(), HasSubstr("not a TinyMLPerf result"));
  r = GoodResult();
  r.set_version(kResultFormatVersion + 1);
  EXPECT_THAT(VerifyResult(r).ToString(), HasSubstr("version 2 is not supported"));
  r.set_version(0);
  EXPECT_THAT(VerifyResult(r).ToString(), HasSubstr("version 0 is not supported"));
}

TEST(MalformedTest, AnInvalidResultIsNeverWritten) {
  proto::Result r = GoodResult();
  r.mutable_payload()->set_task("");
  const std::string path = TmpPath("never.result.pb");
  const absl::Status status = WriteResult(path, r, ResultEncoding::kBinary);
  EXPECT_THAT(status.ToString(), HasSubstr(absl::StrCat("cannot write result file '", path, "'")));
  EXPECT_FALSE(std::ifstream(path).good());
}

// --- The schema: each rule, on a payload resealed so that only the rule can fail ---

struct SchemaCase {
  const char* name;
  std::function<void(proto::ResultPayload&)> change;
  const char* message;
};

TEST(SchemaTest, EachRuleIsEnforced) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const SchemaCase cases[] = {
      {"nan", [&](auto& p) { p.mutable_load()->set_other_cpu_cores(nan); },
       "payload.load.other_cpu_cores is nan: must be finite"},
      {"infinity", [](auto& p) { (*p.mutable_baseline()->mutable_ratios())["x"] = INFINITY; },
       "value is inf: must be finite"},
      {"control character", [](auto& p) { p.mutable_recipe()->set_name("int8\nVALID"); },
       "payload.recipe.name contains control character 0x0a"},
      {"empty task", [](auto& p) { p.set_task(""); }, "payload.task '' must have 1 to 64"},
      {"task characters", [](auto& p) { p.set_task("mlp sprint"); }, "may only use letters"},
      {"scenario", [](auto& p) { p.set_scenario(proto::SCENARIO_UNSPECIFIED); },
       "payload.scenario: scenario unspecified is not a scenario"},
      {"recipe name", [](auto& p) { p.mutable_recipe()->set_name(""); },
       "payload.recipe.name is empty"},
      {"settings", [](auto& p) { p.mutable_settings()->set_min_duration_s(-1); },
       "payload.settings: TestSettings.min_duration_s is -1"},
      {"percentile order",
       [](auto& p) { p.mutable_performance()->mutable_latency()->set_p90_ns(1); },
       "out of order: p50_ns 100000 > p90_ns 1"},
      {"negative time", [](auto& p) { p.mutable_performance()->mutable_latency()->set_min_ns(-1); },
       "latency.min_ns is -1: must be >= 0"},
      {"mean outside",
       [](auto& p) { p.mutable_performance()->mutable_latency()->set_mean_ns(1e9); },
       "latency.mean_ns is 1e+09, outside [min, max]"},
      {"count", [](auto& p) { p.mutable_performance()->mutable_latency()->set_count(7); },
       "latency.count is 7: must equal query_count (200)"},
      {"samples < queries", [](auto& p) { p.mutable_performance()->set_sample_count(3); },
       "sample_count is 3: must be >= query_count"},
      {"negative rate", [](auto& p) { p.mutable_performance()->set_samples_per_second(-1); },
       "samples_per_second is -1"},
      {"model size", [](auto& p) { p.set_model_size_bytes(-5); },
       "payload.model_size_bytes is -5: must be >= 0"},
      {"times", [](auto& p) { p.set_end_time_unix_ms(p.start_time_unix_ms() - 1); },
       "need 0 <= start <= end"},
      {"target met lie", [](auto& p) { p.mutable_accuracy()->set_value(0.5); },
       "payload.accuracy.target_met is true but value 0.5 >= target"},
      {"speedup lie", [](auto& p) { p.mutable_baseline()->set_speedup(20); },
       "payload.baseline.speedup is 20 but"},
      {"baseline value lie", [](auto& p) { p.mutable_baseline()->set_value(1); },
       "but the result's headline metric is early_stopping_latency_ns = 100000"},
      {"valid lie", [](auto& p) { p.mutable_validity()->add_reasons("too slow"); },
       "payload.validity.valid is true but the flags and reasons say invalid"},
      {"invalid without reason",
       [](auto& p) {
         p.mutable_validity()->set_valid(false);
         p.mutable_validity()->set_min_duration_met(false);
       },
       "payload.validity.reasons is empty for an invalid result"},
      {"quality flag", [](auto& p) { p.mutable_validity()->set_quality_target_met(false); },
       "quality_target_met disagrees"},
      {"early stopping flag", [](auto& p) { p.mutable_validity()->set_early_stopping_met(false); },
       "early_stopping_met disagrees"},
  };
  for (const SchemaCase& c : cases) {
    proto::ResultPayload p = GoodResult().payload();
    c.change(p);
    const absl::Status status = VerifyResult(SealResult(p));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name << ": " << status;
    EXPECT_THAT(status.ToString(), HasSubstr(c.message)) << c.name;
  }
}

// --- The summary ---

TEST(SummaryTest, MlperfStyleSummary) {
  const proto::Result r = GoodResult();
  const std::string s = ResultSummary(r);
  if (const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(outputs, "/summary.txt")) << s;
  }
  EXPECT_THAT(s, HasSubstr("TinyMLPerf Results Summary"));
  EXPECT_THAT(s, HasSubstr("Recipe                        : int8 {backend=simd, threads=1}"));
  EXPECT_THAT(s, HasSubstr("Result is                     : VALID"));
  EXPECT_THAT(s, HasSubstr("Min queries satisfied       : Yes (200 queries, minimum 200)"));
  EXPECT_THAT(s, HasSubstr("Early stopping p90 latency    : 100 us (with 99% confidence"));
  EXPECT_THAT(s, HasSubstr("Speedup vs baseline           : 10x"));
  EXPECT_THAT(s, HasSubstr("90.00 percentile latency      : 100 us"));
  EXPECT_THAT(s, HasSubstr("CPU                           : Test CPU (TestVendor)"));
  EXPECT_THAT(s, HasSubstr(r.payload_sha256()));

  proto::ResultPayload bad = MakePayload("int4", 100'000, 0.5);
  const std::string b = ResultSummary(SealResult(bad));
  EXPECT_THAT(b, HasSubstr("Result is                     : INVALID"));
  EXPECT_THAT(b, HasSubstr("Quality target satisfied    : NO"));
  EXPECT_THAT(b, HasSubstr("none recorded (cannot be ranked)"));
}

}  // namespace
}  // namespace tt::bench
