#include "benchmarking/result_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "profiling/statistics.h"
#include "tensor/check.h"
#include "tensor/file_io.h"

namespace tt::bench {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// --- SHA-256 (FIPS 180-4) ----------------------------------------------------------------
//
// The round constants are the first 32 bits of the fractional parts of the cube roots of
// the first 64 primes, and the initial hash the same for the square roots of the first 8.
// They are computed here exactly in integers rather than typed in: floor(cbrt(p) * 2^32)
// = floor(cbrt(p * 2^96)), whose low 32 bits are the fractional part's first 32 bits.

using u128 = unsigned __int128;

// floor(x^(1/k)) for k = 2 or 3, by bisection; the root is below 2^40 here.
uint64_t IntegerRoot(u128 x, int k) {
  uint64_t lo = 0;
  uint64_t hi = uint64_t{1} << 40;  // invariant: lo^k <= x < hi^k
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    u128 power = 1;
    for (int i = 0; i < k; ++i) power *= mid;
    (power <= x ? lo : hi) = mid;
  }
  return lo;
}

struct Sha256Constants {
  std::array<uint32_t, 64> k;
  std::array<uint32_t, 8> h0;
};

const Sha256Constants& Sha256Tables() {
  static const Sha256Constants tables = [] {
    Sha256Constants c;
    int found = 0;
    for (uint64_t p = 2; found < 64; ++p) {
      bool prime = true;
      for (uint64_t d = 2; d * d <= p; ++d) prime = prime && (p % d != 0);
      if (!prime) continue;
      c.k[found] = static_cast<uint32_t>(IntegerRoot(u128{p} << 96, 3));
      if (found < 8) c.h0[found] = static_cast<uint32_t>(IntegerRoot(u128{p} << 64, 2));
      ++found;
    }
    return c;
  }();
  return tables;
}

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void Sha256Block(const unsigned char* block, std::array<uint32_t, 8>& h,
                 const std::array<uint32_t, 64>& k) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) {  // big-endian words
    w[t] = uint32_t{block[4 * t]} << 24 | uint32_t{block[4 * t + 1]} << 16 |
           uint32_t{block[4 * t + 2]} << 8 | uint32_t{block[4 * t + 3]};
  }
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t big_s1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
    const uint32_t ch = (e & f) ^ (~e & g);
    const uint32_t t1 = hh + big_s1 + ch + k[t] + w[t];
    const uint32_t big_s0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
    const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    const uint32_t t2 = big_s0 + maj;
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

// --- Errors and small helpers ----------------------------------------------------------

absl::Status Prefixed(absl::string_view what, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

template <typename... Args>
absl::Status Bad(absl::string_view field, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", args...));
}

double NanToZero(double v) { return std::isnan(v) ? 0.0 : v; }

std::string SerializeDeterministic(const Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }  // `coded` trims `bytes` to the serialized size here.
  return bytes;
}

// --- Schema helpers ------------------------------------------------------------------------

// Every double finite, every string short and free of control characters, anywhere in
// `message` (maps and repeated fields included). `path` names the field in errors.
absl::Status CheckScalarsRecursively(const Message& message, const std::string& path) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string name = field->is_repeated()
                                   ? absl::StrCat(path, ".", field->name(), "[", i, "]")
                                   : absl::StrCat(path, ".", field->name());
      const bool rep = field->is_repeated();
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_DOUBLE: {
          const double v = rep ? reflection->GetRepeatedDouble(message, field, i)
                               : reflection->GetDouble(message, field);
          if (!std::isfinite(v)) return Bad(name, "is ", v, ": must be finite");
          break;
        }
        case FieldDescriptor::CPPTYPE_FLOAT: {
          const float v = rep ? reflection->GetRepeatedFloat(message, field, i)
                              : reflection->GetFloat(message, field);
          if (!std::isfinite(v)) return Bad(name, "is ", v, ": must be finite");
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
          const std::string v = rep ? reflection->GetRepeatedString(message, field, i)
                                    : reflection->GetString(message, field);
          if (v.size() > 1000) return Bad(name, "is ", v.size(), " bytes long (at most 1000)");
          for (unsigned char ch : v) {
            if (ch < 0x20 || ch == 0x7f) {
              return Bad(name, "contains control character 0x",
                         absl::Hex(static_cast<unsigned>(ch), absl::kZeroPad2));
            }
          }
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          const Message& sub = rep ? reflection->GetRepeatedMessage(message, field, i)
                                   : reflection->GetMessage(message, field);
          TT_RETURN_IF_ERROR(CheckScalarsRecursively(sub, name));
          break;
        }
        default:
          break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double v) {
  if (v < 0) return Bad(field, "is ", v, ": must be >= 0");
  return absl::OkStatus();
}

absl::Status CheckInterval(absl::string_view field, const proto::ConfidenceInterval& ci, double min,
                           double max) {
  if (!(ci.lo() <= ci.hi())) return Bad(field, "has lo ", ci.lo(), " > hi ", ci.hi());
  if (ci.lo() < min || ci.hi() > max) {
    return Bad(field, "[", ci.lo(), ", ", ci.hi(), "] is outside [min, max] = [", min, ", ", max,
               "]");
  }
  if (ci.level() < 0 || ci.level() > 1) return Bad(field, "level ", ci.level(), " not in [0, 1]");
  return absl::OkStatus();
}

