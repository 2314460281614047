// MemoryProfiler against allocation scripts whose bytes are known exactly: a tensor of n
// floats is one allocation of 4n bytes, attributed to the op whose OpScope made it.
#include "profiling/memory_profiler.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/nn.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::prof {
namespace {

using tensor::Tensor;

const OpMemory* FindOp(const std::vector<OpMemory>& ops, const std::string& name) {
  for (const OpMemory& o : ops) {
    if (o.op == name) return &o;
  }
  return nullptr;
}

TEST(MemoryProfilerTest, ZerosIsOneAllocationOutsideOps) {
  MemoryProfiler memory;
  Tensor z = Tensor::Zeros({10});
  EXPECT_EQ(memory.num_allocations(), 1);
  EXPECT_EQ(memory.total_allocated_bytes(), 40);
  EXPECT_EQ(memory.current_bytes(), 40);
  EXPECT_EQ(memory.peak_bytes(), 40);
  EXPECT_EQ(memory.num_frees(), 0);
  const std::vector<OpMemory> ops = memory.BytesByOp();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].op, "");
  EXPECT_EQ(ops[0].allocations, 1);
  EXPECT_EQ(ops[0].bytes, 40);
  EXPECT_EQ(ops[0].peak_live_bytes, 40);
  EXPECT_EQ(ops[0].live_bytes_at_peak, 40);
}

TEST(MemoryProfilerTest, MatMulOutputIsAttributedToMatmul) {
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  MemoryProfiler memory;
  Tensor c = MatMul(a, b);  // (3, 5): 15 floats; no gradient, so nothing else
  EXPECT_EQ(memory.num_allocations(), 1);
  const std::vector<OpMemory> ops = memory.BytesByOp();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].op, "matmul");
  EXPECT_EQ(ops[0].bytes, 60);
  EXPECT_EQ(memory.current_bytes(), 60);
}

TEST(MemoryProfilerTest, PeakIsTheMostAliveAtOnce) {
  MemoryProfiler memory;
  Tensor a = Tensor::Zeros({100});  // 400 B
  Tensor b = Tensor::Zeros({50});   // 200 B, while a is alive
  a = Tensor();                     // a freed
  EXPECT_EQ(memory.peak_bytes(), 600);
  EXPECT_EQ(memory.current_bytes(), 200);
  EXPECT_EQ(memory.num_allocations(), 2);
  EXPECT_EQ(memory.num_frees(), 1);
  EXPECT_EQ(memory.total_allocated_bytes(), 600);
  Tensor c = Tensor::Zeros({25});   // 100 B: current 300, below the peak
  EXPECT_EQ(memory.peak_bytes(), 600);
  EXPECT_EQ(memory.current_bytes(), 300);
}

TEST(MemoryProfilerTest, PerOpPeakAndShareOfThePeak) {
  Tensor x = Tensor::Ones({8});
  MemoryProfiler memory;
  Tensor r1 = Relu(x);           // relu: 32 B live
  Tensor r2 = Relu(x);           // relu: 64 B live
  r1 = Tensor();                 // relu: 32 B live
  Tensor z = Tensor::Zeros({4}); // "": 16 B; scope 48 B, below the 64 B peak
  const std::vector<OpMemory> ops = memory.BytesByOp();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].op, "relu");  // by bytes descending
  EXPECT_EQ(ops[0].allocations, 2);
  EXPECT_EQ(ops[0].bytes, 64);
  EXPECT_EQ(ops[0].peak_live_bytes, 64);
  EXPECT_EQ(ops[0].live_bytes_at_peak, 64);
  EXPECT_EQ(ops[1].op, "");
  EXPECT_EQ(ops[1].bytes, 16);
  EXPECT_EQ(ops[1].live_bytes_at_peak, 0) << "z came after the peak";
}

TEST(MemoryProfilerTest, FreeOfStorageFromBeforeTheScopeIsIgnored) {
  Tensor before = Tensor::Zeros({1000});
  MemoryProfiler memory;
  before = Tensor();  // its free is reported, but the allocation was not ours
  EXPECT_EQ(memory.current_bytes(), 0);
  EXPECT_EQ(memory.peak_bytes(), 0);
  EXPECT_EQ(memory.num_frees(), 0);
  EXPECT_EQ(memory.num_allocations(), 0);
  EXPECT_TRUE(memory.LiveAllocations().empty());
}

TEST(MemoryProfilerTest, LeakAppearsInLiveAllocationsWithItsOp) {
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  Tensor kept;
  MemoryProfiler memory;
  {
    Tensor temp = Tensor::Zeros({7});  // allocation 0, freed at the end of the block
    kept = MatMul(a, b);               // allocation 1, kept past Stop()
  }
  memory.Stop();
  const std::vector<LiveAllocation> live = memory.LiveAllocations();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].bytes, 60);
  EXPECT_EQ(live[0].op, "matmul");
  EXPECT_EQ(live[0].sequence, 1);

  // Frozen at Stop(): later frees and allocations do not change the numbers.
  kept = Tensor();
  Tensor after = Tensor::Zeros({100});
  EXPECT_FALSE(memory.running());
  EXPECT_EQ(memory.LiveAllocations().size(), 1u);
  EXPECT_EQ(memory.current_bytes(), 60);
  EXPECT_EQ(memory.num_allocations(), 2);
  EXPECT_EQ(memory.num_frees(), 1);
}

