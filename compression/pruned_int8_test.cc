#include "compression/pruned_int8.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compression/pruning.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quantization/quantized_model.h"
#include "tensor/autograd.h"
#include "tensor/data_loader.h"
#include "tensor/model_file.h"
#include "tensor/model_io.h"
#include "tensor/models.h"
#include "tensor/tensor.h"

namespace tt::compress {
namespace {

using tensor::Tensor;
using tensor::proto::ModelFile;
using tensor::proto::TensorProto;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

int64_t FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in ? static_cast<int64_t>(in.tellg()) : -1;
}

// Random "images" (N, 784) in [0, 1), normalized like Fashion-MNIST by the loader.
struct Fixture {
  std::unique_ptr<tensor::Dataset> data;  // on the heap: the loader points at it
  std::unique_ptr<tensor::DataLoader> loader;
  Tensor batch;  // one input batch in the model's shape
};

Fixture MakeData(bool cnn, uint64_t seed) {
  Fixture f;
  tensor::Rng rng(seed);
  f.data = std::make_unique<tensor::Dataset>();
  f.data->images = Tensor::Uniform({96, 784}, rng, 0.0f, 1.0f);
  for (int i = 0; i < 96; ++i) f.data->labels.push_back(i % 10);
  tensor::DataLoader::Options o;
  o.batch_size = 32;
  o.mean = 0.29f;
  o.stddev = 0.35f;
  if (cnn) o.example_shape = {1, 28, 28};
  f.loader =
      std::make_unique<tensor::DataLoader>(tensor::DataLoader::Create(f.data.get(), o).value());
  tensor::DataLoader::Batch b;
  f.loader->StartEpoch(0);
  EXPECT_TRUE(f.loader->Next(&b));
  f.batch = b.images;
  return f;
}

struct Quantized {
  tensor::proto::Architecture arch;
  std::unique_ptr<tensor::Sequential> float_model;
  std::unique_ptr<quant::QuantizedClassifier> q;
};

// A freshly initialized MLP or CNN, globally magnitude-pruned to `sparsity` (0: not
// pruned), then statically quantized with calibration on `f`.
Quantized MakeQuantized(bool cnn, double sparsity, Fixture& f) {
  Quantized out;
  out.arch = cnn ? tensor::ToArchitecture(tensor::CnnConfig{})
                 : tensor::ToArchitecture(tensor::MlpConfig{});
  out.float_model = tensor::BuildClassifier(out.arch, 3).value();
  if (sparsity > 0) {
    absl::StatusOr<PruningMasks> masks =
        MagnitudePrune(*out.float_model, {.sparsity = sparsity, .scope = PruneScope::kGlobal});
    EXPECT_TRUE(masks.ok()) << masks.status();
  }
  absl::StatusOr<std::unique_ptr<quant::QuantizedClassifier>> q =
      quant::QuantizeClassifier(*out.float_model, out.arch, *f.loader);
  EXPECT_TRUE(q.ok()) << q.status();
  out.q = std::move(*q);
  return out;
}

// Bit-for-bit equality of two float tensors.
void ExpectBitExact(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()), 0)
      << "outputs differ after the round trip";
}

void ExpectSameWeights(const quant::QuantizedClassifier& a, const quant::QuantizedClassifier& b) {
  ASSERT_EQ(a.layers().size(), b.layers().size());
  for (size_t i = 0; i < a.layers().size(); ++i) {
    EXPECT_EQ(a.layers()[i].weight, b.layers()[i].weight) << "layer " << a.layers()[i].name;
    EXPECT_EQ(a.layers()[i].weight_scale, b.layers()[i].weight_scale);
    EXPECT_EQ(a.layers()[i].bias, b.layers()[i].bias);
    EXPECT_EQ(a.layers()[i].weight_shape, b.layers()[i].weight_shape);
  }
}

int64_t CountZeros(const std::vector<int8_t>& w) {
  int64_t zeros = 0;
  for (int8_t v : w) zeros += v == 0;
  return zeros;
}

