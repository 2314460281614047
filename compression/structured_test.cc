// Structured pruning: the shrunk model computes what the masked original computes (MLP
// and CNN, L1 and L2), the right units go, the widths are recorded in the architecture
// so the model saves and loads, and bad input is rejected with a clear message.
#include "compression/structured.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/autograd.h"
#include "tensor/model_io.h"
#include "tensor/models.h"

namespace tt::compress {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tt::tensor::CnnConfig;
using tt::tensor::MakeCnn;
using tt::tensor::MakeMlp;
using tt::tensor::MlpConfig;
using tt::tensor::Rng;
using tt::tensor::Sequential;
using tt::tensor::Tensor;
using tt::tensor::ToArchitecture;

Tensor Infer(Sequential& model, const Tensor& x) {
  tt::tensor::NoGradGuard no_grad;
  model.Eval();
  return model.Forward(x);
}

::testing::AssertionResult Close(const Tensor& got, const Tensor& want, float tol = 1e-4f) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure() << "shape " << tt::tensor::ShapeToString(got.shape())
                                         << " vs " << tt::tensor::ShapeToString(want.shape());
  }
  const std::vector<float> g = got.ToVector(), w = want.ToVector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(std::fabs(g[i] - w[i]) <= tol * (1.0f + std::fabs(w[i])))) {
      return ::testing::AssertionFailure() << "element " << i << ": " << g[i] << " vs " << w[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// The shrunk model equals the masked original, and differs from the unmasked one (so the
// comparison is not vacuous).
void ExpectShrunkEqualsMasked(Sequential& model, const tt::tensor::proto::Architecture& arch,
                              const StructuredOptions& options, const Tensor& x) {
  auto result = PruneStructured(model, arch, options);
  ASSERT_TRUE(result.ok()) << result.status();
  auto masked = ZeroRemovedUnits(model, arch, result->kept);
  ASSERT_TRUE(masked.ok()) << masked.status();
  const Tensor small_out = Infer(*result->model, x);
  EXPECT_TRUE(Close(small_out, Infer(**masked, x)));
  EXPECT_FALSE(Close(small_out, Infer(model, x))) << "pruning changed nothing?";
  EXPECT_LT(result->model->NumParameters(), model.NumParameters());
  for (const KeptUnits& k : result->kept) {
    EXPECT_EQ(static_cast<int64_t>(k.indices.size()),
              k.original - std::llround(options.fraction * static_cast<double>(k.original)))
        << "layer " << k.layer;
    EXPECT_TRUE(std::is_sorted(k.indices.begin(), k.indices.end()));
  }
}

class StructuredNorms : public ::testing::TestWithParam<NormKind> {};

TEST_P(StructuredNorms, MlpShrunkEqualsMaskedOriginal) {
  const MlpConfig config{{784, 256, 128, 10}};
  auto mlp = MakeMlp(config, 2);
  Rng rng(5);
  const Tensor x = Tensor::Randn({8, 784}, rng);
  for (double fraction : {0.25, 0.5, 0.9}) {
    SCOPED_TRACE(fraction);
    ExpectShrunkEqualsMasked(*mlp, ToArchitecture(config), {fraction, GetParam()}, x);
  }
  auto half = PruneStructured(*mlp, ToArchitecture(config), {0.5, GetParam()});
  ASSERT_TRUE(half.ok());
  EXPECT_THAT(half->architecture.mlp().layer_sizes(), ElementsAre(784, 128, 64, 10));
  ASSERT_EQ(half->kept.size(), 2u);
  EXPECT_EQ(half->kept[0].layer, "0");
  EXPECT_EQ(half->kept[1].layer, "2");
}

TEST_P(StructuredNorms, CnnShrunkEqualsMaskedOriginal) {
  CnnConfig config;
  config.height = config.width = 12;
  config.conv_channels = {6, 10};
  config.hidden = 24;
  auto cnn = MakeCnn(config, 3);
  Rng rng(6);
  const Tensor x = Tensor::Randn({4, 1, 12, 12}, rng);
  for (StructuredLayers layers : {StructuredLayers::kAllHidden, StructuredLayers::kConvOnly}) {
    for (double fraction : {0.3, 0.5, 0.8}) {
      SCOPED_TRACE(::testing::Message() << "fraction " << fraction << " layers "
                                        << static_cast<int>(layers));
      ExpectShrunkEqualsMasked(*cnn, ToArchitecture(config), {fraction, GetParam(), layers}, x);
    }
  }
  auto half = PruneStructured(*cnn, ToArchitecture(config),
                              {0.5, GetParam(), StructuredLayers::kConvOnly});
  ASSERT_TRUE(half.ok());
  EXPECT_THAT(half->architecture.cnn().conv_channels(), ElementsAre(3, 5));
  EXPECT_EQ(half->architecture.cnn().hidden(), 24);
  auto all = PruneStructured(*cnn, ToArchitecture(config), {0.5, GetParam()});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->architecture.cnn().hidden(), 12);
  ASSERT_EQ(all->kept.size(), 3u);
  EXPECT_EQ(all->kept[0].layer, "0");
  EXPECT_EQ(all->kept[1].layer, "3");
  EXPECT_EQ(all->kept[2].layer, "7");
}

INSTANTIATE_TEST_SUITE_P(Norms, StructuredNorms, ::testing::Values(NormKind::kL1, NormKind::kL2),
                         [](const auto& info) {
                           return std::string(info.param == NormKind::kL1 ? "L1" : "L2");
                         });

TEST(PruneStructured, DefaultCnnHalfTheFiltersEqualsMaskedOriginal) {
  const CnnConfig config;
  auto cnn = MakeCnn(config, 1);
  Rng rng(2);
  const Tensor x = Tensor::Randn({2, 1, 28, 28}, rng);
  ExpectShrunkEqualsMasked(*cnn, ToArchitecture(config),
                           {0.5, NormKind::kL1, StructuredLayers::kConvOnly}, x);
}

TEST(PruneStructured, RemovesTheUnitsOfSmallestNorm) {
  // Linear(4 -> 4): columns (units) with L1 / L2 norms
  //   0: (1, 1, 1, 1)     4 / 2
  //   1: (3, 0, 0, 0)     3 / 3
  //   2: (.1,.1,.1,.1)  0.4 / 0.2
  //   3: (2, 2, 0, 0)     4 / 2.83
  // Half go: L1 drops 2 and 1; L2 drops 2 and 0.
  const MlpConfig config{{4, 4, 2}};
  auto mlp = MakeMlp(config, 1);
  Tensor w = mlp->NamedParameters()[0].second;
  const float cols[4][4] = {{1, 1, 1, 1}, {3, 0, 0, 0}, {.1f, .1f, .1f, .1f}, {2, 2, 0, 0}};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) w.data()[i * 4 + j] = (j == 1 ? 1.0f : -1.0f) * cols[j][i];
  }
  auto l1 = PruneStructured(*mlp, ToArchitecture(config), {0.5, NormKind::kL1});
  auto l2 = PruneStructured(*mlp, ToArchitecture(config), {0.5, NormKind::kL2});
  ASSERT_TRUE(l1.ok() && l2.ok());
  EXPECT_THAT(l1->kept[0].indices, ElementsAre(0, 3));
  EXPECT_THAT(l2->kept[0].indices, ElementsAre(1, 3));
  // The next layer's rows follow: its weight (4, 2) keeps rows 0 and 3 under L1.
  const std::vector<float> w2 = mlp->NamedParameters()[2].second.ToVector();
  const std::vector<float> small = l1->model->NamedParameters()[2].second.ToVector();
  EXPECT_THAT(small, ElementsAre(w2[0], w2[1], w2[6], w2[7]));
}

