#include "compression/structured.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensor/check.h"
#include "tensor/model_io.h"

namespace tt::compress {
namespace {

using tt::tensor::Conv2dLayer;
using tt::tensor::Linear;
using tt::tensor::NamedTensors;
using tt::tensor::Sequential;
using tt::tensor::ShapeToString;
using tt::tensor::Tensor;
using tt::tensor::proto::Architecture;

// A copy of `model` as a fresh classifier of `arch`; every parameter's name and shape
// must match what `arch` builds.
absl::StatusOr<std::unique_ptr<Sequential>> CopyClassifier(const Sequential& model,
                                                           const Architecture& arch) {
  if (!arch.has_mlp() && !arch.has_cnn()) {
    return absl::InvalidArgumentError(
        "structured pruning: the architecture is not an MLP or CNN classifier");
  }
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> copy, tt::tensor::BuildClassifier(arch, 0));
  const NamedTensors src = model.NamedParameters();
  const NamedTensors dst = copy->NamedParameters();
  if (src.size() != dst.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("structured pruning: the model has ", src.size(),
                     " parameter tensors, its architecture ", dst.size()));
  }
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].first != dst[i].first || src[i].second.shape() != dst[i].second.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "structured pruning: the model does not match its architecture: parameter ", i,
          " is ", src[i].first, " ", ShapeToString(src[i].second.shape()),
          ", the architecture builds ", dst[i].first, " ",
          ShapeToString(dst[i].second.shape())));
    }
    Tensor target = dst[i].second;
    target.CopyFrom(src[i].second);
  }
  return copy;
}

// A Linear or Conv2d of the Sequential, at child index `index`.
struct ParamLayer {
  size_t index = 0;
  Linear* linear = nullptr;
  Conv2dLayer* conv = nullptr;

  int64_t units() const { return linear ? linear->out_features() : conv->out_channels(); }
  Tensor& weight() { return linear ? linear->weight() : conv->weight(); }
  Tensor& bias() { return linear ? linear->bias() : conv->bias(); }
  // Weights per unit: a Linear column has in_features, a filter C*K*K.
  int64_t fan_in() const {
    return linear ? linear->in_features()
                  : conv->in_channels() * conv->kernel_size() * conv->kernel_size();
  }
  // The weight of unit u, element r of its fan-in, as a flat index.
  int64_t WeightIndex(int64_t u, int64_t r) const {
    return linear ? r * linear->out_features() + u : u * fan_in() + r;
  }
};

std::vector<ParamLayer> ParamLayers(Sequential& model) {
  std::vector<ParamLayer> out;
  for (size_t i = 0; i < model.size(); ++i) {
    ParamLayer p;
    p.index = i;
    p.linear = dynamic_cast<Linear*>(&model[i]);
    p.conv = dynamic_cast<Conv2dLayer*>(&model[i]);
    if (p.linear != nullptr || p.conv != nullptr) out.push_back(p);
  }
  return out;
}

std::vector<double> UnitNorms(ParamLayer& layer, NormKind norm) {
  const float* w = layer.weight().data();
  std::vector<double> norms(static_cast<size_t>(layer.units()), 0.0);
  for (int64_t u = 0; u < layer.units(); ++u) {
    double sum = 0.0;
    for (int64_t r = 0; r < layer.fan_in(); ++r) {
      const double v = w[layer.WeightIndex(u, r)];
      sum += norm == NormKind::kL1 ? std::fabs(v) : v * v;
    }
    norms[static_cast<size_t>(u)] = norm == NormKind::kL1 ? sum : std::sqrt(sum);
  }
  return norms;
}