absl::Status CheckLatency(const proto::LatencyStatistics& l) {
  const std::string f = "payload.performance.latency";
  TT_RETURN_IF_ERROR(CheckNonNegative(f + ".min_ns", l.min_ns()));
  TT_RETURN_IF_ERROR(CheckNonNegative(f + ".stddev_ns", l.stddev_ns()));
  const std::pair<const char*, double> order[] = {{"min_ns", l.min_ns()}, {"p50_ns", l.p50_ns()},
                                                  {"p90_ns", l.p90_ns()}, {"p95_ns", l.p95_ns()},
                                                  {"p99_ns", l.p99_ns()}, {"p999_ns", l.p999_ns()},
                                                  {"max_ns", l.max_ns()}};
  for (size_t i = 1; i < std::size(order); ++i) {
    if (order[i - 1].second > order[i].second) {
      return Bad(f, "is out of order: ", order[i - 1].first, " ", order[i - 1].second, " > ",
                 order[i].first, " ", order[i].second,
                 " (need min <= p50 <= p90 <= p95 <= p99 <= p999 <= max)");
    }
  }
  if (l.mean_ns() < l.min_ns() || l.mean_ns() > l.max_ns()) {
    return Bad(f + ".mean_ns", "is ", l.mean_ns(), ", outside [min, max] = [", l.min_ns(), ", ",
               l.max_ns(), "]");
  }
  TT_RETURN_IF_ERROR(CheckInterval(f + ".p50_ci", l.p50_ci(), l.min_ns(), l.max_ns()));
  TT_RETURN_IF_ERROR(CheckInterval(f + ".p90_ci", l.p90_ci(), l.min_ns(), l.max_ns()));
  if (l.has_p50_block_ci()) {
    TT_RETURN_IF_ERROR(
        CheckInterval(f + ".p50_block_ci", l.p50_block_ci(), l.min_ns(), l.max_ns()));
  }
  return absl::OkStatus();
}

TestSettings SettingsFromProto(const proto::RunSettings& s, Scenario scenario, uint64_t seed) {
  TestSettings t;
  t.scenario = scenario;
  t.seed = seed;
  t.min_query_count = s.min_query_count();
  t.min_duration_s = s.min_duration_s();
  t.max_query_count = s.max_query_count();
  t.max_duration_s = s.max_duration_s();
  t.warmup_queries = s.warmup_queries();
  t.target_latency_percentile = s.target_latency_percentile();
  t.early_stopping_confidence = s.early_stopping_confidence();
  t.offline_batch_size = s.offline_batch_size();
  t.offline_min_sample_count = s.offline_min_sample_count();
  t.server_target_qps = s.server_target_qps();
  t.server_latency_bound_ns = s.server_latency_bound_ns();
  t.server_latency_percentile = s.server_latency_percentile();
  return t;
}

bool AccuracyMeetsTarget(const proto::Accuracy& a) {
  return a.higher_is_better() ? a.value() >= a.target_value() : a.value() <= a.target_value();
}

bool AllFlags(const proto::Validity& v) {
  return v.min_query_count_met() && v.min_duration_met() && v.early_stopping_met() &&
         v.latency_bound_met() && v.quality_target_met();
}

// --- Text format parsing -----------------------------------------------------------------

class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty())
      error_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// --- Files ---------------------------------------------------------------------------------

std::string Yes(bool b) { return b ? "Yes" : "NO"; }

std::string FormatUnixMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

}  // namespace

// --- Building a payload ---------------------------------------------------------------

proto::Scenario ScenarioToProto(Scenario scenario) {
  switch (scenario) {
    case Scenario::kSingleStream:
      return proto::SINGLE_STREAM;
    case Scenario::kOffline:
      return proto::OFFLINE;
    case Scenario::kServer:
      return proto::SERVER;
  }
  return proto::SCENARIO_UNSPECIFIED;
}

absl::StatusOr<Scenario> ScenarioFromProto(proto::Scenario scenario) {
  switch (scenario) {
    case proto::SINGLE_STREAM:
      return Scenario::kSingleStream;
    case proto::OFFLINE:
      return Scenario::kOffline;
    case proto::SERVER:
      return Scenario::kServer;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("scenario ", ScenarioProtoName(scenario), " is not a scenario"));
  }
}

std::string ScenarioProtoName(proto::Scenario scenario) {
  switch (scenario) {
    case proto::SINGLE_STREAM:
    case proto::OFFLINE:
    case proto::SERVER:
      return ScenarioName(*ScenarioFromProto(scenario));
    case proto::SCENARIO_UNSPECIFIED:
      return "unspecified";
    default:
      return absl::StrCat(static_cast<int>(scenario));
  }
}

proto::SystemDescription SystemToProto(const SystemInfo& info) {
  proto::SystemDescription d;
  d.set_cpu_model(info.cpu.model_name);
  d.set_cpu_vendor(info.cpu.vendor);
  for (const std::string& f : info.cpu.features) d.add_cpu_features(f);
  d.set_logical_cores(info.cpu.logical_cores);
  d.set_physical_cores(info.cpu.physical_cores);
  d.set_online_cores(info.online_cores);
  d.set_kernel_isa(info.kernel_isa);
  d.set_compiler(info.build.compiler);
  d.set_compilation_mode(info.build.compilation_mode);
  d.set_ndebug(info.build.ndebug);
  d.set_optimized(info.build.optimized);
  d.set_sanitizers(info.build.sanitizers);
  d.set_os(info.os);
  return d;
}

