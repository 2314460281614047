#include "compression/pruning.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensor/check.h"

namespace tt::compress {
namespace {

using tt::tensor::Conv2dLayer;
using tt::tensor::Linear;
using tt::tensor::Module;
using tt::tensor::Tensor;

struct Candidate {
  std::string name;
  Tensor param;
};

// The tensors PruneOptions chooses, in the model's parameter order (VisitModules walks
// children depth first in registration order, which is NamedParameters' order).
absl::StatusOr<std::vector<Candidate>> ChooseParameters(Module& model, bool include_biases,
                                                        const std::vector<std::string>& exclude) {
  std::vector<Candidate> all;
  auto consider = [&](const std::string& path, Module& m) {
    const std::string prefix = path.empty() ? "" : path + ".";
    Tensor* weight = nullptr;
    Tensor* bias = nullptr;
    if (auto* linear = dynamic_cast<Linear*>(&m)) {
      weight = &linear->weight();
      bias = &linear->bias();
    } else if (auto* conv = dynamic_cast<Conv2dLayer*>(&m)) {
      weight = &conv->weight();
      bias = &conv->bias();
    } else {
      return;
    }
    all.push_back({prefix + "weight", *weight});
    if (include_biases && bias->defined()) all.push_back({prefix + "bias", *bias});
  };
  consider("", model);
  model.VisitModules(consider);

  for (const std::string& name : exclude) {
    const bool known = std::any_of(all.begin(), all.end(),
                                   [&](const Candidate& c) { return c.name == name; });
    if (!known) {
      std::vector<std::string> names;
      for (const Candidate& c : all) names.push_back(c.name);
      return absl::InvalidArgumentError(
          absl::StrCat("PruneOptions.exclude: '", name, "' is not a prunable parameter (",
                       names.empty() ? "there are none" : absl::StrJoin(names, ", "), ")"));
    }
  }
  std::vector<Candidate> chosen;
  for (Candidate& c : all) {
    if (std::find(exclude.begin(), exclude.end(), c.name) == exclude.end()) {
      chosen.push_back(std::move(c));
    }
  }
  if (chosen.empty()) {
    return absl::InvalidArgumentError(
        "MagnitudePrune: the model has no Linear or Conv2d parameters left to prune");
  }
  for (const Candidate& c : chosen) {
    const float* p = c.param.data();
    for (int64_t i = 0, n = c.param.numel(); i < n; ++i) {
      if (!std::isfinite(p[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "MagnitudePrune: ", c.name, " has a non-finite value ", p[i], " at flat index ", i,
            "; magnitudes cannot rank it"));
      }
    }
  }
  return chosen;
}

absl::Status CheckSparsity(double sparsity, const char* what) {
  if (!std::isfinite(sparsity) || sparsity < 0.0 || sparsity >= 1.0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", sparsity, "; it must be a fraction in [0, 1)"));
  }
  return absl::OkStatus();
}

// Marks the k lowest-ranked of `positions` as pruned. A position's rank key is its
// magnitude, or -1 when `previous` pruned it already (so earlier cuts stay cut); ties
// go to the lower position. nth_element with this strict total order is deterministic.
// position p addresses element offsets[t] <= p < offsets[t + 1] of tensor t.
void PruneLowest(const std::vector<Candidate>& tensors, const std::vector<int64_t>& offsets,
                 int64_t first, int64_t last, int64_t k,
                 const std::vector<std::vector<uint8_t>>* previous,
                 std::vector<std::vector<uint8_t>>* keep) {
  if (k <= 0) return;
  const int64_t n = last - first;
  // Magnitudes of positions first..last-1, gathered once (tensor lookups stay out of the
  // comparator).
  std::vector<float> key(static_cast<size_t>(n));
  size_t t = static_cast<size_t>(std::upper_bound(offsets.begin(), offsets.end(), first) -
                                 offsets.begin() - 1);
  for (int64_t p = first; p < last; ++p) {
    while (p >= offsets[t + 1]) ++t;
    const int64_t i = p - offsets[t];
    const bool was_pruned = previous != nullptr && !(*previous)[t].empty() &&
                            (*previous)[t][static_cast<size_t>(i)] == 0;
    key[static_cast<size_t>(p - first)] =
        was_pruned ? -1.0f : std::fabs(tensors[t].param.data()[i]);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  auto lower = [&key](int64_t a, int64_t b) {
    const float ka = key[static_cast<size_t>(a)], kb = key[static_cast<size_t>(b)];
    return ka < kb || (ka == kb && a < b);
  };
  if (k < n) std::nth_element(order.begin(), order.begin() + k, order.end(), lower);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t p = first + order[static_cast<size_t>(j)];
    const size_t owner = static_cast<size_t>(
        std::upper_bound(offsets.begin(), offsets.end(), p) - offsets.begin() - 1);
    (*keep)[owner][static_cast<size_t>(p - offsets[owner])] = 0;
  }
}

// MagnitudePrune, optionally keeping the weights `previous` pruned at the front of the
// ranking (the gradual schedule's monotone masks).
absl::StatusOr<PruningMasks> Prune(Module& model, const PruneOptions& options,
                                   const PruningMasks* previous) {
  TT_RETURN_IF_ERROR(CheckSparsity(options.sparsity, "PruneOptions.sparsity"));
  TT_ASSIGN_OR_RETURN(std::vector<Candidate> tensors,
                      ChooseParameters(model, options.include_biases, options.exclude));

  std::vector<int64_t> offsets = {0};
  for (const Candidate& c : tensors) offsets.push_back(offsets.back() + c.param.numel());
  std::vector<std::vector<uint8_t>> keep(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    keep[t].assign(static_cast<size_t>(tensors[t].param.numel()), 1);
  }

  // Previous masks, matched by name (a tensor the previous call did not mask has none).
  std::vector<std::vector<uint8_t>> prior(tensors.size());
  if (previous != nullptr) {
    for (const PruningMasks::Mask& m : previous->masks()) {
      for (size_t t = 0; t < tensors.size(); ++t) {
        if (tensors[t].name == m.name && tensors[t].param.SharesStorageWith(m.param) &&
            static_cast<int64_t>(m.keep.size()) == tensors[t].param.numel()) {
          prior[t] = m.keep;
        }
      }
    }
  }
  const auto* prior_ptr = previous != nullptr ? &prior : nullptr;

  if (options.scope == PruneScope::kGlobal) {
    const int64_t n = offsets.back();
    const int64_t k = std::llround(options.sparsity * static_cast<double>(n));
    PruneLowest(tensors, offsets, 0, n, k, prior_ptr, &keep);
  } else {
    for (size_t t = 0; t < tensors.size(); ++t) {
      const int64_t n = offsets[t + 1] - offsets[t];
      const int64_t k = std::llround(options.sparsity * static_cast<double>(n));
      PruneLowest(tensors, offsets, offsets[t], offsets[t + 1], k, prior_ptr, &keep);
    }
  }

  std::vector<PruningMasks::Mask> masks;
  for (size_t t = 0; t < tensors.size(); ++t) {
    PruningMasks::Mask m;
    m.name = tensors[t].name;
    m.param = tensors[t].param;
    m.pruned = std::count(keep[t].begin(), keep[t].end(), uint8_t{0});
    m.keep = std::move(keep[t]);
    masks.push_back(std::move(m));
  }
  PruningMasks result(std::move(masks));
  result.Apply();
  return result;
}

}  // namespace

// --- PruningMasks ----------------------------------------------------------------------

PruningMasks::PruningMasks(std::vector<Mask> masks) : masks_(std::move(masks)) {
  for (const Mask& m : masks_) {
    TT_CHECK(m.param.defined() && static_cast<int64_t>(m.keep.size()) == m.param.numel(),
             "PruningMasks: mask '", m.name, "' has ", m.keep.size(), " entries for a tensor of ",
             m.param.defined() ? m.param.numel() : 0, " elements");
    TT_CHECK(m.pruned == std::count(m.keep.begin(), m.keep.end(), uint8_t{0}),
             "PruningMasks: mask '", m.name, "' claims ", m.pruned, " pruned entries");
  }
}

void PruningMasks::Apply() {
  for (Mask& m : masks_) {
    if (m.pruned == 0) continue;
    float* p = m.param.data();
    const uint8_t* keep = m.keep.data();
    // A select, not a multiply: 0 * (-w) would leave -0.0, and the loop vectorizes.
    for (int64_t i = 0, n = m.param.numel(); i < n; ++i) p[i] = keep[i] ? p[i] : 0.0f;
  }
  tt::tensor::NoteParametersChanged();
}

int64_t PruningMasks::NumPruned() const {
  int64_t n = 0;
  for (const Mask& m : masks_) n += m.pruned;
  return n;
}

int64_t PruningMasks::NumMasked() const {
  int64_t n = 0;
  for (const Mask& m : masks_) n += static_cast<int64_t>(m.keep.size());
  return n;
}

double PruningMasks::Sparsity() const {
  const int64_t total = NumMasked();
  return total == 0 ? 0.0 : static_cast<double>(NumPruned()) / static_cast<double>(total);
}

std::vector<std::pair<std::string, double>> PruningMasks::PerLayerSparsity() const {
  std::vector<std::pair<std::string, double>> out;
  for (const Mask& m : masks_) {
    out.emplace_back(m.name, m.keep.empty() ? 0.0
                                            : static_cast<double>(m.pruned) /
                                                  static_cast<double>(m.keep.size()));
  }
  return out;
}

absl::StatusOr<PruningMasks> MagnitudePrune(Module& model, const PruneOptions& options) {
  return Prune(model, options, /*previous=*/nullptr);
}

// --- Gradual pruning -------------------------------------------------------------------

double GradualSchedule::SparsityAt(int64_t step) const {
  double progress;  // p in [0, 1]
  if (end_step == begin_step) {
    progress = step >= begin_step ? 1.0 : 0.0;
  } else {
    progress = static_cast<double>(step - begin_step) / static_cast<double>(end_step - begin_step);
    progress = std::clamp(progress, 0.0, 1.0);
  }
  const double remaining = 1.0 - progress;
  return final_sparsity + (initial_sparsity - final_sparsity) * remaining * remaining * remaining;
}

bool GradualSchedule::IsPruningStep(int64_t step) const {
  TT_CHECK(frequency > 0, "GradualSchedule::IsPruningStep: frequency ", frequency,
           " must be > 0 (see Validate)");
  if (step < begin_step || step > end_step) return false;
  return step == end_step || (step - begin_step) % frequency == 0;
}

absl::Status GradualSchedule::Validate() const {
  TT_RETURN_IF_ERROR(CheckSparsity(final_sparsity, "GradualSchedule.final_sparsity"));
  TT_RETURN_IF_ERROR(CheckSparsity(initial_sparsity, "GradualSchedule.initial_sparsity"));
  if (initial_sparsity > final_sparsity) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GradualSchedule: initial_sparsity ", initial_sparsity, " is above final_sparsity ",
        final_sparsity, " (pruning only removes weights)"));
  }
  if (begin_step < 0 || end_step < begin_step) {
    return absl::InvalidArgumentError(absl::StrCat("GradualSchedule: steps [", begin_step, ", ",
                                                   end_step,
                                                   "] need 0 <= begin_step <= end_step"));
  }
  if (frequency <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GradualSchedule.frequency is ", frequency, "; it must be > 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::function<void()>> GradualPruningHook(Module& model,
                                                         const GradualSchedule& schedule,
                                                         PruneScope scope,
                                                         PruningMasks* masks_out) {
  TT_RETURN_IF_ERROR(schedule.Validate());
  // Fail now, not at the first pruning step, when there is nothing to prune.
  TT_RETURN_IF_ERROR(ChooseParameters(model, /*include_biases=*/false, {}).status());

  struct State {
    Module* model;
    GradualSchedule schedule;
    PruneScope scope;
    PruningMasks own;
    PruningMasks* masks;
    int64_t step = 0;
  };
  auto state = std::make_shared<State>();
  state->model = &model;
  state->schedule = schedule;
  state->scope = scope;
  state->masks = masks_out != nullptr ? masks_out : &state->own;
  *state->masks = PruningMasks();
  return std::function<void()>([state] {
    const int64_t t = state->step++;
    if (state->schedule.IsPruningStep(t)) {
      PruneOptions options;
      options.sparsity = state->schedule.SparsityAt(t);
      options.scope = state->scope;
      absl::StatusOr<PruningMasks> masks = Prune(*state->model, options, state->masks);
      // Checked when the hook was made: the sparsity is valid, and the model's layers
      // cannot change under a training loop. A non-finite weight means training diverged.
      TT_CHECK(masks.ok(), "GradualPruningHook at step ", t, ": ", masks.status().ToString());
      *state->masks = std::move(masks).value();
    } else {
      state->masks->Apply();
    }
  });
}

}  // namespace tt::compress
