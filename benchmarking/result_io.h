// TinyMLPerf result files: building a result from a run, sealing it with a checksum,
// writing it (text and binary), reading and checking it, and the human summary.
//
//   proto::ResultPayload p;
//   p.set_task("mlp_sprint");
//   *p.mutable_recipe() = ...;                       // name + parameters
//   *p.mutable_system() = SystemToProto(DescribeSystem());
//   SetPerformance(run, &p);                          // loadgen's PerformanceResult
//   *p.mutable_accuracy() = MakeAccuracy("top1_accuracy", Direction::kHigherIsBetter,
//                                        0.881, 10000, /*reference=*/0.884, /*fraction=*/0.99);
//   TT_RETURN_IF_ERROR(SetBaseline(baseline_payload, &p));   // measured in the same run
//   FinalizeValidity(&p);
//   proto::Result result = SealResult(p);
//   TT_RETURN_IF_ERROR(WriteResultFiles("/tmp/results/alice-int8-mlp", result));
//   //   -> alice-int8-mlp.result.txtpb and alice-int8-mlp.result.pb
//   TT_ASSIGN_OR_RETURN(proto::Result back, ReadResult(".../alice-int8-mlp.result.pb"));
//   std::cout << ResultSummary(back);
//
// The checksum: payload_sha256 is the SHA-256 of the payload's deterministic binary
// serialization (fields in number order, map entries sorted by key). Reading recomputes
// it from the payload as parsed, so the same check covers both encodings: a text file
// parses to the same payload, which serializes to the same bytes (doubles are printed
// with enough digits to round-trip exactly). It catches corruption and hand edits; it is
// not a signature (anyone can recompute it), and it relies on this protobuf version's
// deterministic serialization, which is stable for one build, not promised across
// protobuf releases.
#ifndef TT_BENCHMARKING_RESULT_IO_H_
#define TT_BENCHMARKING_RESULT_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarking/loadgen.h"
#include "benchmarking/result.pb.h"
#include "benchmarking/system_info.h"