TEST(PrunedInt8, MlpRoundTripIsBitExact) {
  Fixture f = MakeData(false, 1);
  Quantized m = MakeQuantized(false, 0.9, f);
  for (WeightStorage storage : {WeightStorage::kCsr, WeightStorage::kSmaller}) {
    const std::string path = TempPath("mlp_p90.ttm");
    absl::StatusOr<PrunedInt8FileStats> stats =
        SavePrunedInt8Classifier(path, *m.q, {}, {.storage = storage});
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->file_bytes, FileBytes(path));
    EXPECT_EQ(stats->weights, 784 * 256 + 256 * 128 + 128 * 10);
    EXPECT_GE(stats->WeightSparsity(), 0.9);  // pruned zeros stay 0; tiny survivors may round to 0
    // kSmaller: CSR where it pays, which is at least the two large layers.
    EXPECT_GE(stats->csr_tensors, storage == WeightStorage::kCsr ? 3 : 2);
    absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = LoadPrunedInt8Classifier(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ExpectSameWeights(*m.q, *loaded->model);
    tensor::NoGradGuard no_grad;
    ExpectBitExact(m.q->Forward(f.batch), loaded->model->Forward(f.batch));
  }
}

TEST(PrunedInt8, CnnRoundTripStoresConvWeightsAsFilterRows) {
  Fixture f = MakeData(true, 2);
  Quantized m = MakeQuantized(true, 0.9, f);
  PrunedInt8FileStats stats;
  absl::StatusOr<ModelFile> file =
      PrunedInt8ModelFile(*m.q, {}, {.storage = WeightStorage::kCsr}, &stats);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(stats.csr_tensors, 4);
  EXPECT_EQ(stats.dense_tensors, 0);
  EXPECT_EQ(stats.file_bytes, static_cast<int64_t>(file->ByteSizeLong()));
  const TensorProto* conv2 = nullptr;
  for (const TensorProto& t : file->tensors()) {
    if (t.name() == "3.weight") conv2 = &t;
  }
  ASSERT_NE(conv2, nullptr);
  // (OC, C, K, K) = (32, 16, 3, 3) as the (OC, C*K*K) matrix; scales per filter (axis 0).
  EXPECT_THAT(std::vector<int64_t>(conv2->shape().begin(), conv2->shape().end()),
              ::testing::ElementsAre(32, 144));
  EXPECT_EQ(conv2->sparse().format(), tensor::proto::CSR);
  EXPECT_EQ(conv2->quant().axis(), 0);
  EXPECT_EQ(conv2->quant().scale_size(), 32);
  EXPECT_EQ(static_cast<int64_t>(conv2->data().size()), conv2->sparse().nnz());

  absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = PrunedInt8FromModelFile(*file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameWeights(*m.q, *loaded->model);
  EXPECT_EQ(loaded->model->layers()[2].weight_shape, (std::vector<int64_t>{32, 16, 3, 3}));
  tensor::NoGradGuard no_grad;
  ExpectBitExact(m.q->Forward(f.batch), loaded->model->Forward(f.batch));
}

TEST(PrunedInt8, FileAt90PercentIsMuchSmallerThanDenseInt8AndF32) {
  Fixture f = MakeData(false, 3);
  Quantized m = MakeQuantized(false, 0.9, f);
  const std::string f32 = TempPath("mlp_f32.ttm"), dense = TempPath("mlp_int8.ttm"),
                    sparse = TempPath("mlp_p90_int8.ttm");
  ASSERT_TRUE(tensor::SaveClassifier(f32, m.arch, *m.float_model, {}).ok());
  ASSERT_TRUE(quant::SaveQuantizedClassifier(dense, *m.q, {}).ok());
  ASSERT_TRUE(SavePrunedInt8Classifier(sparse, *m.q, {}).ok());
  const double f32_bytes = FileBytes(f32), dense_bytes = FileBytes(dense),
               sparse_bytes = FileBytes(sparse);
  std::printf("MLP at 90%%: f32 %.0f B, dense int8 %.0f B, CSR int8 %.0f B (%.1fx / %.1fx)\n",
              f32_bytes, dense_bytes, sparse_bytes, f32_bytes / sparse_bytes,
              dense_bytes / sparse_bytes);
  // 10% of the weights at about 2.5 bytes each (value + varint column) vs 1 byte each.
  EXPECT_LT(sparse_bytes, 0.4 * dense_bytes);
  EXPECT_GT(f32_bytes / sparse_bytes, 10.0);
}

TEST(PrunedInt8, SmallerKeepsADenseModelDense) {
  Fixture f = MakeData(false, 4);
  Quantized m = MakeQuantized(false, 0.0, f);
  PrunedInt8FileStats smaller, dense;
  ASSERT_TRUE(PrunedInt8ModelFile(*m.q, {}, {}, &smaller).ok());
  ASSERT_TRUE(PrunedInt8ModelFile(*m.q, {}, {.storage = WeightStorage::kDense}, &dense).ok());
  EXPECT_EQ(smaller.csr_tensors, 0);
  EXPECT_EQ(smaller.dense_tensors, 3);
  EXPECT_EQ(smaller.file_bytes, dense.file_bytes);
  // Forced CSR on dense weights costs more than it saves (about 2.5 bytes per weight).
  PrunedInt8FileStats csr;
  ASSERT_TRUE(PrunedInt8ModelFile(*m.q, {}, {.storage = WeightStorage::kCsr}, &csr).ok());
  EXPECT_GT(csr.file_bytes, 2 * dense.file_bytes);
}

TEST(PrunedInt8, AnAllZeroLayerRoundTrips) {
  Fixture f = MakeData(false, 5);
  Quantized m = MakeQuantized(false, 0.5, f);
  std::vector<quant::QuantizedLayer> layers = m.q->layers();
  std::fill(layers[1].weight.begin(), layers[1].weight.end(), 0);  // "2": 256 -> 128
  auto zeroed = quant::QuantizedClassifier::Build(m.arch, layers);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status();
  PrunedInt8FileStats stats;
  absl::StatusOr<ModelFile> file =
      PrunedInt8ModelFile(**zeroed, {}, {.storage = WeightStorage::kCsr}, &stats);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors(2).sparse().nnz(), 0);
  EXPECT_TRUE(file->tensors(2).data().empty());
  absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = PrunedInt8FromModelFile(*file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(CountZeros(loaded->model->layers()[1].weight), 256 * 128);
  tensor::NoGradGuard no_grad;
  ExpectBitExact((*zeroed)->Forward(f.batch), loaded->model->Forward(f.batch));
}

TEST(PrunedInt8, ReadsAndIsReadByTheQuantizationModule) {
  Fixture f = MakeData(true, 6);
  Quantized m = MakeQuantized(true, 0.7, f);
  tensor::NoGradGuard no_grad;
  const Tensor expected = m.q->Forward(f.batch);
  // A file of quant::SaveQuantizedClassifier (all dense) loads here...
  const std::string theirs = TempPath("cnn_int8.ttm");
  ASSERT_TRUE(quant::SaveQuantizedClassifier(theirs, *m.q, {}).ok());
  absl::StatusOr<quant::LoadedQuantizedClassifier> a = LoadPrunedInt8Classifier(theirs);
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectBitExact(expected, a->model->Forward(f.batch));
  // ...and a dense file written here loads there.
  const std::string ours = TempPath("cnn_int8_dense.ttm");
  ASSERT_TRUE(SavePrunedInt8Classifier(ours, *m.q, {}, {.storage = WeightStorage::kDense}).ok());
  absl::StatusOr<quant::LoadedQuantizedClassifier> b = quant::LoadQuantizedClassifier(ours);
  ASSERT_TRUE(b.ok()) << b.status();
  ExpectBitExact(expected, b->model->Forward(f.batch));
}

// --- Bad files --------------------------------------------------------------------------

class BadFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    f_ = MakeData(false, 7);
    m_ = MakeQuantized(false, 0.9, f_);
    file_ = PrunedInt8ModelFile(*m_.q, {}, {.storage = WeightStorage::kCsr}).value();
  }
  // The error of loading file_ after `corrupt` changed it.
  std::string ErrorAfter(const std::function<void(ModelFile&)>& corrupt) {
    ModelFile bad = file_;
    corrupt(bad);
    absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = PrunedInt8FromModelFile(bad);
    EXPECT_FALSE(loaded.ok());
    if (loaded.ok()) return "";
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
    return std::string(loaded.status().message());
  }
  TensorProto& Weight(ModelFile& f) { return *f.mutable_tensors(0); }  // "0.weight", CSR

  Fixture f_;
  Quantized m_;
  ModelFile file_;
};