// The inputs of `layer` that survive when the previous parameter layer keeps `prev_kept`
// of its units. Across Flatten each channel c feeds the block c*S .. c*S+S-1 of a
// Linear's inputs, S = H*W (channel-major flattening).
std::vector<int64_t> KeptInputs(const ParamLayer& layer, const ParamLayer* prev,
                                const std::vector<int64_t>& prev_kept) {
  if (prev == nullptr) {
    const int64_t n = layer.linear ? layer.linear->in_features() : layer.conv->in_channels();
    std::vector<int64_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), int64_t{0});
    return all;
  }
  if (layer.linear != nullptr && prev->conv != nullptr) {
    const int64_t spatial = layer.linear->in_features() / prev->conv->out_channels();
    std::vector<int64_t> out;
    for (int64_t c : prev_kept) {
      for (int64_t s = 0; s < spatial; ++s) out.push_back(c * spatial + s);
    }
    return out;
  }
  return prev_kept;
}

std::vector<int64_t> AllUnits(int64_t n) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

}  // namespace

absl::StatusOr<StructuredResult> PruneStructured(const Sequential& model, const Architecture& arch,
                                                 const StructuredOptions& options) {
  if (!std::isfinite(options.fraction) || options.fraction < 0.0 || options.fraction >= 1.0) {
    return absl::InvalidArgumentError(absl::StrCat("StructuredOptions.fraction is ",
                                                   options.fraction,
                                                   "; it must be a fraction in [0, 1)"));
  }
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> original, CopyClassifier(model, arch));
  std::vector<ParamLayer> layers = ParamLayers(*original);

  // Which layers lose units, and which units they keep (all, for the others).
  std::vector<std::vector<int64_t>> kept(layers.size());
  StructuredResult result;
  bool any_conv = false;
  for (size_t l = 0; l < layers.size(); ++l) {
    ParamLayer& layer = layers[l];
    any_conv = any_conv || layer.conv != nullptr;
    const bool prune = l + 1 < layers.size() &&
                       (options.layers == StructuredLayers::kAllHidden || layer.conv != nullptr);
    const int64_t units = layer.units();
    if (!prune) {
      kept[l] = AllUnits(units);
      continue;
    }
    const int64_t removed = std::llround(options.fraction * static_cast<double>(units));
    if (removed >= units) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PruneStructured: fraction ", options.fraction, " removes all ", units,
          " units of layer ", layer.index, " (", original->operator[](layer.index).Describe(),
          "); at most ", units - 1, " of them can go"));
    }
    const std::vector<double> norms = UnitNorms(layer, options.norm);
    std::vector<int64_t> order = AllUnits(units);
    std::stable_sort(order.begin(), order.end(), [&norms](int64_t a, int64_t b) {
      return norms[static_cast<size_t>(a)] < norms[static_cast<size_t>(b)];
    });
    std::vector<int64_t> survivors(order.begin() + removed, order.end());
    std::sort(survivors.begin(), survivors.end());
    result.kept.push_back({absl::StrCat(layer.index), units, survivors});
    kept[l] = std::move(survivors);
  }
  if (options.layers == StructuredLayers::kConvOnly && !any_conv) {
    return absl::InvalidArgumentError(
        "PruneStructured: StructuredLayers::kConvOnly on a model with no Conv2d layer");
  }

  // The smaller architecture: the same family with the surviving widths.
  result.architecture = arch;
  if (arch.has_mlp()) {
    auto* sizes = result.architecture.mutable_mlp()->mutable_layer_sizes();
    for (size_t l = 0; l < layers.size(); ++l) {
      sizes->Set(static_cast<int>(l + 1), static_cast<int64_t>(kept[l].size()));
    }
  } else {
    auto* cnn = result.architecture.mutable_cnn();
    size_t conv = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
      if (layers[l].conv != nullptr) {
        cnn->set_conv_channels(static_cast<int>(conv++), static_cast<int64_t>(kept[l].size()));
      } else if (l + 1 < layers.size()) {
        cnn->set_hidden(static_cast<int64_t>(kept[l].size()));
      }
    }
  }
  TT_ASSIGN_OR_RETURN(result.model, tt::tensor::BuildClassifier(result.architecture, 0));
  std::vector<ParamLayer> small = ParamLayers(*result.model);
  TT_CHECK(small.size() == layers.size(), "PruneStructured: the smaller model has ",
           small.size(), " parameter layers, the original ", layers.size());

  // Copy the surviving block of every weight and bias.
  for (size_t l = 0; l < layers.size(); ++l) {
    ParamLayer& from = layers[l];
    ParamLayer& to = small[l];
    const std::vector<int64_t>& out = kept[l];
    const std::vector<int64_t> in =
        KeptInputs(from, l == 0 ? nullptr : &layers[l - 1], l == 0 ? out : kept[l - 1]);
    const float* w = from.weight().data();
    float* nw = to.weight().data();
    TT_CHECK(to.units() == static_cast<int64_t>(out.size()), "PruneStructured: layer ",
             from.index, " has ", to.units(), " units, expected ", out.size());
    if (from.linear != nullptr) {
      // (in, out) -> (in', out'): rows `in`, columns `out`.
      TT_CHECK(to.linear->in_features() == static_cast<int64_t>(in.size()),
               "PruneStructured: layer ", from.index, " expects ", to.linear->in_features(),
               " inputs, ", in.size(), " survive");
      const int64_t n = from.linear->out_features(), n2 = static_cast<int64_t>(out.size());
      for (size_t a = 0; a < in.size(); ++a) {
        for (size_t b = 0; b < out.size(); ++b) nw[a * n2 + b] = w[in[a] * n + out[b]];
      }
    } else {
      // (OC, C, K, K) -> (OC', C', K, K): filters `out`, input channels `in`.
      const int64_t kk = from.conv->kernel_size() * from.conv->kernel_size();
      const int64_t c = from.conv->in_channels(), c2 = static_cast<int64_t>(in.size());
      TT_CHECK(to.conv->in_channels() == c2, "PruneStructured: layer ", from.index, " expects ",
               to.conv->in_channels(), " input channels, ", c2, " survive");
      for (size_t o = 0; o < out.size(); ++o) {
        for (int64_t ci = 0; ci < c2; ++ci) {
          std::copy_n(w + (out[o] * c + in[ci]) * kk, kk, nw + (o * c2 + ci) * kk);
        }
      }
    }
    if (from.bias().defined()) {
      const float* b = from.bias().data();
      float* nb = to.bias().data();
      for (size_t o = 0; o < out.size(); ++o) nb[o] = b[out[o]];
    }
  }
  tt::tensor::NoteParametersChanged();  // written through data()
  return result;
}