void SetPerformance(const PerformanceResult& run, proto::ResultPayload* payload) {
  payload->set_scenario(ScenarioToProto(run.scenario));
  payload->set_seed(run.settings.seed);
  const TestSettings& t = run.settings;
  proto::RunSettings* s = payload->mutable_settings();
  s->set_min_query_count(t.min_query_count);
  s->set_min_duration_s(t.min_duration_s);
  s->set_max_query_count(t.max_query_count);
  s->set_max_duration_s(t.max_duration_s);
  s->set_warmup_queries(t.warmup_queries);
  s->set_target_latency_percentile(t.target_latency_percentile);
  s->set_early_stopping_confidence(t.early_stopping_confidence);
  s->set_offline_batch_size(t.offline_batch_size);
  s->set_offline_min_sample_count(t.offline_min_sample_count);
  s->set_server_target_qps(t.server_target_qps);
  s->set_server_latency_bound_ns(t.server_latency_bound_ns);
  s->set_server_latency_percentile(t.server_latency_percentile);
  s->set_performance_sample_count(run.performance_sample_count);

  proto::Performance* p = payload->mutable_performance();
  p->set_query_count(run.query_count);
  p->set_sample_count(run.sample_count);
  p->set_duration_s(run.duration_s);
  p->set_samples_per_second(run.samples_per_second);
  p->set_queries_per_second(run.queries_per_second);
  p->set_overlatency_count(run.overlatency_count);
  proto::LatencyStatistics* l = p->mutable_latency();
  const LatencyStats& r = run.latency;
  l->set_count(r.count);
  l->set_min_ns(r.min_ns);
  l->set_max_ns(r.max_ns);
  l->set_mean_ns(r.mean_ns);
  l->set_stddev_ns(r.stddev_ns);
  l->set_p50_ns(r.p50_ns);
  l->set_p90_ns(r.p90_ns);
  l->set_p95_ns(r.p95_ns);
  l->set_p99_ns(r.p99_ns);
  l->set_p999_ns(r.p999_ns);
  for (auto [ci, out] :
       {std::pair{&r.p50_ci, l->mutable_p50_ci()}, std::pair{&r.p90_ci, l->mutable_p90_ci()},
        std::pair{&r.p50_block_ci, l->mutable_p50_block_ci()}}) {
    out->set_lo(ci->lo);
    out->set_hi(ci->hi);
    out->set_level(ci->level);
  }
  proto::EarlyStopping* es = p->mutable_early_stopping();
  es->set_percentile(run.early_stopping.percentile);
  es->set_confidence(run.early_stopping.confidence);
  es->set_claim_possible(run.early_stopping.claim_possible);
  es->set_overlatency_allowed(run.early_stopping.overlatency_allowed);
  es->set_latency_bound_ns(run.early_stopping.latency_bound_ns);
  es->set_min_queries(run.early_stopping.min_queries);

  payload->set_start_time_unix_ms(run.start_unix_ms);
  payload->set_end_time_unix_ms(run.end_unix_ms);
  proto::MachineLoad* load = payload->mutable_load();
  load->set_load_avg_1m_before(NanToZero(run.load.load_avg_1m_before));
  load->set_load_avg_1m_after(NanToZero(run.load.load_avg_1m_after));
  load->set_other_cpu_cores(NanToZero(run.load.other_cpu_cores));
  load->set_other_cpu_cores_error(NanToZero(run.load.other_cpu_cores_error));
  load->set_busy(run.load.busy);
  load->set_note(run.load.note);

  proto::Validity* v = payload->mutable_validity();
  v->set_min_query_count_met(run.min_query_count_met);
  v->set_min_duration_met(run.min_duration_met);
  v->set_early_stopping_met(run.early_stopping_met);
  v->set_latency_bound_met(run.latency_bound_met);
  v->clear_reasons();
  for (const std::string& why : run.invalid_reasons) v->add_reasons(why);
  v->set_valid(false);  // FinalizeValidity decides
}

proto::Accuracy MakeAccuracy(const std::string& metric, Direction direction, double value,
                             int64_t samples, double reference_value, double target_fraction) {
  TT_CHECK(target_fraction > 0 && target_fraction <= 1,
           "MakeAccuracy: target_fraction must be in (0, 1], got ", target_fraction);
  proto::Accuracy a;
  a.set_metric(metric);
  a.set_higher_is_better(direction == Direction::kHigherIsBetter);
  a.set_value(value);
  a.set_samples(samples);
  a.set_reference_value(reference_value);
  a.set_target_fraction(target_fraction);
  a.set_target_value(a.higher_is_better() ? reference_value * target_fraction
                                          : reference_value / target_fraction);
  a.set_target_met(AccuracyMeetsTarget(a));
  return a;
}

absl::StatusOr<HeadlineMetric> HeadlineMetricOf(const proto::ResultPayload& payload) {
  const proto::Performance& p = payload.performance();
  HeadlineMetric m;
  switch (payload.scenario()) {
    case proto::SINGLE_STREAM:
    case proto::SERVER:
      m.name = "early_stopping_latency_ns";
      m.lower_is_better = true;
      if (!p.early_stopping().claim_possible()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "no early-stopping latency: ", p.query_count(),
            " queries are too few for a claim (need ", p.early_stopping().min_queries(), ")"));
      }
      m.value = p.early_stopping().latency_bound_ns();
      break;
    case proto::OFFLINE:
      m.name = "samples_per_second";
      m.lower_is_better = false;
      m.value = p.samples_per_second();
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("no headline metric for scenario ", ScenarioProtoName(payload.scenario())));
  }
  if (!(m.value > 0) || !std::isfinite(m.value)) {
    return absl::FailedPreconditionError(
        absl::StrCat("headline metric ", m.name, " is ", m.value, " (must be > 0)"));
  }
  return m;
}