namespace tt::bench {

// Result.format of every TinyMLPerf result file.
inline constexpr char kResultFormatName[] = "tinymlperf.result";
// The newest Result.version this code writes and reads. Versions 1..this load.
inline constexpr uint32_t kResultFormatVersion = 1;
// File name endings WriteResultFiles uses and the leaderboard looks for.
inline constexpr char kTextResultSuffix[] = ".result.txtpb";
inline constexpr char kBinaryResultSuffix[] = ".result.pb";

enum class ResultEncoding { kText, kBinary };
enum class Direction { kHigherIsBetter, kLowerIsBetter };

// --- Building a payload ---------------------------------------------------------------

proto::Scenario ScenarioToProto(Scenario scenario);
absl::StatusOr<Scenario> ScenarioFromProto(proto::Scenario scenario);  // UNSPECIFIED: error
// "SingleStream", "Offline", "Server" (or "unspecified" / the number).
std::string ScenarioProtoName(proto::Scenario scenario);

proto::SystemDescription SystemToProto(const SystemInfo& info);

// Copies a performance run into `payload`: scenario, seed, settings, performance,
// timestamps, machine load (figures that are NaN because /proc was unreadable become 0;
// load.note says so) and the run's validity flags and reasons.
void SetPerformance(const PerformanceResult& run, proto::ResultPayload* payload);

// An Accuracy with its target computed: reference * fraction when higher is better
// (fraction 0.99: at least 99% of the reference), reference / fraction when lower is
// better (0.99: at most 1.0101 x the reference, e.g. for perplexity); target_met compares
// value with it (>= or <=). fraction in (0, 1] (TT_CHECK).
proto::Accuracy MakeAccuracy(const std::string& metric, Direction direction, double value,
                             int64_t samples, double reference_value, double target_fraction);

// The event's headline metric, by scenario:
//   SingleStream: "early_stopping_latency_ns"  early-stopping bound of the target
//                 percentile (p90 unless set otherwise); lower is better
//   Offline:      "samples_per_second"; higher is better
//   Server:       "early_stopping_latency_ns"  of the server percentile (p99) at the
//                 target QPS; lower is better
// FailedPrecondition when the value does not exist (no early-stopping claim, no
// samples), InvalidArgument for an unspecified scenario.
struct HeadlineMetric {
  std::string name;
  double value = 0.0;
  bool lower_is_better = true;
};
absl::StatusOr<HeadlineMetric> HeadlineMetricOf(const proto::ResultPayload& payload);

// Fills payload->baseline from `baseline` (the vanilla recipe's payload from the same
// run): the headline metric of both, speedup (> 1 is faster), and ratios this/baseline
// of p50_latency_ns, p99_latency_ns, samples_per_second, model_size_bytes and
// peak_memory_bytes where both are > 0. InvalidArgument when task or scenario differ;
// FailedPrecondition when a headline metric is missing (see HeadlineMetricOf) or the
// baseline's performance run was invalid (too short, too few queries): a ratio to an
// untrustworthy figure is not a score.
absl::Status SetBaseline(const proto::ResultPayload& baseline, proto::ResultPayload* payload);

// Sets validity.quality_target_met from the accuracy (false, with a reason, when no
// accuracy was recorded), appends the reason when it is not met, and sets
// validity.valid = every flag && no reasons. Call once, after SetPerformance and the
// accuracy.
void FinalizeValidity(proto::ResultPayload* payload);

// --- Sealing and checking -------------------------------------------------------------

// SHA-256 (FIPS 180-4) of `bytes`, as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view bytes);

// Sha256Hex of the payload's deterministic serialization.
std::string PayloadSha256(const proto::ResultPayload& payload);

// A Result around `payload`: format, version and payload_sha256 set.
proto::Result SealResult(const proto::ResultPayload& payload);

// The schema: every rule a payload must satisfy. InvalidArgument naming the field and
// the value for the first rule broken:
// - every double anywhere in the payload is finite; every string is at most 1000 bytes
//   with no control characters (so tables and HTML stay one line per entry);
// - task: 1-64 characters from [A-Za-z0-9_.-]; scenario specified; recipe.name
//   non-empty; recipe parameter keys non-empty;
// - settings: as TestSettings::Validate; performance_sample_count >= 1;
// - performance: counts >= 0, sample_count >= query_count, at least one query (samples in
//   Offline), duration and rates >= 0; latency.count == query_count; latencies >= 0 with
//   min <= p50 <= p90 <= p95 <= p99 <= p999 <= max and min <= mean <= max, stddev >= 0;
//   each CI within [min, max], lo <= hi, level in [0, 1]; an early-stopping claim has a
//   bound within [min, max] and 0 <= overlatency_allowed < query_count;
//   0 <= overlatency_count <= query_count;
// - peak_memory_bytes, model_size_bytes >= 0; 0 <= start_time <= end_time;
// - accuracy (when a metric is named): samples >= 0, target_fraction in (0, 1],
//   target_met agrees with value vs target_value; without a metric, target_met false;
// - baseline (when present): names non-empty, value and baseline_value > 0, speedup > 0
//   and equal (to 1e-9 relative) to the ratio its direction implies; ratios >= 0;
// - validity: quality_target_met == accuracy.target_met; valid == (every flag true and no
//   reasons); an invalid result has at least one reason.
absl::Status ValidatePayload(const proto::ResultPayload& payload);

// Checks format, version, the checksum (DataLoss on mismatch: "edited or corrupted"),
// then the schema.
absl::Status VerifyResult(const proto::Result& result);

// --- Files -----------------------------------------------------------------------------

// Protobuf text format with a comment header; what WriteResult writes for kText.
std::string ResultToText(const proto::Result& result);
// Parses text format (errors give line and column) or binary, then VerifyResult.
// Binary must also be canonical: exactly the bytes WriteResult produces for the message
// it parses to (protobuf accepts other encodings of the same values, e.g. a bool stored
// as 33; those are edits, so every changed byte of a binary file is an error).
absl::StatusOr<proto::Result> ResultFromText(absl::string_view text);
absl::StatusOr<proto::Result> ResultFromBinary(absl::string_view bytes);

// Writes `result` (verified first: a bad result is never written) atomically: to a
// temporary file in the same directory, fsync'ed, then renamed over `path`, so a reader
// never sees half a file.
absl::Status WriteResult(const std::string& path, const proto::Result& result,
                         ResultEncoding encoding);
// A file name stem for a result, unique per submission and event:
// "<submitter>-<recipe>-<task>-<scenario>" (the submitter part omitted when empty), with
// every character outside [A-Za-z0-9_.-] replaced by '_', e.g. "alice-int8-mlp_sprint-
// SingleStream". Join it to a directory and pass it to WriteResultFiles.
std::string ResultFileStem(const proto::ResultPayload& payload);

// Both encodings: stem + kTextResultSuffix and stem + kBinaryResultSuffix.
absl::Status WriteResultFiles(const std::string& stem, const proto::Result& result);

// Reads and verifies a result file. The encoding comes from the name (".txtpb",
// ".textproto", ".txt": text; ".pb", ".bin": binary), else from the content. Every error
// starts with "result file '<path>': " and says what is wrong.
absl::StatusOr<proto::Result> ReadResult(const std::string& path);

// A human summary in the spirit of MLPerf's mlperf_log_summary.txt: the result, validity
// with each condition, the headline metric, then every statistic.
std::string ResultSummary(const proto::Result& result);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_RESULT_IO_H_
