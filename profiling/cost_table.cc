// The cost of the course's reference models: FLOPs, bytes moved and parameters of a
// forward pass (FlopCounter), and the peak tensor memory of one CNN training step
// (MemoryProfiler). Counts, not timings: the same on every machine.
//
//   bazel run //profiling:cost_table                      # the summary table
//   bazel run //profiling:cost_table -- --detail          # + per-layer and per-op tables
//   bazel run //profiling:cost_table -- --json=/tmp/cost.json
//
// The JSON keys are listed in profiling/README.md.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "profiling/flop_counter.h"
#include "profiling/memory_profiler.h"
#include "tensor/flat_json.h"
#include "tensor/models.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

ABSL_FLAG(std::string, json, "", "write the figures to this file as one flat JSON object");
ABSL_FLAG(bool, detail, false, "also print each model's per-layer and per-op tables");

namespace tt::prof {
namespace {

using tensor::Tensor;

struct Row {
  std::string model;
  ModelCost cost;
};

void PrintRow(const Row& r) {
  std::printf("%-30s %16s %14s %8.2f %12s\n", r.model.c_str(),
              absl::StrFormat("%d", r.cost.total_flops).c_str(),
              absl::StrFormat("%d", r.cost.total_bytes).c_str(),
              static_cast<double>(r.cost.total_flops) / static_cast<double>(r.cost.total_bytes),
              absl::StrFormat("%d", r.cost.parameters).c_str());
}

// One CNN training step (forward, cross-entropy, backward) on a batch of `batch`
// images, under a MemoryProfiler and a FlopCounter at once. The model (its parameters)
// exists before the profiler starts, so the peak is the step's own memory: activations
// kept for the backward pass, gradients, temporaries.
struct TrainStep {
  int64_t peak_bytes, allocated_bytes, allocations, live_bytes, flops;
  std::string memory_report;
};

TrainStep CnnTrainStep(tensor::Sequential& cnn, int64_t batch) {
  tensor::Rng rng(7);
  Tensor x = Tensor::Randn({batch, 1, 28, 28}, rng);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
  cnn.ZeroGrad();
  MemoryProfiler memory;
  FlopCounter count;
  {
    Tensor loss = CrossEntropy(cnn.Forward(x), labels);
    loss.Backward();
  }
  memory.Stop();
  count.Stop();
  return {memory.peak_bytes(), memory.total_allocated_bytes(), memory.num_allocations(),
          memory.current_bytes(), count.total_flops(), memory.Report(8)};
}

int Run() {
  const bool detail = absl::GetFlag(FLAGS_detail);
  auto mlp = tensor::MakeMlp(tensor::MlpConfig{}, /*seed=*/1);
  auto cnn = tensor::MakeCnn(tensor::CnnConfig{}, /*seed=*/1);
  tensor::GptConfig gpt_config;  // vocab 96, d_model 128, 4 heads, 4 layers, context 256
  tensor::Gpt gpt(gpt_config, /*seed=*/1);
  const int64_t t = gpt_config.context_length;
  std::vector<int32_t> ids(static_cast<size_t>(t));
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>(i % gpt_config.vocab_size);
  }

  std::vector<Row> rows;
  rows.push_back({"mlp forward, batch 1", CountForward(*mlp, Tensor::Zeros({1, 784}))});
  rows.push_back({"mlp forward, batch 64", CountForward(*mlp, Tensor::Zeros({64, 784}))});
  rows.push_back({"cnn forward, batch 1", CountForward(*cnn, Tensor::Zeros({1, 1, 28, 28}))});
  rows.push_back({"cnn forward, batch 64", CountForward(*cnn, Tensor::Zeros({64, 1, 28, 28}))});
  rows.push_back({absl::StrFormat("gpt forward, batch 1, T=%d", t),
                  CountGptForward(gpt, ids, /*batch=*/1, t)});
  const TrainStep step = CnnTrainStep(*cnn, /*batch=*/64);

  std::printf("%-30s %16s %14s %8s %12s\n", "pass", "FLOPs", "bytes moved", "FLOP/B",
              "parameters");
  for (const Row& r : rows) PrintRow(r);
  std::printf("\ncnn training step, batch 64 (forward, cross-entropy, backward):\n");
  std::printf("  peak tensor memory  %14lld B\n", static_cast<long long>(step.peak_bytes));
  std::printf("  allocated in total  %14lld B in %lld allocations\n",
              static_cast<long long>(step.allocated_bytes),
              static_cast<long long>(step.allocations));
  std::printf("  alive after it      %14lld B (the parameters' gradients)\n",
              static_cast<long long>(step.live_bytes));
  std::printf("  FLOPs reported      %14lld (forward + every backward kernel)\n",
              static_cast<long long>(step.flops));
  if (detail) {
    for (const Row& r : rows) std::printf("\n== %s\n%s", r.model.c_str(), r.cost.Report().c_str());
    std::printf("\n== cnn training step, batch 64\n%s", step.memory_report.c_str());
  }

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    tensor::FlatJson json;
    json.Add("mlp_forward_flops_b1", rows[0].cost.total_flops);
    json.Add("mlp_forward_bytes_b1", rows[0].cost.total_bytes);
    json.Add("mlp_forward_flops_b64", rows[1].cost.total_flops);
    json.Add("mlp_forward_bytes_b64", rows[1].cost.total_bytes);
    json.Add("mlp_parameters", rows[0].cost.parameters);
    json.Add("cnn_forward_flops_b1", rows[2].cost.total_flops);
    json.Add("cnn_forward_bytes_b1", rows[2].cost.total_bytes);
    json.Add("cnn_forward_flops_b64", rows[3].cost.total_flops);
    json.Add("cnn_forward_bytes_b64", rows[3].cost.total_bytes);
    json.Add("cnn_parameters", rows[2].cost.parameters);
    json.Add("gpt_forward_flops_t256", rows[4].cost.total_flops);
    json.Add("gpt_forward_bytes_t256", rows[4].cost.total_bytes);
    json.Add("gpt_parameters", rows[4].cost.parameters);
    json.Add("cnn_train_peak_bytes_b64", step.peak_bytes);
    json.Add("cnn_train_allocated_bytes_b64", step.allocated_bytes);
    json.Add("cnn_train_live_bytes_b64", step.live_bytes);
    json.Add("cnn_train_flops_b64", step.flops);
    const absl::Status status = json.WriteFile(json_path);
    if (!status.ok()) {
      std::fprintf(stderr, "cost_table: %s\n", std::string(status.message()).c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace tt::prof

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tt::prof::Run();
}