absl::Status SetBaseline(const proto::ResultPayload& baseline, proto::ResultPayload* payload) {
  if (baseline.task() != payload->task() || baseline.scenario() != payload->scenario()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "baseline is for ", baseline.task(), "/", ScenarioProtoName(baseline.scenario()),
        ", the result for ", payload->task(), "/", ScenarioProtoName(payload->scenario())));
  }
  const proto::Validity& bv = baseline.validity();
  if (!bv.min_query_count_met() || !bv.min_duration_met() || !bv.early_stopping_met() ||
      !bv.latency_bound_met()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "baseline '", baseline.recipe().name(), "' had an invalid performance run (",
        absl::StrJoin(bv.reasons(), "; "), "): no speedup can be computed against it"));
  }
  absl::StatusOr<HeadlineMetric> base = HeadlineMetricOf(baseline);
  if (!base.ok()) return Prefixed("baseline", base.status());
  absl::StatusOr<HeadlineMetric> mine = HeadlineMetricOf(*payload);
  if (!mine.ok()) return Prefixed("result", mine.status());

  proto::BaselineComparison* c = payload->mutable_baseline();
  c->Clear();
  c->set_baseline_recipe(baseline.recipe().name());
  c->set_metric(mine->name);
  c->set_lower_is_better(mine->lower_is_better);
  c->set_value(mine->value);
  c->set_baseline_value(base->value);
  c->set_speedup(mine->lower_is_better ? base->value / mine->value : mine->value / base->value);
  auto ratio = [&](const char* name, double value, double base_value) {
    if (value > 0 && base_value > 0) (*c->mutable_ratios())[name] = value / base_value;
  };
  const proto::Performance& p = payload->performance();
  const proto::Performance& b = baseline.performance();
  ratio("p50_latency_ns", p.latency().p50_ns(), b.latency().p50_ns());
  ratio("p99_latency_ns", p.latency().p99_ns(), b.latency().p99_ns());
  ratio("samples_per_second", p.samples_per_second(), b.samples_per_second());
  ratio("model_size_bytes", static_cast<double>(payload->model_size_bytes()),
        static_cast<double>(baseline.model_size_bytes()));
  ratio("peak_memory_bytes", static_cast<double>(payload->peak_memory_bytes()),
        static_cast<double>(baseline.peak_memory_bytes()));
  return absl::OkStatus();
}

void FinalizeValidity(proto::ResultPayload* payload) {
  proto::Validity* v = payload->mutable_validity();
  // Idempotent: drop a quality reason from an earlier call.
  std::vector<std::string> reasons;
  for (const std::string& r : v->reasons()) {
    if (!absl::StartsWith(r, "quality")) reasons.push_back(r);
  }
  const proto::Accuracy& a = payload->accuracy();
  v->set_quality_target_met(a.target_met());
  if (a.metric().empty()) {
    reasons.push_back("quality: no accuracy recorded (run accuracy mode first)");
  } else if (!a.target_met()) {
    reasons.push_back(
        absl::StrFormat("quality target missed: %s %.6g %s target %.6g (%.4g%s of the "
                        "reference %.6g)",
                        a.metric(), a.value(), a.higher_is_better() ? "<" : ">", a.target_value(),
                        100 * a.target_fraction(), "%", a.reference_value()));
  }
  v->clear_reasons();
  for (const std::string& r : reasons) v->add_reasons(r);
  v->set_valid(AllFlags(*v) && reasons.empty());
}

// --- Sealing and checking -------------------------------------------------------------

std::string Sha256Hex(absl::string_view bytes) {
  const Sha256Constants& tables = Sha256Tables();
  std::array<uint32_t, 8> h = tables.h0;
  // Whole blocks straight from the input, then the tail + 0x80 + zeros + the length in
  // bits (64-bit big-endian), padded to a multiple of 64 bytes.
  const size_t whole = bytes.size() / 64 * 64;
  for (size_t i = 0; i < whole; i += 64) {
    Sha256Block(reinterpret_cast<const unsigned char*>(bytes.data() + i), h, tables.k);
  }
  std::string tail(bytes.substr(whole));
  tail.push_back(static_cast<char>(0x80));
  while (tail.size() % 64 != 56) tail.push_back('\0');
  const uint64_t bits = static_cast<uint64_t>(bytes.size()) * 8;
  for (int shift = 56; shift >= 0; shift -= 8) tail.push_back(static_cast<char>(bits >> shift));
  for (size_t i = 0; i < tail.size(); i += 64) {
    Sha256Block(reinterpret_cast<const unsigned char*>(tail.data() + i), h, tables.k);
  }
  std::string hex;
  for (uint32_t word : h) absl::StrAppend(&hex, absl::Hex(word, absl::kZeroPad8));
  return hex;
}

std::string PayloadSha256(const proto::ResultPayload& payload) {
  return Sha256Hex(SerializeDeterministic(payload));
}

proto::Result SealResult(const proto::ResultPayload& payload) {
  proto::Result result;
  result.set_format(kResultFormatName);
  result.set_version(kResultFormatVersion);
  *result.mutable_payload() = payload;
  result.set_payload_sha256(PayloadSha256(payload));
  return result;
}