TEST_F(BadFiles, CorruptCsrIsRejectedNamingTheTensor) {
  ASSERT_EQ(file_.tensors(0).name(), "0.weight");
  ASSERT_EQ(file_.tensors(0).sparse().format(), tensor::proto::CSR);
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) { Weight(f).mutable_sparse()->set_col_idx(0, 256); }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) { Weight(f).mutable_sparse()->set_col_idx(0, -1); }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                auto* s = Weight(f).mutable_sparse();
                s->set_row_ptr(s->row_ptr_size() - 1, s->row_ptr(s->row_ptr_size() - 1) - 1);
              }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) { Weight(f).mutable_sparse()->set_row_ptr(1, -5); }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                auto* s = Weight(f).mutable_sparse();
                s->set_nnz(s->nnz() + 1);
              }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) { Weight(f).mutable_data()->pop_back(); }),
              HasSubstr("tensor '0.weight'"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                Weight(f).mutable_sparse()->mutable_row_ptr()->RemoveLast();
              }),
              HasSubstr("tensor '0.weight'"));
  // Two nonzeros of one row with their columns swapped (not increasing).
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                auto* s = Weight(f).mutable_sparse();
                int r = 0;
                while (s->row_ptr(r + 1) - s->row_ptr(r) < 2) ++r;
                const int k = s->row_ptr(r);
                const int32_t c = s->col_idx(k);
                s->set_col_idx(k, s->col_idx(k + 1));
                s->set_col_idx(k + 1, c);
              }),
              HasSubstr("tensor '0.weight'"));
}

