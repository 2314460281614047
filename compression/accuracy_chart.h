// The accuracy-vs-sparsity chart of the compression report: a self-contained SVG, one
// panel per model, with the pruned models without and with fine-tuning, pruned
// gradually, and the dense control as a dashed line.
//
//   std::ofstream("accuracy_vs_sparsity.svg") << AccuracySvg({mlp_sweep, cnn_sweep});
#ifndef TT_COMPRESSION_ACCURACY_CHART_H_
#define TT_COMPRESSION_ACCURACY_CHART_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tt::compress {

// One pruned model at one sparsity.
struct SweepPoint {
  double sparsity = 0;
  int64_t kept = 0, total = 0;  // weights of the pruned tensors
  double pruned_accuracy = 0, finetuned_accuracy = 0;
  double gradual_accuracy = 0;  // pruned gradually during the same fine-tuning instead
};

// A model's pruning sweep: its dense and control accuracies and one point per sparsity.
struct Sweep {
  const char* name = "";
  const char* title = "";  // for the chart
  double base_accuracy = 0, control_accuracy = 0;
  int finetune_epochs = 0;
  std::vector<SweepPoint> points;
};

// Accuracy (percent) vs sparsity, one panel per model: the pruned models without and
// with fine-tuning and the dense control. Points below the panel's floor (pruning
// without fine-tuning can fall far) sit on the floor as a triangle with their value.
std::string AccuracySvg(const std::vector<Sweep>& sweeps);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_ACCURACY_CHART_H_