absl::Status ValidatePayload(const proto::ResultPayload& payload) {
  TT_RETURN_IF_ERROR(CheckScalarsRecursively(payload, "payload"));

  // Names.
  const std::string& task = payload.task();
  if (task.empty() || task.size() > 64) {
    return Bad("payload.task", "'", task, "' must have 1 to 64 characters");
  }
  for (char ch : task) {
    if (!absl::ascii_isalnum(ch) && ch != '_' && ch != '-' && ch != '.') {
      return Bad("payload.task", "'", task, "' may only use letters, digits, '_', '-', '.'");
    }
  }
  absl::StatusOr<Scenario> scenario = ScenarioFromProto(payload.scenario());
  if (!scenario.ok()) return Prefixed("payload.scenario", scenario.status());
  if (payload.recipe().name().empty()) return Bad("payload.recipe.name", "is empty");
  for (const auto& [key, value] : payload.recipe().parameters()) {
    if (key.empty()) return Bad("payload.recipe.parameters", "has an empty key");
  }

  // Settings.
  const TestSettings settings = SettingsFromProto(payload.settings(), *scenario, payload.seed());
  TT_RETURN_IF_ERROR(Prefixed("payload.settings", settings.Validate()));
  if (payload.settings().performance_sample_count() < 1) {
    return Bad("payload.settings.performance_sample_count", "is ",
               payload.settings().performance_sample_count(), ": must be >= 1");
  }

  // Performance.
  const proto::Performance& p = payload.performance();
  const std::string pf = "payload.performance";
  if (p.query_count() < 1)
    return Bad(pf + ".query_count", "is ", p.query_count(), ": must be >= 1");
  if (p.sample_count() < p.query_count()) {
    return Bad(pf + ".sample_count", "is ", p.sample_count(), ": must be >= query_count (",
               p.query_count(), ")");
  }
  TT_RETURN_IF_ERROR(CheckNonNegative(pf + ".duration_s", p.duration_s()));
  TT_RETURN_IF_ERROR(CheckNonNegative(pf + ".samples_per_second", p.samples_per_second()));
  TT_RETURN_IF_ERROR(CheckNonNegative(pf + ".queries_per_second", p.queries_per_second()));
  if (p.latency().count() != p.query_count()) {
    return Bad(pf + ".latency.count", "is ", p.latency().count(), ": must equal query_count (",
               p.query_count(), ")");
  }
  TT_RETURN_IF_ERROR(CheckLatency(p.latency()));
  const proto::EarlyStopping& es = p.early_stopping();
  if (es.claim_possible()) {
    if (es.overlatency_allowed() < 0 || es.overlatency_allowed() >= p.query_count()) {
      return Bad(pf + ".early_stopping.overlatency_allowed", "is ", es.overlatency_allowed(),
                 ": must be in [0, query_count)");
    }
    if (es.latency_bound_ns() < p.latency().min_ns() ||
        es.latency_bound_ns() > p.latency().max_ns()) {
      return Bad(pf + ".early_stopping.latency_bound_ns", "is ", es.latency_bound_ns(),
                 ", outside the latencies' [min, max]");
    }
    if (!(es.percentile() > 0 && es.percentile() < 100) ||
        !(es.confidence() > 0 && es.confidence() < 1)) {
      return Bad(pf + ".early_stopping", "has percentile ", es.percentile(), " and confidence ",
                 es.confidence(), " (need (0, 100) and (0, 1))");
    }
  }
  if (p.overlatency_count() < 0 || p.overlatency_count() > p.query_count()) {
    return Bad(pf + ".overlatency_count", "is ", p.overlatency_count(),
               ": must be in [0, query_count]");
  }

  // Sizes and times.
  if (payload.peak_memory_bytes() < 0) {
    return Bad("payload.peak_memory_bytes", "is ", payload.peak_memory_bytes(), ": must be >= 0");
  }
  if (payload.model_size_bytes() < 0) {
    return Bad("payload.model_size_bytes", "is ", payload.model_size_bytes(), ": must be >= 0");
  }
  if (payload.start_time_unix_ms() < 0 ||
      payload.end_time_unix_ms() < payload.start_time_unix_ms()) {
    return Bad("payload.start_time_unix_ms", "and end_time_unix_ms are ",
               payload.start_time_unix_ms(), " and ", payload.end_time_unix_ms(),
               ": need 0 <= start <= end");
  }

  // Accuracy.
  const proto::Accuracy& a = payload.accuracy();
  if (a.metric().empty()) {
    if (a.target_met()) return Bad("payload.accuracy.target_met", "is true without a metric");
  } else {
    if (a.samples() < 0)
      return Bad("payload.accuracy.samples", "is ", a.samples(), ": must be >= 0");
    if (!(a.target_fraction() > 0 && a.target_fraction() <= 1)) {
      return Bad("payload.accuracy.target_fraction", "is ", a.target_fraction(),
                 ": must be in (0, 1]");
    }
    if (a.target_met() != AccuracyMeetsTarget(a)) {
      return Bad("payload.accuracy.target_met", "is ", a.target_met() ? "true" : "false",
                 " but value ", a.value(), a.higher_is_better() ? " >= " : " <= ", "target ",
                 a.target_value(), " is ", AccuracyMeetsTarget(a) ? "true" : "false");
    }
  }

  // Baseline.
  if (payload.has_baseline()) {
    const proto::BaselineComparison& c = payload.baseline();
    const std::string bf = "payload.baseline";
    if (c.baseline_recipe().empty()) return Bad(bf + ".baseline_recipe", "is empty");
    if (!(c.value() > 0) || !(c.baseline_value() > 0)) {
      return Bad(bf, "value ", c.value(), " and baseline_value ", c.baseline_value(),
                 " must be > 0");
    }
    absl::StatusOr<HeadlineMetric> headline = HeadlineMetricOf(payload);
    if (!headline.ok()) return Prefixed(bf, headline.status());
    if (c.metric() != headline->name || c.value() != headline->value ||
        c.lower_is_better() != headline->lower_is_better) {
      return Bad(bf, "compares ", c.metric(), " = ", c.value(),
                 ", but the result's headline metric is ", headline->name, " = ", headline->value);
    }
    const double expected =
        c.lower_is_better() ? c.baseline_value() / c.value() : c.value() / c.baseline_value();
    if (!(std::fabs(c.speedup() - expected) <= 1e-9 * expected)) {
      return Bad(bf + ".speedup", "is ", c.speedup(), " but ", c.metric(), " ", c.value(),
                 " vs baseline ", c.baseline_value(), " gives ", expected);
    }
    for (const auto& [name, ratio] : c.ratios()) {
      if (name.empty() || ratio < 0) {
        return Bad(bf + ".ratios", "entry '", name, "' = ", ratio, " (need a name and >= 0)");
      }
    }
  }

  // Validity.
  const proto::Validity& v = payload.validity();
  if (v.quality_target_met() != a.target_met()) {
    return Bad("payload.validity.quality_target_met", "disagrees with accuracy.target_met");
  }
  if ((*scenario == Scenario::kSingleStream || *scenario == Scenario::kServer) &&
      v.early_stopping_met() != es.claim_possible()) {
    return Bad("payload.validity.early_stopping_met",
               "disagrees with performance.early_stopping.claim_possible");
  }
  const bool expected_valid = AllFlags(v) && v.reasons_size() == 0;
  if (v.valid() != expected_valid) {
    return Bad("payload.validity.valid", "is ", v.valid() ? "true" : "false",
               " but the flags and reasons say ", expected_valid ? "valid" : "invalid",
               v.reasons_size() == 0 && !v.valid() ? " (an invalid result needs a reason; was "
                                                     "FinalizeValidity called?)"
                                                   : "");
  }
  if (!v.valid() && v.reasons_size() == 0) {
    return Bad("payload.validity.reasons", "is empty for an invalid result");
  }
  return absl::OkStatus();
}

