// Tests of the op-level profiler: counting, self vs total time with real nested op
// scopes, percentages, layer paths, the Chrome trace (parsed back), errors, and a real
// MLP forward. No assertion depends on how fast anything ran: the time checks are either
// exact identities of the recorded integers or follow from spinning until the clock has
// advanced.
#include "profiling/profiler.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tensor/instrument.h"
#include "tensor/models.h"
#include "tensor/ops.h"

namespace tt::prof {
namespace {

using tensor::OpEvent;
using tensor::OpScope;

// Busy-waits until at least `ns` nanoseconds have passed on the steady clock.
void SpinFor(int64_t ns) {
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
             .count() < ns) {
  }
}

OpEvent Event(const char* name, int64_t flops, int64_t bytes) {
  OpEvent e;
  e.name = name;
  e.flops = flops;
  e.bytes = bytes;
  return e;
}

const OpStats* Find(const std::vector<OpStats>& table, const std::string& op) {
  for (const OpStats& s : table) {
    if (s.op == op) return &s;
  }
  return nullptr;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A JSON syntax check (RFC 8259 grammar, no semantics): true when `s` is one value.
class JsonChecker {
 public:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  bool Valid() {
    Space();
    if (!Value()) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  void Space() {
    while (i_ < s_.size() && std::string(" \t\r\n").find(s_[i_]) != std::string::npos) ++i_;
  }
  bool Eat(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool Value() {
    Space();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') return Container('}', true);
    if (c == '[') return Container(']', false);
    if (c == '"') return String();
    for (const char* word : {"true", "false", "null"}) {
      if (s_.compare(i_, std::strlen(word), word) == 0) return i_ += std::strlen(word), true;
    }
    return Number();
  }
  bool Container(char close, bool object) {
    ++i_;
    if (Eat(close)) return true;
    do {
      if (object && !(Space(), String() && Eat(':'))) return false;
      if (!Value()) return false;
    } while (Eat(','));
    return Eat(close);
  }
  bool String() {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    for (++i_; i_ < s_.size(); ++i_) {
      if (s_[i_] == '\\') {
        ++i_;
      } else if (s_[i_] == '"') {
        return ++i_, true;
      } else if (static_cast<unsigned char>(s_[i_]) < 0x20) {
        return false;
      }
    }
    return false;
  }
  bool Number() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    while (i_ < s_.size() && std::string("0123456789.eE+-").find(s_[i_]) != std::string::npos) {
      ++i_;
    }
    return i_ > start && std::isdigit(static_cast<unsigned char>(s_[i_ - 1]));
  }

  const std::string& s_;
  size_t i_ = 0;
};

TEST(JsonCheckerTest, AcceptsJsonAndRejectsBrokenText) {
  EXPECT_TRUE(JsonChecker(R"({"a":[1,2.5e-3,{"b":"x\"y"}],"c":null})").Valid());
  EXPECT_FALSE(JsonChecker(R"({"a":[1,2,}])").Valid());
  EXPECT_FALSE(JsonChecker(R"({"a":1)").Valid());
}

TEST(ProfilerTest, CountsCallsFlopsAndBytesPerOp) {
  Profiler profiler;
  for (int i = 0; i < 3; ++i) {
    profiler.OnOpBegin(Event("matmul", 1000, 100));
    profiler.OnOpEnd(Event("matmul", 1000, 100));
  }
  for (int i = 0; i < 2; ++i) {
    profiler.OnOpBegin(Event("relu", 10, 80));
    profiler.OnOpEnd(Event("relu", 10, 80));
  }
  profiler.Stop();
  const std::vector<OpStats> table = profiler.Table();
  ASSERT_EQ(table.size(), 2u);
  const OpStats* matmul = Find(table, "matmul");
  const OpStats* relu = Find(table, "relu");
  ASSERT_NE(matmul, nullptr);
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(matmul->calls, 3);
  EXPECT_EQ(matmul->flops, 3000);
  EXPECT_EQ(matmul->bytes, 300);
  EXPECT_DOUBLE_EQ(matmul->intensity, 10.0);
  EXPECT_EQ(relu->calls, 2);
  EXPECT_DOUBLE_EQ(relu->intensity, 0.125);
  EXPECT_EQ(profiler.num_ops(), 5);
  for (const OpStats& s : table) {
    EXPECT_LE(s.self_ns, s.total_ns) << s.op;
    EXPECT_GE(s.self_ns, 0) << s.op;
  }
  EXPECT_GE(table[0].self_ns, table[1].self_ns) << "sorted by self time";
}

