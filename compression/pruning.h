// Unstructured magnitude pruning: zero the weights with the smallest |w|, keep them zero
// while the rest fine-tune, and reach the target gradually if one big cut hurts.
//
//   auto mlp = MakeMlp(MlpConfig{}, 1);   ... train ...
//   TT_ASSIGN_OR_RETURN(PruningMasks masks,
//                       MagnitudePrune(*mlp, {.sparsity = 0.9, .scope = PruneScope::kGlobal}));
//   FitOptions fit;
//   fit.after_step = [&masks] { masks.Apply(); };   // pruned weights stay exactly 0
//   Fit(*mlp, adam, train_loader, fit);
//   masks.Sparsity();                                // 0.9 (of the pruned tensors)
//
// Why it works: a trained network has many weights near zero whose removal barely moves
// the outputs; fine-tuning then lets the survivors compensate. Why it is only smaller,
// not faster: the zeros are scattered, so a dense GEMM does the same work. This module's
// sparse kernels, or structured pruning (structured.h), turn them into speed.
//
// Exactness. "Sparsity s" over n weights means exactly k = llround(s * n) weights are
// zeroed (llround: nearest integer, halves away from zero). A threshold "|w| <= t" cannot
// promise that when many weights share one magnitude (a quantized model, weights clipped
// to a bound, or earlier zeros), so the k pruned weights are the first k in the strict
// order (|w|, position), position = (parameter index, flat index): ties go to the
// earlier weight, and the result is the same on every run. kGlobal ranks every chosen
// weight of the model together (layers with many small weights lose more); kLayerwise
// prunes llround(s * n_i) of each tensor i separately (every layer at the same sparsity,
// so the global figure is only approximately s).
//
// What is pruned by default: the weights of every Linear and Conv2dLayer in the model
// (found with Module::VisitModules, the model itself included), output layer too;
// biases, normalization and embedding parameters stay dense (they are few and each
// matters). PruneOptions adds biases or leaves named tensors dense.
#ifndef TT_COMPRESSION_PRUNING_H_
#define TT_COMPRESSION_PRUNING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/nn.h"
#include "tensor/tensor.h"

namespace tt::compress {

enum class PruneScope {
  kLayerwise,  // each tensor loses the same fraction
  kGlobal,     // one magnitude ranking over all chosen tensors
};

struct PruneOptions {
  // Fraction of the chosen weights to zero, in [0, 1). 1 would delete the network.
  double sparsity = 0.0;
  PruneScope scope = PruneScope::kGlobal;
  // Also prune the biases of Linear and Conv2d layers (ranked with the weights under
  // kGlobal; each bias its own group under kLayerwise).
  bool include_biases = false;
  // Parameter names (as NamedParameters spells them, e.g. "4.weight") to leave dense.
  // Every name must be one that would otherwise be pruned.
  std::vector<std::string> exclude = {};
};

// One 0/1 mask per pruned tensor. Each mask holds a handle to the model's parameter (it
// shares the storage), so Apply() writes into the live model; the model's parameters
// must not be replaced by other tensors while the masks are in use (optimizers update
// them in place, which is fine).
class PruningMasks {
 public:
  struct Mask {
    std::string name;          // "0.weight"
    tt::tensor::Tensor param;  // the model's tensor itself (shared storage)
    std::vector<uint8_t> keep; // param.numel() entries: 1 = kept, 0 = pruned
    int64_t pruned = 0;        // number of zeros in keep
  };

  PruningMasks() = default;
  // `masks` must be consistent: keep.size() == param.numel() and pruned == the zeros in
  // keep (TT_CHECK).
  explicit PruningMasks(std::vector<Mask> masks);

  // Writes 0 into every pruned position (the others are untouched). Call it after every
  // optimizer step: the optimizer moves pruned weights (their gradients and Adam's
  // moments are not masked), and this puts them back to exactly 0. Cost: one pass over
  // the masked tensors. Notes the in-place write (tensor::NoteParametersChanged) so
  // backends drop any cached packed weights.
  void Apply();

  // Pruned / total over the masked tensors (0 when there are none).
  double Sparsity() const;
  int64_t NumPruned() const;
  int64_t NumMasked() const;  // elements covered by the masks
  // (name, pruned fraction of that tensor), in the model's parameter order.
  std::vector<std::pair<std::string, double>> PerLayerSparsity() const;

  const std::vector<Mask>& masks() const { return masks_; }
  bool empty() const { return masks_.empty(); }

 private:
  std::vector<Mask> masks_;
};

// Chooses the weights to prune (see the header comment for the exact rule), zeroes them
// in `model` and returns their masks. Errors (InvalidArgument, naming the value):
// sparsity not finite or outside [0, 1); an `exclude` name that is not a prunable
// parameter; a model with nothing to prune; a NaN or infinite weight (it has no rank).
absl::StatusOr<PruningMasks> MagnitudePrune(tt::tensor::Module& model,
                                            const PruneOptions& options);

// Gradual pruning (Zhu & Gupta 2017, "To prune, or not to prune"): the sparsity rises
// from s_i to s_f along a cubic, steeply at first, while the network still has
// redundant weights to lose, then slowly as it nears the target:
//
//   s(t) = s_f + (s_i - s_f) * (1 - p)^3,   p = (t - begin_step) / (end_step - begin_step)
//
// clamped to p in [0, 1] (s_i before begin_step, s_f from end_step on). The kept
// fraction 1 - s(t) therefore decays as a cubic polynomial to 1 - s_f. Pruning happens
// at steps begin_step, begin_step + frequency, ... and at end_step itself, so the final
// sparsity is always reached exactly.
struct GradualSchedule {
  double initial_sparsity = 0.0;  // s_i, in [0, final_sparsity]
  double final_sparsity = 0.9;    // s_f, in [0, 1)
  int64_t begin_step = 0;         // >= 0
  int64_t end_step = 1000;        // >= begin_step
  int64_t frequency = 100;        // > 0: steps between pruning updates

  double SparsityAt(int64_t step) const;
  // True at begin_step + i * frequency (up to end_step) and at end_step.
  bool IsPruningStep(int64_t step) const;
  // InvalidArgument naming the field when a bound above is broken.
  absl::Status Validate() const;
};

// An after_step callback for tensor::Fit (FitOptions::after_step) that prunes `model`
// on the schedule. The callback counts its calls: call t (0-based) comes after optimizer
// step t. At a pruning step it re-prunes to SparsityAt(t) by magnitude, keeping every
// weight pruned before pruned (they rank first), so the masks only ever grow; at other
// steps it re-applies the current masks. The current masks are written to *masks_out
// (when not null) after each re-prune, so the caller can read the sparsity reached.
// `model` (and *masks_out) must outlive the callback. Errors: an invalid schedule, or a
// model with nothing to prune (InvalidArgument).
absl::StatusOr<std::function<void()>> GradualPruningHook(tt::tensor::Module& model,
                                                         const GradualSchedule& schedule,
                                                         PruneScope scope,
                                                         PruningMasks* masks_out);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_PRUNING_H_