absl::Status VerifyResult(const proto::Result& result) {
  if (result.format() != kResultFormatName) {
    return absl::InvalidArgumentError(absl::StrCat("format is '", absl::CHexEscape(result.format()),
                                                   "', expected '", kResultFormatName,
                                                   "' (not a TinyMLPerf result)"));
  }
  if (result.version() < 1 || result.version() > kResultFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("version ", result.version(),
                                                   " is not supported (this reader knows 1 to ",
                                                   kResultFormatVersion, ")"));
  }
  const std::string& sum = result.payload_sha256();
  const bool hex = sum.size() == 64 && std::all_of(sum.begin(), sum.end(), [](char c) {
                     return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
                   });
  if (!hex) {
    return absl::DataLossError(absl::StrCat("payload_sha256 '", absl::CHexEscape(sum),
                                            "' is not 64 lowercase hex digits"));
  }
  const std::string actual = PayloadSha256(result.payload());
  if (actual != sum) {
    return absl::DataLossError(absl::StrCat(
        "checksum mismatch: payload_sha256 says ", sum.substr(0, 16), "..., the payload hashes to ",
        actual.substr(0, 16), "... (the file was edited or corrupted after it was written)"));
  }
  return ValidatePayload(result.payload());
}

// --- Files -----------------------------------------------------------------------------

std::string ResultToText(const proto::Result& result) {
  const proto::ResultPayload& p = result.payload();
  std::string text = absl::StrCat(
      "# TinyMLPerf result: ", p.task(), " / ", ScenarioProtoName(p.scenario()), " / ",
      p.recipe().name(), "\n",
      "# Any edit below makes payload_sha256 fail to match: the leaderboard rejects the file.\n");
  google::protobuf::TextFormat::Printer printer;
  std::string body;
  printer.PrintToString(result, &body);
  return text + body;
}

absl::StatusOr<proto::Result> ResultFromText(absl::string_view text) {
  proto::Result result;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &result)) {
    return absl::InvalidArgumentError(absl::StrCat("text format: ", errors.error()));
  }
  TT_RETURN_IF_ERROR(VerifyResult(result));
  return result;
}

absl::StatusOr<proto::Result> ResultFromBinary(absl::string_view bytes) {
  proto::Result result;
  if (!result.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("truncated or corrupt: its ", bytes.size(),
                                            " bytes do not parse as a result protobuf"));
  }
  TT_RETURN_IF_ERROR(VerifyResult(result));
  // The checksum covers the content; this covers the bytes. Protobuf accepts several
  // encodings of one message (a bool stored as 33 instead of 1, a field repeated, a
  // varint padded with 0x80 bytes); a file we wrote is the deterministic one, so any
  // other encoding was changed after writing.
  if (SerializeDeterministic(result) != bytes) {
    return absl::DataLossError(
        "not in canonical form: the bytes parse, but are not what the writer produces "
        "(edited or corrupted after it was written)");
  }
  return result;
}