TEST(ProfilerTest, NestedOpTimeIsExcludedFromTheParentsSelfTime) {
  Profiler profiler;
  {
    OpScope outer("outer", {}, 100, 10);
    SpinFor(200'000);
    {
      OpScope inner("inner", {}, 50, 5);
      SpinFor(1'000'000);
    }
    SpinFor(200'000);
  }
  profiler.Stop();
  const std::vector<OpStats> table = profiler.Table();
  const OpStats* outer = Find(table, "outer");
  const OpStats* inner = Find(table, "inner");
  ASSERT_NE(outer, nullptr);
  ASSERT_NE(inner, nullptr);
  // Exact identities of the recorded times.
  EXPECT_EQ(outer->self_ns + inner->total_ns, outer->total_ns);
  EXPECT_EQ(inner->self_ns, inner->total_ns) << "nothing is nested in inner";
  // The spins guarantee these (the clock only moves forward).
  EXPECT_GE(inner->total_ns, 1e6);
  EXPECT_GE(outer->self_ns, 4e5);
  EXPECT_LT(outer->self_ns, outer->total_ns);

  const std::vector<OpCall> calls = profiler.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].op, "outer");
  EXPECT_EQ(calls[0].depth, 0);
  EXPECT_EQ(calls[0].parent, -1);
  EXPECT_EQ(calls[1].op, "inner");
  EXPECT_EQ(calls[1].depth, 1);
  EXPECT_EQ(calls[1].parent, 0);
  EXPECT_LE(calls[0].begin_ns, calls[1].begin_ns);
  EXPECT_LE(calls[1].end_ns, calls[0].end_ns);
}

TEST(ProfilerTest, PercentOfSelfTimeSumsTo100) {
  Profiler profiler;
  for (int i = 0; i < 4; ++i) {
    OpScope a("a", {}, 1, 1);
    SpinFor(20'000);
    OpScope b("b", {}, 1, 1);
    SpinFor(10'000);
  }
  { OpScope c("c", {}, 0, 0); }
  profiler.Stop();
  double sum = 0;
  for (const OpStats& s : profiler.Table()) sum += s.percent;
  EXPECT_NEAR(sum, 100.0, 1e-9);
  EXPECT_GE(profiler.wall_ns(), 4 * 30'000.0);
}

TEST(ProfilerTest, RecordsLayerPathsAndLayerTable) {
  Profiler profiler;
  profiler.OnLayerBegin("block0");
  profiler.OnLayerBegin("attn");
  profiler.OnOpBegin(Event("matmul", 100, 10));
  profiler.OnOpEnd(Event("matmul", 100, 10));
  profiler.OnLayerEnd("attn");
  profiler.OnOpBegin(Event("add", 7, 10));
  profiler.OnOpEnd(Event("add", 7, 10));
  profiler.OnLayerEnd("block0");
  profiler.OnOpBegin(Event("sum", 1, 10));
  profiler.OnOpEnd(Event("sum", 1, 10));
  profiler.Stop();

  const std::vector<OpCall> calls = profiler.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].layer, "block0/attn");
  EXPECT_EQ(calls[1].layer, "block0");
  EXPECT_EQ(calls[2].layer, "");

  const std::vector<LayerStats> layers = profiler.LayerTable();
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].path, "block0");
  EXPECT_EQ(layers[0].calls, 1);
  EXPECT_EQ(layers[0].flops, 107) << "its own op and its sub-layer's";
  EXPECT_EQ(layers[1].path, "block0/attn");
  EXPECT_EQ(layers[1].flops, 100);
  EXPECT_LE(layers[1].total_ns, layers[0].total_ns);
  const std::string text = profiler.LayerTableString();
  EXPECT_TRUE(absl::StrContains(text, "block0")) << text;
  EXPECT_TRUE(absl::StrContains(text, "  attn")) << "indented under block0:\n" << text;
}