TEST(PruneStructured, FractionZeroKeepsEverything) {
  const MlpConfig config{{20, 12, 3}};
  auto mlp = MakeMlp(config, 4);
  auto same = PruneStructured(*mlp, ToArchitecture(config), {0.0});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_THAT(same->architecture.mlp().layer_sizes(), ElementsAre(20, 12, 3));
  Rng rng(1);
  const Tensor x = Tensor::Randn({3, 20}, rng);
  EXPECT_TRUE(Close(Infer(*same->model, x), Infer(*mlp, x), 0.0f));
}

TEST(PruneStructured, RejectsAFractionThatRemovesEveryUnit) {
  const MlpConfig config{{4, 2, 3}};
  auto mlp = MakeMlp(config, 1);
  auto all = PruneStructured(*mlp, ToArchitecture(config), {0.75});  // llround(1.5) = 2 of 2
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(all.status().message(), HasSubstr("removes all 2 units of layer 0"));
  EXPECT_THAT(all.status().message(), HasSubstr("Linear(4 -> 2)"));

  const CnnConfig cnn_config;
  auto cnn = MakeCnn(cnn_config, 1);
  auto filters = PruneStructured(*cnn, ToArchitecture(cnn_config),
                                 {0.99, NormKind::kL2, StructuredLayers::kConvOnly});
  EXPECT_EQ(filters.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(filters.status().message(), HasSubstr("removes all 16 units of layer 0"));
}

TEST(PruneStructured, RejectsBadInput) {
  const MlpConfig config{{8, 6, 3}};
  auto mlp = MakeMlp(config, 1);
  for (double bad : {-0.1, 1.0, std::nan("")}) {
    auto r = PruneStructured(*mlp, ToArchitecture(config), {bad});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("StructuredOptions.fraction is"));
  }
  auto wrong_arch = PruneStructured(*mlp, ToArchitecture(MlpConfig{{8, 7, 3}}), {0.5});
  EXPECT_EQ(wrong_arch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_arch.status().message(), HasSubstr("does not match its architecture"));
  EXPECT_THAT(wrong_arch.status().message(), HasSubstr("0.weight (8, 6)"));

  auto gpt = PruneStructured(*mlp, ToArchitecture(tt::tensor::GptConfig{}), {0.5});
  EXPECT_THAT(gpt.status().message(), HasSubstr("not an MLP or CNN"));

  auto conv_only =
      PruneStructured(*mlp, ToArchitecture(config), {0.5, NormKind::kL1, StructuredLayers::kConvOnly});
  EXPECT_THAT(conv_only.status().message(), HasSubstr("no Conv2d layer"));

  auto not_a_layer = ZeroRemovedUnits(*mlp, ToArchitecture(config), {{"1", 6, {0}}});
  EXPECT_THAT(not_a_layer.status().message(), HasSubstr("'1' is not a Linear or Conv2d layer"));
  auto out_of_range = ZeroRemovedUnits(*mlp, ToArchitecture(config), {{"0", 6, {0, 6}}});
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("unit 6 is outside [0, 6)"));
  auto wrong_width = ZeroRemovedUnits(*mlp, ToArchitecture(config), {{"0", 5, {0}}});
  EXPECT_THAT(wrong_width.status().message(), HasSubstr("has 6 units"));
}

TEST(PruneStructured, ShrunkModelSavesAndLoadsWithModelIo) {
  CnnConfig config;
  config.conv_channels = {8, 12};
  config.hidden = 32;
  auto cnn = MakeCnn(config, 5);
  auto result = PruneStructured(*cnn, ToArchitecture(config), {0.5});
  ASSERT_TRUE(result.ok()) << result.status();
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/structured_cnn.ttm";
  tt::tensor::proto::Metadata meta;
  ASSERT_TRUE(
      tt::tensor::SaveClassifier(path, result->architecture, *result->model, meta).ok());
  auto loaded = tt::tensor::LoadClassifier(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(loaded->architecture.cnn().conv_channels(), ElementsAre(4, 6));
  EXPECT_EQ(loaded->architecture.cnn().hidden(), 16);
  Rng rng(9);
  const Tensor x = Tensor::Randn({3, 1, 28, 28}, rng);
  EXPECT_TRUE(Close(Infer(*loaded->model, x), Infer(*result->model, x), 0.0f));
}

}  // namespace
}  // namespace tt::compress