absl::Status WriteResult(const std::string& path, const proto::Result& result,
                         ResultEncoding encoding) {
  const std::string what = absl::StrCat("result file '", path, "'");
  TT_RETURN_IF_ERROR(Prefixed(absl::StrCat("cannot write ", what), VerifyResult(result)));
  const std::string bytes =
      encoding == ResultEncoding::kText ? ResultToText(result) : SerializeDeterministic(result);
  return Prefixed(what, tensor::WriteFileAtomically(path, bytes));
}

std::string ResultFileStem(const proto::ResultPayload& payload) {
  std::string stem = absl::StrCat(payload.submitter(), payload.submitter().empty() ? "" : "-",
                                  payload.recipe().name(), "-", payload.task(), "-",
                                  ScenarioProtoName(payload.scenario()));
  for (char& c : stem) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') c = '_';
  }
  return stem;
}

absl::Status WriteResultFiles(const std::string& stem, const proto::Result& result) {
  TT_RETURN_IF_ERROR(WriteResult(stem + kTextResultSuffix, result, ResultEncoding::kText));
  return WriteResult(stem + kBinaryResultSuffix, result, ResultEncoding::kBinary);
}

absl::StatusOr<proto::Result> ReadResult(const std::string& path) {
  const std::string what = absl::StrCat("result file '", path, "'");
  // A result file is a few kilobytes: anything over 64 MiB is something else.
  absl::StatusOr<std::string> bytes = tensor::ReadFileBytes(path, size_t{64} << 20);
  if (!bytes.ok()) return Prefixed(what, bytes.status());
  if (bytes->empty()) return absl::DataLossError(absl::StrCat(what, ": is empty (0 bytes)"));
  bool binary;
  if (absl::EndsWith(path, ".txtpb") || absl::EndsWith(path, ".textproto") ||
      absl::EndsWith(path, ".txt")) {
    binary = false;
  } else if (absl::EndsWith(path, ".pb") || absl::EndsWith(path, ".bin")) {
    binary = true;
  } else {
    // A binary result starts with field 1 (format): tag 0x0A, its length, the name.
    const std::string prefix =
        absl::StrCat("\x0a", std::string(1, static_cast<char>(sizeof(kResultFormatName) - 1)),
                     kResultFormatName);
    binary = absl::StartsWith(*bytes, prefix);
  }
  absl::StatusOr<proto::Result> result = binary ? ResultFromBinary(*bytes) : ResultFromText(*bytes);
  if (!result.ok()) return Prefixed(what, result.status());
  return result;
}