TEST(ProfilerTest, WritesAChromeTraceThatParsesBack) {
  Profiler profiler;
  const tensor::Shape a = {64, 784}, b = {784, 256};
  {
    tensor::LayerScope layer([] { return std::string("0: Linear(784 -> 256)"); });
    OpScope matmul("matmul", {&a, &b}, 2 * 64 * 784 * 256, 4 * (64 * 784 + 784 * 256));
    OpScope nested("inner \"quoted\"", {}, 0, 0);
  }
  { OpScope relu("relu", {&a}, 64 * 784, 8 * 64 * 784); }
  profiler.Stop();
  const std::string path = TempPath("trace.json");
  ASSERT_TRUE(profiler.WriteChromeTrace(path).ok());
  const std::string json = ReadFile(path);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"displayTimeUnit\":\"ms\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"shapes\":\"(64, 784) x (784, 256)\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"name\":\"inner \\\"quoted\\\"\"")) << json;

  // One event per line: count and check the complete ("X") events.
  int ops = 0, layers = 0;
  std::istringstream lines(json);
  for (std::string line; std::getline(lines, line);) {
    if (!absl::StrContains(line, "\"ph\":\"X\"")) continue;
    EXPECT_TRUE(absl::StrContains(line, "\"name\":")) << line;
    const size_t dur = line.find("\"dur\":");
    ASSERT_NE(dur, std::string::npos) << line;
    EXPECT_GE(std::strtod(line.c_str() + dur + 6, nullptr), 0.0) << line;
    ops += absl::StrContains(line, "\"cat\":\"op\"");
    layers += absl::StrContains(line, "\"cat\":\"layer\"");
  }
  EXPECT_EQ(ops, 3);
  EXPECT_EQ(layers, 1);
  EXPECT_TRUE(absl::StrContains(json, "\"name\":\"0: Linear(784 -> 256)\"")) << json;
}

TEST(ProfilerTest, TraceErrorNamesTheUnwritablePath) {
  Profiler profiler;
  profiler.Stop();
  const std::string path = "/nonexistent-dir/sub/trace.json";
  const absl::Status status = profiler.WriteChromeTrace(path);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), path)) << status;
}

TEST(ProfilerTest, SeesTheOpsAndLayersOfARealMlpForward) {
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{{32, 16, 8}}, /*seed=*/3);
  tensor::Rng rng(4);
  const tensor::Tensor x = tensor::Tensor::Randn({4, 32}, rng);
  Profiler profiler;
  const tensor::Tensor y = mlp->Forward(x);
  profiler.Stop();
  EXPECT_EQ(y.shape(), (tensor::Shape{4, 8}));

  const std::vector<OpStats> table = profiler.Table();
  for (const char* op : {"matmul", "add", "relu"}) {
    EXPECT_NE(Find(table, op), nullptr) << op << "\n" << profiler.TableString();
  }
  EXPECT_EQ(Find(table, "matmul")->calls, 2);
  EXPECT_EQ(Find(table, "matmul")->flops, 2 * 4 * 32 * 16 + 2 * 4 * 16 * 8);
  bool saw_shapes = false;
  for (const OpCall& c : profiler.Calls()) {
    EXPECT_FALSE(c.layer.empty()) << c.op << " ran inside a Sequential layer";
    saw_shapes |= c.op == "matmul" && c.shapes == "(4, 32) x (32, 16)";
  }
  EXPECT_TRUE(saw_shapes);
  const std::vector<LayerStats> layers = profiler.LayerTable();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].path, "0: Linear(32 -> 16)");
  EXPECT_EQ(layers[1].path, "1: ReLU");

  const std::string text = profiler.TableString();
  for (const char* word : {"matmul", "total", "GFLOP/s", "profiled wall time"}) {
    EXPECT_TRUE(absl::StrContains(text, word)) << word << "\n" << text;
  }
}

