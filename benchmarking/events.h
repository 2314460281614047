// Running TinyMLPerf events: the query sample libraries (QSLs) and systems under test
// (SUTs) of each event, accuracy mode, performance mode, and the result files.
//
//   EventContext context;                     // loads Fashion-MNIST / fortunes on demand
//   RunOptions options;
//   options.out_dir = "/tmp/tinymlperf";
//   TT_ASSIGN_OR_RETURN(const EventSpec* event, FindEvent("mlp_sprint"));
//   TT_ASSIGN_OR_RETURN(std::vector<RecipeOutcome> outcomes,
//                       RunEvent(*event, {"int8"}, options, context));
//   // outcomes[0] is the baseline (always run first: every ratio is to it), then int8;
//   // each has its sealed result, already written to options.out_dir.
//
// One recipe on one event, in order:
//   1. build the recipe's system from the reference model (untimed: pruning,
//      fine-tuning, calibration happen here);
//   2. accuracy mode: every test sample (classifiers: 10,000 images, in batches of 500;
//      transformer: 200 validation windows; relay: the test set after the epoch), scored
//      against the event's quality target;
//   3. performance mode (loadgen.h RunPerformance) with the event's settings and the
//      run's seed (the relay trains during this step: its queries are the epoch);
//   4. memory: the tensor library's peak during a few untimed queries
//      (tt::prof::MemoryProfiler) plus the weights the system holds;
//   5. the payload: system description, statistics, accuracy, validity, and the ratio to
//      the baseline measured in the same run; sealed and written as text and binary.
#ifndef TT_BENCHMARKING_EVENTS_H_
#define TT_BENCHMARKING_EVENTS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmarking/loadgen.h"
#include "benchmarking/result.pb.h"
#include "benchmarking/tasks.h"
#include "caching/trained_gpt.h"

namespace tt::bench {

struct RunOptions {
  // Small settings everywhere (few queries, a slice of the data, short fine-tuning,
  // 32 new tokens): proves the pipeline, not the speed. Results are still sealed and
  // checked, and their validity is whatever the short run earned.
  bool quick = false;
  uint64_t seed = 20240101;  // the load generator's sample order
  std::string out_dir;       // result files; recipe model files go to out_dir/models
  std::string submitter;     // recorded in every result
  int finetune_epochs = -1;  // RecipeOptions::finetune_epochs
  bool progress = true;      // one line per step on stderr
};

// The data sets, loaded once on first use and shared by every event of a run.
class EventContext {
 public:
  explicit EventContext(bool quick = false) : quick_(quick) {}
  absl::StatusOr<const FashionMnistData*> FashionMnist();
  absl::StatusOr<const cache::CharCorpus*> Corpus();

 private:
  bool quick_;
  std::optional<FashionMnistData> fashion_;
  std::optional<cache::CharCorpus> corpus_;
};

// The load generator's settings of an event (quick: the short ones).
TestSettings EventSettings(const EventSpec& event, bool quick, uint64_t seed);
// The relay's settings: Offline, batches of kRelayBatch, one pass over the training set.
TestSettings RelaySettings(bool quick, uint64_t seed);

// One epoch of the training relay with `recipe` (performance mode), then its test
// accuracy. train_reference records the accelerated recipe's accuracy with this.
struct RelayEpoch {
  PerformanceResult performance;
  double accuracy = 0.0;
  int64_t steps = 0;
  double seconds = 0.0;
};
absl::StatusOr<RelayEpoch> RunRelayEpoch(const std::string& recipe,
                                         const tensor::proto::Architecture& architecture,
                                         const FashionMnistData& data,
                                         const TestSettings& settings);

struct RecipeOutcome {
  proto::Result result;  // sealed
  std::string stem;      // written to stem + kTextResultSuffix / kBinaryResultSuffix
  // Event-specific figures for the summary, e.g. tokens_per_second (transformer) or
  // images_per_second (relay); 0 when not applicable.
  double tokens_per_second = 0.0;
  double images_per_second = 0.0;
};

// Runs "baseline" and then each of `recipes` (a "baseline" entry is not repeated) on
// `event`, writing every result to options.out_dir. InvalidArgument for an unknown
// recipe (before anything runs); errors of loading, building or writing.
absl::StatusOr<std::vector<RecipeOutcome>> RunEvent(const EventSpec& event,
                                                    const std::vector<std::string>& recipes,
                                                    const RunOptions& options,
                                                    EventContext& context);

}  // namespace tt::bench

#endif  // TT_BENCHMARKING_EVENTS_H_