std::string ResultSummary(const proto::Result& result) {
  using tt::prof::FormatDuration;
  const proto::ResultPayload& p = result.payload();
  const proto::Performance& perf = p.performance();
  const proto::LatencyStatistics& l = perf.latency();
  const proto::Validity& v = p.validity();
  const proto::Accuracy& a = p.accuracy();
  const std::string rule(56, '=');
  std::string out;
  auto line = [&](absl::string_view key, absl::string_view value) {
    absl::StrAppendFormat(&out, "%-30s: %s\n", key, value);
  };
  absl::StrAppend(&out, rule, "\nTinyMLPerf Results Summary\n", rule, "\n");
  line("Task", p.task());
  line("Scenario", ScenarioProtoName(p.scenario()));
  std::vector<std::string> params;
  for (const auto& [k, val] : p.recipe().parameters()) params.push_back(absl::StrCat(k, "=", val));
  std::sort(params.begin(), params.end());
  line("Recipe", params.empty()
                     ? p.recipe().name()
                     : absl::StrCat(p.recipe().name(), " {", absl::StrJoin(params, ", "), "}"));
  if (!p.submitter().empty()) line("Submitter", p.submitter());
  line("Result is", v.valid() ? "VALID" : "INVALID");
  const bool offline = p.scenario() == proto::OFFLINE;
  line(
      "  Min queries satisfied",
      absl::StrCat(
          Yes(v.min_query_count_met()), " (", offline ? perf.sample_count() : perf.query_count(),
          " ", offline ? "samples" : "queries", ", minimum ",
          offline ? p.settings().offline_min_sample_count() : p.settings().min_query_count(), ")"));
  line("  Min duration satisfied",
       absl::StrFormat("%s (%.3f s, minimum %.3f s)", Yes(v.min_duration_met()), perf.duration_s(),
                       p.settings().min_duration_s()));
  if (!offline) line("  Early stopping satisfied", Yes(v.early_stopping_met()));
  if (p.scenario() == proto::SERVER) {
    line("  Latency bound satisfied",
         absl::StrFormat("%s (%d of %d queries above %s)", Yes(v.latency_bound_met()),
                         perf.overlatency_count(), perf.query_count(),
                         FormatDuration(p.settings().server_latency_bound_ns())));
  }
  line("  Quality target satisfied",
       a.metric().empty()
           ? std::string("NO (not measured)")
           : absl::StrFormat("%s (%s %.6g %s %.6g = %.4g%% of reference %.6g)",
                             Yes(v.quality_target_met()), a.metric(), a.value(),
                             a.higher_is_better() ? ">= target" : "<= target", a.target_value(),
                             100 * a.target_fraction(), a.reference_value()));
  for (const std::string& why : v.reasons()) line("  Reason", why);
  const proto::EarlyStopping& es = perf.early_stopping();
  if (offline) {
    line("Samples per second", absl::StrFormat("%.6g", perf.samples_per_second()));
  } else if (es.claim_possible()) {
    line(absl::StrFormat("Early stopping p%g latency", es.percentile()),
         absl::StrFormat("%s (with %g%% confidence the true p%g is <= this; %d queries, "
                         "at most %d above it)",
                         FormatDuration(es.latency_bound_ns()), 100 * es.confidence(),
                         es.percentile(), perf.query_count(), es.overlatency_allowed()));
  } else {
    line("Early stopping", absl::StrFormat("no claim possible: %d queries, need >= %d",
                                           perf.query_count(), es.min_queries()));
  }
  if (p.has_baseline()) {
    const proto::BaselineComparison& c = p.baseline();
    auto value = [&](double v) {
      return absl::EndsWith(c.metric(), "_ns") ? FormatDuration(v) : absl::StrFormat("%.6g", v);
    };
    line("Speedup vs baseline",
         absl::StrFormat("%.3gx (%s: %s vs %s for '%s', measured in the same run)", c.speedup(),
                         c.metric(), value(c.value()), value(c.baseline_value()),
                         c.baseline_recipe()));
    std::vector<std::string> ratios;
    for (const auto& [k, r] : c.ratios()) ratios.push_back(absl::StrFormat("%s %.3g", k, r));
    std::sort(ratios.begin(), ratios.end());
    if (!ratios.empty()) line("Ratios to baseline", absl::StrJoin(ratios, ", "));
  } else {
    line("Speedup vs baseline", "none recorded (cannot be ranked)");
  }

  absl::StrAppend(&out, rule, "\nAdditional Stats\n", rule, "\n");
  line("Queries / samples", absl::StrCat(perf.query_count(), " / ", perf.sample_count()));
  line("Duration", absl::StrFormat("%.3f s", perf.duration_s()));
  line("Queries per second", absl::StrFormat("%.6g", perf.queries_per_second()));
  line("Samples per second", absl::StrFormat("%.6g", perf.samples_per_second()));
  const char* unit = offline ? " (per batch)" : "";
  line(absl::StrCat("Min latency", unit), FormatDuration(l.min_ns()));
  line(absl::StrCat("Max latency", unit), FormatDuration(l.max_ns()));
  line(absl::StrCat("Mean latency", unit),
       absl::StrFormat("%s (stddev %s)", FormatDuration(l.mean_ns()),
                       FormatDuration(l.stddev_ns())));
  const std::pair<const char*, double> pct[] = {{"50.00", l.p50_ns()},
                                                {"90.00", l.p90_ns()},
                                                {"95.00", l.p95_ns()},
                                                {"99.00", l.p99_ns()},
                                                {"99.90", l.p999_ns()}};
  for (const auto& [name, value] : pct) {
    line(absl::StrCat(name, " percentile latency"), FormatDuration(value));
  }
  for (const auto& [name, ci] : {std::pair{"p50", &l.p50_ci()}, std::pair{"p90", &l.p90_ci()},
                                 std::pair{"p50 (blocks)", &l.p50_block_ci()}}) {
    line(absl::StrCat(name, " confidence interval"),
         absl::StrFormat("[%s, %s] at %.1f%%", FormatDuration(ci->lo()), FormatDuration(ci->hi()),
                         100 * ci->level()));
  }
  line("Model size", absl::StrCat(p.model_size_bytes(), " bytes"));
  line("Peak memory", absl::StrCat(p.peak_memory_bytes(), " bytes"));
  if (!a.metric().empty()) line("Accuracy samples", absl::StrCat(a.samples()));

  absl::StrAppend(&out, rule, "\nSystem and run\n", rule, "\n");
  const proto::SystemDescription& s = p.system();
  line("CPU", absl::StrCat(s.cpu_model(), s.cpu_vendor().empty() ? "" : " (", s.cpu_vendor(),
                           s.cpu_vendor().empty() ? "" : ")"));
  line("Cores", absl::StrCat(s.logical_cores(), " logical, ", s.physical_cores(), " physical, ",
                             s.online_cores(), " online"));
  line("CPU features", absl::StrJoin(s.cpu_features(), " "));
  line("Kernel ISA", s.kernel_isa());
  line("Compiler", s.compiler());
  line("Build", absl::StrCat(s.compilation_mode(), s.ndebug() ? ", NDEBUG" : "",
                             s.optimized() ? ", optimized" : ", UNOPTIMIZED",
                             s.sanitizers().empty() ? "" : ", sanitizer: ", s.sanitizers()));
  line("OS", s.os());
  const proto::MachineLoad& load = p.load();
  line("Machine load",
       absl::StrFormat("%s: other processes %.2f +- %.2f cores, load avg %.2f -> %.2f%s",
                       load.busy() ? "BUSY" : "quiet", load.other_cpu_cores(),
                       load.other_cpu_cores_error(), load.load_avg_1m_before(),
                       load.load_avg_1m_after(),
                       load.note().empty() ? "" : absl::StrCat(" (", load.note(), ")")));
  line("Seed", absl::StrCat(p.seed()));
  line("Start / end (UTC)", absl::StrCat(FormatUnixMs(p.start_time_unix_ms()), " / ",
                                         FormatUnixMs(p.end_time_unix_ms())));
  line("Payload SHA-256", result.payload_sha256());
  absl::StrAppend(&out, rule, "\n");
  return out;
}

}  // namespace tt::bench