TEST(ProfilerTest, TableStringFoldsTheRestBeyondTopN) {
  Profiler profiler;
  for (const char* name : {"a", "b", "c", "d"}) {
    profiler.OnOpBegin(Event(name, 1, 1));
    profiler.OnOpEnd(Event(name, 1, 1));
  }
  profiler.Stop();
  const std::string text = profiler.TableString(/*top_n=*/2);
  EXPECT_TRUE(absl::StrContains(text, "(2 more)")) << text;
}

TEST(ProfilerTest, StopEndsRecordingAndTheDestructorRemovesTheObserver) {
  tensor::Tensor x = tensor::Tensor::Ones({2, 2});
  {
    Profiler profiler;
    EXPECT_TRUE(profiler.running());
    tensor::Relu(x);
    profiler.Stop();
    EXPECT_FALSE(profiler.running());
    tensor::Relu(x);
    EXPECT_EQ(profiler.num_ops(), 1);
    profiler.Stop();  // idempotent
  }
  { Profiler profiler; }
  EXPECT_FALSE(tensor::internal::Instrumented()) << "no observer left installed";
}

TEST(ProfilerTest, IgnoresAnOpThatBeganBeforeIt) {
  tensor::OpObserver other;  // makes `early` active before the profiler exists
  tensor::ScopedOpObserver listen(&other);
  std::optional<Profiler> profiler;
  {
    OpScope early("early", {}, 0, 0);
    profiler.emplace();
    { OpScope inside("inside", {}, 1, 1); }
  }  // `early` ends: an end the profiler never saw begin
  profiler->OnLayerEnd("never-began");
  profiler->Stop();
  const std::vector<OpCall> calls = profiler->Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].op, "inside");
  EXPECT_EQ(calls[0].depth, 0);
  EXPECT_EQ(calls[0].parent, -1);
}

TEST(ProfilerTest, ShapesOnlyWhenAskedAndARecordLimit) {
  ProfilerOptions options;
  options.record_shapes = false;
  options.max_ops_per_thread = 2;
  Profiler profiler(options);
  const tensor::Shape s = {3, 4};
  for (int i = 0; i < 5; ++i) OpScope op("op", {&s}, 1, 1);
  profiler.Stop();
  EXPECT_EQ(profiler.num_ops(), 2);
  EXPECT_EQ(profiler.dropped_ops(), 3);
  for (const OpCall& c : profiler.Calls()) EXPECT_EQ(c.shapes, "");
  EXPECT_TRUE(absl::StrContains(profiler.TableString(), "3 ops not recorded"));
}

TEST(ProfilerTest, RecordsEachThreadSeparately) {
  Profiler profiler;
  { OpScope main_op("main_op", {}, 1, 1); }
  std::thread worker([] {
    OpScope outer("worker_op", {}, 1, 1);
    OpScope inner("worker_inner", {}, 1, 1);
  });
  worker.join();
  profiler.Stop();
  EXPECT_EQ(profiler.num_threads(), 2);
  for (const OpCall& c : profiler.Calls()) {
    EXPECT_EQ(c.thread, c.op == "main_op" ? 1 : 2) << c.op;
    if (c.op == "worker_inner") {
      EXPECT_EQ(c.depth, 1);
    }
  }
}

}  // namespace
}  // namespace tt::prof
