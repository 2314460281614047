// Profiles one training step (forward, cross-entropy, backward, Adam) of the reference
// MLP or CNN at batch 64 on a chosen backend and prints the op table: where the step's
// time goes, and so what to accelerate next.
//
//   bazel run -c opt //acceleration:profile_step -- --model=cnn --backend=simd
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "acceleration/backends.h"
#include "profiling/profiler.h"
#include "tensor/check.h"
#include "tensor/models.h"
#include "tensor/ops.h"
#include "tensor/optim.h"

ABSL_FLAG(std::string, model, "cnn", "mlp or cnn");
ABSL_FLAG(std::string, backend, "auto", "a registered backend");
ABSL_FLAG(int, steps, 5, "steps profiled (after 2 warm-up steps)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace tt;
  absl::StatusOr<tensor::Backend*> backend = tensor::FindBackend(absl::GetFlag(FLAGS_backend));
  if (!backend.ok()) {
    std::fprintf(stderr, "profile_step: %s\n", std::string(backend.status().message()).c_str());
    return 1;
  }
  const bool cnn = absl::GetFlag(FLAGS_model) == "cnn";
  tensor::ScopedBackend use(*backend);
  auto model = cnn ? tensor::MakeCnn(tensor::CnnConfig{}, 1) : tensor::MakeMlp(tensor::MlpConfig{}, 1);
  tensor::Rng rng(2);
  const tensor::Tensor x =
      cnn ? tensor::Tensor::Randn({64, 1, 28, 28}, rng) : tensor::Tensor::Randn({64, 784}, rng);
  std::vector<int32_t> labels(64);
  for (auto& l : labels) l = static_cast<int32_t>(rng.UniformInt(10));
  tensor::Adam adam(model->Parameters(), {});
  auto step = [&] {
    adam.ZeroGrad();
    tensor::CrossEntropy(model->Forward(x), labels).Backward();
    adam.Step();
  };
  step();
  step();
  prof::Profiler profiler;
  for (int i = 0; i < absl::GetFlag(FLAGS_steps); ++i) step();
  profiler.Stop();
  std::printf("%s training step x %d on backend %s\n%s", cnn ? "cnn" : "mlp",
              absl::GetFlag(FLAGS_steps), (*backend)->name().c_str(),
              profiler.TableString(20).c_str());
  return 0;
}