TEST_F(BadFiles, ACorruptFileOnDiskNamesThePathAndTheTensor) {
  ModelFile bad = file_;
  Weight(bad).mutable_sparse()->set_col_idx(3, 100000);
  const std::string path = TempPath("corrupt_csr.ttm");
  {
    std::ofstream out(path, std::ios::binary);
    out << bad.SerializeAsString();  // SaveModel would refuse to write it
  }
  absl::StatusOr<quant::LoadedQuantizedClassifier> loaded = LoadPrunedInt8Classifier(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(path));
  EXPECT_THAT(loaded.status().message(), HasSubstr("tensor '0.weight'"));
  EXPECT_EQ(LoadPrunedInt8Classifier(TempPath("no_such_file.ttm")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BadFiles, ValidCsrOfTheWrongKindIsRejected) {
  // CSR over the transposed shape.
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                Weight(f).clear_shape();
                Weight(f).add_shape(256);
                Weight(f).add_shape(784);
                // Rebuild a valid CSR over (256, 784): all in row 0 would break columns;
                // an empty matrix is valid CSR of any shape.
                auto* s = Weight(f).mutable_sparse();
                s->clear_row_ptr();
                for (int r = 0; r <= 256; ++r) s->add_row_ptr(0);
                s->clear_col_idx();
                s->set_nnz(0);
                Weight(f).clear_data();
                Weight(f).mutable_quant()->set_axis(0);
                Weight(f).mutable_quant()->clear_scale();
                for (int i = 0; i < 256; ++i) Weight(f).mutable_quant()->add_scale(1.0f);
              }),
              HasSubstr("CSR shape (256, 784)"));
  // Float CSR weights in an int8 file.
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                TensorProto& w = Weight(f);
                std::string floats(4 * w.data().size(), '\0');
                w.set_data(floats);
                w.set_dtype(tensor::proto::F32);
                w.clear_quant();
              }),
              HasSubstr("expected INT8"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                auto* q = Weight(f).mutable_quant();
                for (int i = 0; i < q->scale_size(); ++i) q->add_zero_point(i == 5 ? 3 : 0);
              }),
              HasSubstr("symmetric"));
  EXPECT_THAT(ErrorAfter([&](ModelFile& f) {
                auto* q = Weight(f).mutable_quant();
                q->set_axis(0);
                q->clear_scale();
                for (int i = 0; i < 784; ++i) q->add_scale(0.01f);
              }),
              HasSubstr("PER_CHANNEL over axis 1"));
  EXPECT_THAT(ErrorAfter([](ModelFile& f) { f.clear_activation_quant(); }),
              HasSubstr("not a statically quantized model"));
  EXPECT_THAT(ErrorAfter([](ModelFile& f) { f.mutable_activation_quant()->erase("2.output"); }),
              HasSubstr("'2.output'"));
  EXPECT_THAT(ErrorAfter([](ModelFile& f) { f.mutable_tensors()->RemoveLast(); }),
              HasSubstr("no tensor '4.bias'"));
  EXPECT_THAT(ErrorAfter([](ModelFile& f) {
                TensorProto extra = f.tensors(1);
                extra.set_name("9.bias");
                *f.add_tensors() = extra;
              }),
              HasSubstr("has 7 tensors"));
  EXPECT_THAT(ErrorAfter([](ModelFile& f) {
                *f.mutable_tensors(1) = tensor::TensorToProto("0.bias", Tensor::Zeros({255}));
              }),
              HasSubstr("'0.bias' has shape (255)"));
}

}  // namespace
}  // namespace tt::compress