TEST(MemoryProfilerTest, NestedProfilersBothSeeTheirEvents) {
  MemoryProfiler outer;
  Tensor a = Tensor::Zeros({10});  // 40 B: outer only
  Tensor b;
  {
    MemoryProfiler inner;
    b = Tensor::Zeros({20});       // 80 B: both
    a = Tensor();                  // outer's allocation: inner ignores the free
    EXPECT_EQ(inner.num_allocations(), 1);
    EXPECT_EQ(inner.num_frees(), 0);
    EXPECT_EQ(inner.current_bytes(), 80);
    EXPECT_EQ(inner.peak_bytes(), 80);
  }
  EXPECT_EQ(outer.num_allocations(), 2);
  EXPECT_EQ(outer.num_frees(), 1);
  EXPECT_EQ(outer.peak_bytes(), 120);
  EXPECT_EQ(outer.current_bytes(), 80);
}

TEST(MemoryProfilerTest, ReportNamesTheOpsAndTheSurvivors) {
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  MemoryProfiler memory;
  Tensor c = MatMul(a, b);
  Tensor z = Tensor::Zeros({10});
  memory.Stop();
  const std::string report = memory.Report();
  EXPECT_NE(report.find("matmul"), std::string::npos) << report;
  EXPECT_NE(report.find("(outside ops)"), std::string::npos) << report;
  EXPECT_NE(report.find("still alive: 2 allocations, 100 B"), std::string::npos) << report;
  EXPECT_NE(report.find("peak"), std::string::npos) << report;
}

TEST(MemoryProfilerTest, ReportCutsLongListsAtTopN) {
  MemoryProfiler memory;
  std::vector<Tensor> keep;
  for (int i = 1; i <= 5; ++i) keep.push_back(Tensor::Zeros({i}));
  const std::string report = memory.Report(/*top_n=*/2);
  EXPECT_NE(report.find("... and 3 more (24 B)"), std::string::npos) << report;
  EXPECT_NE(report.find("(still running)"), std::string::npos) << report;
}

// A Linear layer's forward and backward, x: (B, in) -> y: (B, out), loss = Sum(y).
TEST(MemoryProfilerTest, LinearForwardBackward) {
  constexpr int64_t kBatch = 16, kIn = 8, kOut = 4;
  tensor::Rng rng(7);
  tensor::Linear linear(kIn, kOut, rng);  // parameters allocated before the scope
  Tensor x = Tensor::Randn({kBatch, kIn}, rng);
  MemoryProfiler memory;
  {
    Tensor y = linear.Forward(x);  // m = x W ("matmul"), y = m + b ("add")
    Tensor loss = Sum(y);
    loss.Backward();
    // While dW = x^T dy is computed (a "matmul" of kIn x kOut), the graph still holds
    // m (an input of add's node) and y (held here and by sum's node). So at that
    // moment at least m, y and dW are alive together.
    EXPECT_GE(memory.peak_bytes(), 4 * (kBatch * kOut + kBatch * kOut + kIn * kOut));
    EXPECT_GE(memory.total_allocated_bytes(), memory.peak_bytes());
    const std::vector<OpMemory> ops = memory.BytesByOp();
    const OpMemory* matmul = FindOp(ops, "matmul");
    ASSERT_NE(matmul, nullptr);
    EXPECT_EQ(matmul->allocations, 2) << "forward m and backward dW";
    EXPECT_EQ(matmul->bytes, 4 * (kBatch * kOut + kIn * kOut));
    const OpMemory* add = FindOp(ops, "add");
    ASSERT_NE(add, nullptr);
    EXPECT_EQ(add->bytes, 4 * kBatch * kOut);
  }
  memory.Stop();
  // The graph is gone; what stays are the two gradients autograd stores in the leaves
  // (copies made by "autograd.accumulate"): W.grad (kIn x kOut) and b.grad (kOut).
  const std::vector<LiveAllocation> live = memory.LiveAllocations();
  ASSERT_EQ(live.size(), 2u) << memory.Report();
  int64_t live_bytes = 0;
  for (const LiveAllocation& a : live) {
    live_bytes += a.bytes;
    EXPECT_EQ(a.op, "autograd.accumulate");
  }
  EXPECT_EQ(live_bytes, 4 * (kIn * kOut + kOut));
  EXPECT_EQ(memory.current_bytes(), live_bytes);
}

}  // namespace
}  // namespace tt::prof
