// The instrumentation seam as the ops use it: op events (name, input shapes, FLOPs) and
// allocation events (bytes, the op that allocated), and silence once observers are gone.
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/instrument.h"
#include "tensor/ops.h"

namespace tt::tensor {
namespace {

struct RecordedOp {
  std::string name;
  std::vector<Shape> input_shapes;
  int64_t flops;
  int64_t bytes;
};

class RecordingOpObserver : public OpObserver {
 public:
  void OnOpBegin(const OpEvent& e) override { begins.push_back(Copy(e)); }
  void OnOpEnd(const OpEvent& e) override { ends.push_back(Copy(e)); }

  std::vector<RecordedOp> begins, ends;

 private:
  static RecordedOp Copy(const OpEvent& e) { return {e.name, e.input_shapes, e.flops, e.bytes}; }
};

struct RecordedAlloc {
  const void* ptr;
  size_t bytes;
  std::string op;
};

class RecordingAllocObserver : public AllocObserver {
 public:
  void OnAlloc(const void* ptr, size_t bytes, const char* op) override {
    allocs.push_back({ptr, bytes, op});
  }
  void OnFree(const void* ptr, size_t bytes) override { frees.push_back({ptr, bytes, ""}); }

  std::vector<RecordedAlloc> allocs, frees;
};

TEST(OpObserverTest, SeesMatMulWithShapesAndFlops) {
  RecordingOpObserver observer;
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  {
    ScopedOpObserver listen(&observer);
    MatMul(a, b);
  }
  int matched = 0;
  for (const RecordedOp& e : observer.ends) {
    if (e.name != "matmul") continue;
    ++matched;
    EXPECT_EQ(e.input_shapes, (std::vector<Shape>{{3, 4}, {4, 5}}));
    EXPECT_EQ(e.flops, 2 * 3 * 5 * 4);
    EXPECT_GE(e.bytes, 4 * (3 * 4 + 4 * 5 + 3 * 5)) << "read A and B, write C at least";
  }
  EXPECT_EQ(matched, 1);
  int began = 0;
  for (const RecordedOp& e : observer.begins) began += e.name == "matmul";
  EXPECT_EQ(began, 1);
}

TEST(OpObserverTest, EveryOpReportsAnEvent) {
  Rng rng(80);
  Tensor x = Tensor::Randn({2, 3}, rng);
  Tensor img = Tensor::Randn({1, 1, 4, 4}, rng);
  Tensor w = Tensor::Randn({1, 1, 3, 3}, rng);
  struct Case {
    const char* what;
    std::function<void()> run;
  };
  const std::vector<Case> cases = {
      {"Add", [&] { Add(x, x); }},
      {"Relu", [&] { Relu(x); }},
      {"Sum", [&] { Sum(x, {1}); }},
      {"Transpose", [&] { Transpose(x, 0, 1); }},
      {"Softmax", [&] { Softmax(x); }},
      {"Conv2d", [&] { Conv2d(img, w, Tensor()); }},
      {"MaxPool2d", [&] { MaxPool2d(img, 2, 2); }},
      {"CrossEntropy", [&] { CrossEntropy(x, {0, 2}); }},
  };
  for (const Case& c : cases) {
    RecordingOpObserver observer;
    {
      ScopedOpObserver listen(&observer);
      c.run();
    }
    EXPECT_FALSE(observer.ends.empty()) << c.what;
    EXPECT_EQ(observer.begins.size(), observer.ends.size()) << c.what;
  }
}

TEST(AllocObserverTest, SeesBytesAndTheOpThatAllocated) {
  RecordingAllocObserver observer;
  Tensor a = Tensor::Ones({3, 4});
  Tensor b = Tensor::Ones({4, 5});
  Tensor c, z;
  {
    ScopedAllocObserver listen(&observer);
    c = MatMul(a, b);
    bool found = false;
    for (const RecordedAlloc& r : observer.allocs) {
      if (r.ptr == c.data()) {
        found = true;
        EXPECT_EQ(r.bytes, 3u * 5u * sizeof(float));
        EXPECT_EQ(r.op, "matmul");
      }
    }
    EXPECT_TRUE(found) << "the output of MatMul was not reported";

    z = Tensor::Zeros({7});
    ASSERT_FALSE(observer.allocs.empty());
    EXPECT_EQ(observer.allocs.back().ptr, z.data());
    EXPECT_EQ(observer.allocs.back().bytes, 7 * sizeof(float));
    EXPECT_EQ(observer.allocs.back().op, "") << "made outside any op";
  }
  const void* outside_ptr = z.data();
  z = Tensor();  // freed after `listen` is gone: not reported
  bool freed = false;
  for (const RecordedAlloc& r : observer.frees) freed = freed || r.ptr == outside_ptr;
  EXPECT_FALSE(freed);

  ScopedAllocObserver listen(&observer);
  const void* ptr;
  {
    Tensor t = Tensor::Zeros({5});
    ptr = t.data();
  }
  ASSERT_FALSE(observer.frees.empty());
  EXPECT_EQ(observer.frees.back().ptr, ptr);
  EXPECT_EQ(observer.frees.back().bytes, 5 * sizeof(float));
}

// Records op events and allocations together, to tell which op was running.
class RecordingBoth : public RecordingOpObserver, public RecordingAllocObserver {};

TEST(AllocObserverTest, OutputsAreAttributedToTheOpThatMadeThem) {
  Rng rng(81);
  Tensor x = Tensor::Randn({2, 3}, rng);
  Tensor w = Tensor::Randn({3, 4}, rng);
  Tensor img = Tensor::Randn({1, 2, 4, 4}, rng);
  Tensor k = Tensor::Randn({3, 2, 3, 3}, rng);
  struct Case {
    const char* what;
    std::function<Tensor()> run;
  };
  for (const Case& c : std::vector<Case>{
           {"MatMul", [&] { return MatMul(x, w); }},
           {"Conv2d", [&] { return Conv2d(img, k, Tensor()); }},
           {"MaxPool2d", [&] { return MaxPool2d(img, 2, 2); }},
           {"Add", [&] { return Add(x, x); }},
           {"Relu", [&] { return Relu(x); }},
           {"Sum", [&] { return Sum(x, {0}); }},
           {"Transpose", [&] { return Transpose(x, 0, 1); }},
           {"Softmax", [&] { return Softmax(x); }},
           {"LayerNorm", [&] { return LayerNorm(x, Tensor::Ones({3}), Tensor::Zeros({3})); }},
       }) {
    RecordingBoth both;
    Tensor out;
    {
      ScopedOpObserver listen_ops(&both);
      ScopedAllocObserver listen_allocs(&both);
      out = c.run();
    }
    std::string op_of_output = "(not reported)";
    for (const RecordedAlloc& r : both.allocs) {
      if (r.ptr == out.data()) op_of_output = r.op;
    }
    bool named_an_op_event = false;
    for (const RecordedOp& e : both.ends) named_an_op_event |= e.name == op_of_output;
    EXPECT_TRUE(named_an_op_event) << c.what << ": its output's allocation was attributed to op \""
                                   << op_of_output << "\", which is not one of the ops that ran";
  }
}

TEST(ObserverTest, NothingIsSeenAfterRemoval) {
  RecordingOpObserver ops;
  RecordingAllocObserver allocs;
  AddOpObserver(&ops);
  AddAllocObserver(&allocs);
  MatMul(Tensor::Ones({2, 2}), Tensor::Ones({2, 2}));
  EXPECT_FALSE(ops.ends.empty());
  EXPECT_FALSE(allocs.allocs.empty());
  RemoveOpObserver(&ops);
  RemoveAllocObserver(&allocs);
  EXPECT_FALSE(internal::Instrumented());
  const size_t op_events = ops.begins.size() + ops.ends.size();
  const size_t alloc_events = allocs.allocs.size() + allocs.frees.size();
  Tensor y = MatMul(Tensor::Ones({2, 2}), Tensor::Ones({2, 2}));
  Relu(y);
  EXPECT_EQ(ops.begins.size() + ops.ends.size(), op_events);
  EXPECT_EQ(allocs.allocs.size() + allocs.frees.size(), alloc_events);
}

}  // namespace
}  // namespace tt::tensor
