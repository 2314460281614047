// Profiles one training step (forward, cross-entropy, backward, Adam) of the reference
// MLP or CNN at batch 64 on a chosen backend and prints the op table: where the step's
// time goes, and so what to accelerate next. --inference profiles forward passes only
// (no autograd, Linear + activation fused), e.g. the batch-1 latency.
//
//   bazel run -c opt //acceleration:profile_step -- --model=cnn --backend=simd
//   bazel run -c opt //acceleration:profile_step -- --model=cnn --batch=1 --inference --steps=1000
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
ABSL_FLAG(int, batch, 64, "images per step");
ABSL_FLAG(bool, inference, false, "profile forward passes without autograd instead of steps");

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
  const int batch = absl::GetFlag(FLAGS_batch);
  TT_CHECK(batch >= 1, "profile_step: --batch must be >= 1, got ", batch);
  const bool inference = absl::GetFlag(FLAGS_inference);
  const tensor::Tensor x =
      cnn ? tensor::Tensor::Randn({batch, 1, 28, 28}, rng)
          : tensor::Tensor::Randn({batch, 784}, rng);
  std::vector<int32_t> labels(batch);
  for (auto& l : labels) l = static_cast<int32_t>(rng.UniformInt(10));
  tensor::Adam adam(model->Parameters(), {});
  auto step = [&] {
    if (inference) {
      tensor::NoGradGuard no_grad;
      (void)model->Forward(x);
      return;
    }
    adam.ZeroGrad();
    tensor::CrossEntropy(model->Forward(x), labels).Backward();
    adam.Step();
  };
  step();
  step();
  prof::Profiler profiler;
  for (int i = 0; i < absl::GetFlag(FLAGS_steps); ++i) step();
  profiler.Stop();
  std::printf("%s %s x %d (batch %d) on backend %s\n%s", cnn ? "cnn" : "mlp",
              inference ? "forward" : "training step", absl::GetFlag(FLAGS_steps), batch,
              (*backend)->name().c_str(),
              profiler.TableString(20).c_str());
  return 0;
}
