// Structured pruning: remove whole neurons (Linear output units) and conv filters, and
// physically shrink the layers, so the smaller dense model runs faster on the ordinary
// kernels (no sparse format, no special hardware).
//
//   auto cnn = MakeCnn(CnnConfig{}, 1);   ... train ...
//   StructuredOptions options;
//   options.fraction = 0.5;                      // half of every hidden layer's units
//   options.layers = StructuredLayers::kConvOnly;
//   TT_ASSIGN_OR_RETURN(StructuredResult small,
//                       PruneStructured(*cnn, ToArchitecture(CnnConfig{}), options));
//   // small.model: conv 16->8 and 32->16 filters; small.architecture says so, so
//   SaveClassifier("cnn_half.ttm", small.architecture, *small.model, meta);  // loads back
//
// What removing unit j of layer L means. Its output is a column of L's weight (Linear,
// stored (in, out)) or a filter (Conv2d, (OC, C, K, K)) plus one bias entry; downstream,
// the next layer reads it through one row of its weight (Linear), one input channel of
// every filter (Conv2d), or, across the CNN's Flatten, a block of H*W consecutive rows
// (Flatten orders features channel-major: feature = c * H * W + y * W + x). Removing
// the unit deletes all of these, so L gets narrower and the next layer's input does too.
//
// Which units: those whose incoming weights have the smallest norm (L1 = sum |w|, as in
// Li et al. 2017, "Pruning Filters for Efficient ConvNets"; or L2), a cheap proxy for
// how much the unit contributes. Biases are not part of the norm. Each pruned layer
// loses exactly llround(fraction * units) units; ties go to the lower index. The output
// layer is never pruned (its units are the classes).
//
// Equivalence, the property the tests check: zeroing a removed unit's incoming weights
// and bias in the original model (ZeroRemovedUnits) makes its output 0 after ReLU and
// max-pool, so it contributes nothing downstream; the shrunk model computes exactly the
// same function, up to float rounding (its GEMMs add the same nonzero products, but a
// different K can change the blocking and so the order of the additions).
// Without fine-tuning the removed units did carry signal (bias and weights were not
// zero), so accuracy drops until the smaller model is fine-tuned.
#ifndef TT_COMPRESSION_STRUCTURED_H_
#define TT_COMPRESSION_STRUCTURED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/model.pb.h"
#include "tensor/nn.h"

namespace tt::compress {

enum class NormKind { kL1, kL2 };

// Which hidden layers lose units.
enum class StructuredLayers {
  kAllHidden,  // every Conv2d and every Linear but the last
  kConvOnly,   // only the Conv2d filters (CNN); the dense layers keep their width
};

struct StructuredOptions {
  // Fraction of the units of each pruned layer to remove, in [0, 1).
  double fraction = 0.5;
  NormKind norm = NormKind::kL1;
  StructuredLayers layers = StructuredLayers::kAllHidden;
};

// The units of one pruned layer that survived.
struct KeptUnits {
  std::string layer;             // the Sequential child name ("0", "3", ...)
  int64_t original = 0;          // units before pruning
  std::vector<int64_t> indices;  // surviving units, ascending (original numbering)
};

struct StructuredResult {
  std::unique_ptr<tt::tensor::Sequential> model;  // the smaller dense model
  tt::tensor::proto::Architecture architecture;   // its widths (same family as the input)
  std::vector<KeptUnits> kept;                    // one entry per pruned layer, in order
};

// Removes units from `model`, an MLP or CNN built as `arch` says (tensor::MakeMlp /
// MakeCnn, or LoadClassifier). `model` is not changed. Errors (InvalidArgument): fraction
// not finite or outside [0, 1); a fraction that would leave a layer with no unit (it
// names the layer); `arch` not an MLP/CNN or `model` not matching it (names the first
// parameter that differs); kConvOnly on a model with no Conv2d.
absl::StatusOr<StructuredResult> PruneStructured(const tt::tensor::Sequential& model,
                                                 const tt::tensor::proto::Architecture& arch,
                                                 const StructuredOptions& options);

// The "masked original": a copy of `model` (same architecture, same widths) in which the
// units that `kept` removed have their incoming weights and bias set to 0. Its outputs
// equal the shrunk model's; the tests use it as the reference. Errors: as above for
// `arch`/`model`, and a `kept` entry naming a layer that is not a Linear/Conv2d of the
// model, or an index out of range.
absl::StatusOr<std::unique_ptr<tt::tensor::Sequential>> ZeroRemovedUnits(
    const tt::tensor::Sequential& model, const tt::tensor::proto::Architecture& arch,
    const std::vector<KeptUnits>& kept);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_STRUCTURED_H_
