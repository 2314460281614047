// Prints the sparse-vs-dense crossover table for the MLP's layer shapes:
//
//   bazel run -c opt //compression:sparse_crossover_table -- --min_seconds=0.3
//
// See sparse_crossover.h for the method.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "compression/sparse_crossover.h"

ABSL_FLAG(double, min_seconds, 0.3, "minimum measuring time per (sparsity, batch) pair");
ABSL_FLAG(std::string, shapes, "784x256,256x128", "layer shapes in x out, comma separated");
ABSL_FLAG(std::string, sparsities, "0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98",
          "sparsities to measure");
ABSL_FLAG(std::string, batches, "1,8,64", "batch sizes to measure");

namespace {

template <typename T>
bool ParseList(const std::string& text, std::vector<T>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    T v;
    if constexpr (std::is_same_v<T, double>) {
      if (!absl::SimpleAtod(part, &v)) return false;
    } else {
      if (!absl::SimpleAtoi(part, &v)) return false;
    }
    out->push_back(v);
  }
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<double> sparsities;
  std::vector<int64_t> batches;
  if (!ParseList(absl::GetFlag(FLAGS_sparsities), &sparsities) ||
      !ParseList(absl::GetFlag(FLAGS_batches), &batches)) {
    std::fprintf(stderr, "--sparsities and --batches take comma-separated numbers\n");
    return 2;
  }
  for (absl::string_view shape : absl::StrSplit(absl::GetFlag(FLAGS_shapes), ',')) {
    const std::vector<std::string> dims = absl::StrSplit(shape, 'x');
    int64_t in = 0, out = 0;
    if (dims.size() != 2 || !absl::SimpleAtoi(dims[0], &in) || !absl::SimpleAtoi(dims[1], &out)) {
      std::fprintf(stderr, "bad shape '%s': expected <in>x<out>\n", std::string(shape).c_str());
      return 2;
    }
    auto rows = tt::compress::MeasureSparseCrossover(in, out, sparsities, batches,
                                                     absl::GetFlag(FLAGS_min_seconds));
    if (!rows.ok()) {
      std::fprintf(stderr, "%s\n", rows.status().ToString().c_str());
      return 1;
    }
    std::printf("Linear %lld -> %lld, ReLU; dense = LinearAct on the \"simd\" backend\n",
                static_cast<long long>(in), static_cast<long long>(out));
    std::printf("%s", tt::compress::FormatSparseCrossoverTable(*rows).c_str());
    const double lowest = *std::min_element(sparsities.begin(), sparsities.end());
    for (int64_t b : batches) {
      const double s = tt::compress::CrossoverSparsity(*rows, b);
      if (std::isnan(s)) {
        std::printf("batch %lld: sparse never faster at the measured sparsities\n",
                    static_cast<long long>(b));
      } else if (s == lowest) {
        std::printf("batch %lld: sparse faster at every measured sparsity (crossover <= %.1f%%)\n",
                    static_cast<long long>(b), 100.0 * s);
      } else {
        std::printf("batch %lld: sparse faster from %.1f%% sparsity (interpolated)\n",
                    static_cast<long long>(b), 100.0 * s);
      }
    }
    std::printf("\n");
  }
  return 0;
}