absl::StatusOr<std::unique_ptr<Sequential>> ZeroRemovedUnits(const Sequential& model,
                                                              const Architecture& arch,
                                                              const std::vector<KeptUnits>& kept) {
  TT_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> copy, CopyClassifier(model, arch));
  std::vector<ParamLayer> layers = ParamLayers(*copy);
  for (const KeptUnits& k : kept) {
    size_t index = 0;
    auto it = std::find_if(layers.begin(), layers.end(), [&](const ParamLayer& p) {
      return absl::SimpleAtoi(k.layer, &index) && p.index == index;
    });
    if (it == layers.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ZeroRemovedUnits: '", k.layer, "' is not a Linear or Conv2d layer of the model"));
    }
    ParamLayer& layer = *it;
    const int64_t units = layer.units();
    if (k.original != units) {
      return absl::InvalidArgumentError(absl::StrCat("ZeroRemovedUnits: layer ", k.layer, " has ",
                                                     units, " units, the kept list says ",
                                                     k.original));
    }
    std::vector<uint8_t> keep(static_cast<size_t>(units), 0);
    for (int64_t u : k.indices) {
      if (u < 0 || u >= units) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ZeroRemovedUnits: layer ", k.layer, ": unit ", u, " is outside [0, ", units, ")"));
      }
      keep[static_cast<size_t>(u)] = 1;
    }
    float* w = layer.weight().data();
    float* b = layer.bias().defined() ? layer.bias().data() : nullptr;
    for (int64_t u = 0; u < units; ++u) {
      if (keep[static_cast<size_t>(u)]) continue;
      for (int64_t r = 0; r < layer.fan_in(); ++r) w[layer.WeightIndex(u, r)] = 0.0f;
      if (b != nullptr) b[u] = 0.0f;
    }
  }
  tt::tensor::NoteParametersChanged();
  return copy;
}

}  // namespace tt::compress
