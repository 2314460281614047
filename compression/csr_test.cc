#include "compression/csr.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/model_file.h"

namespace tt::compress {
namespace {

namespace proto = tensor::proto;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<float> RandomDense(int64_t rows, int64_t cols, double sparsity, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), coin(0.0f, 1.0f);
  std::vector<float> d(rows * cols);
  for (float& v : d) v = coin(gen) < sparsity ? 0.0f : value(gen);
  return d;
}

bool BitEqual(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

TEST(CsrTest, SmallExampleFromTheHeader) {
  const std::vector<float> dense = {5, 0, 0, 7, 0, 0, 0, 0, 0, 6, 8, 0};
  const CsrMatrix m = DenseToCsr(dense.data(), 3, 4);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 4);
  EXPECT_THAT(m.row_ptr, ElementsAre(0, 2, 2, 4));
  EXPECT_THAT(m.col_idx, ElementsAre(0, 3, 1, 2));
  EXPECT_THAT(m.values, ElementsAre(5, 7, 6, 8));
  EXPECT_EQ(m.nnz(), 4);
  EXPECT_DOUBLE_EQ(m.sparsity(), 8.0 / 12.0);
  EXPECT_EQ(m.Bytes(), 4 * 4 + 8 * 4);
}

TEST(CsrTest, DenseRoundTripOnRandomShapes) {
  for (int64_t rows : {1, 2, 7, 33}) {
    for (int64_t cols : {1, 3, 16, 17, 100}) {
      for (double s : {0.0, 0.5, 0.9, 1.0}) {
        const std::vector<float> d = RandomDense(rows, cols, s, rows * 1000 + cols);
        const CsrMatrix m = DenseToCsr(d.data(), rows, cols);
        CheckCsr(m, "test");
        int64_t nonzeros = 0;
        for (float v : d) nonzeros += v != 0.0f;
        EXPECT_EQ(m.nnz(), nonzeros);
        std::vector<float> back(rows * cols, 42.0f);
        CsrToDense(m, back.data());
        EXPECT_EQ(back, d) << rows << "x" << cols << " sparsity " << s;
      }
    }
  }
}

TEST(CsrTest, EmptyShapes) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{0, 0}, {0, 5}, {4, 0}}) {
    const CsrMatrix m = DenseToCsr(nullptr, rows, cols);
    CheckCsr(m, "test");
    EXPECT_EQ(m.nnz(), 0);
    EXPECT_EQ(static_cast<int64_t>(m.row_ptr.size()), rows + 1);
    EXPECT_EQ(m.sparsity(), rows * cols == 0 ? 0.0 : 1.0);
    const CsrMatrix back = CsrFromProto(CsrToProto("e", m)).value();
    EXPECT_EQ(back.rows, rows);
    EXPECT_EQ(back.cols, cols);
    EXPECT_EQ(back.nnz(), 0);
  }
}

TEST(CsrTest, NegativeZeroIsDroppedSpecialValuesKept) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float denormal = std::numeric_limits<float>::denorm_min();
  const std::vector<float> d = {-0.0f, nan, inf, -inf, denormal, 0.0f};
  const CsrMatrix m = DenseToCsr(d.data(), 2, 3);
  EXPECT_THAT(m.col_idx, ElementsAre(1, 2, 0, 1));
  std::vector<float> back(6);
  CsrToDense(m, back.data());
  EXPECT_TRUE(BitEqual(back[0], 0.0f));  // -0 comes back as +0
  EXPECT_TRUE(std::isnan(back[1]));
  EXPECT_EQ(back[2], inf);
  EXPECT_EQ(back[3], -inf);
  EXPECT_TRUE(BitEqual(back[4], denormal));
}

TEST(CsrTest, TransposeMatchesDenseTranspose) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {5, 9}, {64, 17}, {3, 0}}) {
    const std::vector<float> d = RandomDense(rows, cols, 0.7, 5);
    const CsrMatrix t = CsrTranspose(DenseToCsr(d.data(), rows, cols));
    CheckCsr(t, "transpose");
    ASSERT_EQ(t.rows, cols);
    ASSERT_EQ(t.cols, rows);
    std::vector<float> td(rows * cols);
    CsrToDense(t, td.data());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(td[c * rows + r], d[r * cols + c]);
    }
  }
}

TEST(CsrTest, ProtoRoundTripIsBitExactAndValid) {
  std::vector<float> d = RandomDense(20, 13, 0.8, 11);
  d[3] = std::numeric_limits<float>::denorm_min();
  d[4] = -std::numeric_limits<float>::max();
  const CsrMatrix m = DenseToCsr(d.data(), 20, 13);
  const proto::TensorProto p = CsrToProto("fc1.weight", m);
  EXPECT_TRUE(tensor::ValidateTensorProto(p).ok());
  EXPECT_EQ(p.name(), "fc1.weight");
  EXPECT_EQ(p.dtype(), proto::F32);
  EXPECT_THAT(p.shape(), ElementsAre(20, 13));
  EXPECT_EQ(p.sparse().format(), proto::CSR);
  EXPECT_EQ(p.sparse().nnz(), m.nnz());
  EXPECT_EQ(static_cast<int64_t>(p.data().size()), 4 * m.nnz());

  const CsrMatrix back = CsrFromProto(p).value();
  EXPECT_EQ(back.rows, m.rows);
  EXPECT_EQ(back.cols, m.cols);
  EXPECT_EQ(back.row_ptr, m.row_ptr);
  EXPECT_EQ(back.col_idx, m.col_idx);
  ASSERT_EQ(back.values.size(), m.values.size());
  for (size_t k = 0; k < m.values.size(); ++k) EXPECT_TRUE(BitEqual(back.values[k], m.values[k]));

  // tensor's reader expands the same proto to the same dense values.
  const tensor::Tensor t = tensor::TensorFromProto(p).value();
  EXPECT_EQ(t.ToVector(), d);
}

// A valid proto that each case below breaks in one way.
proto::TensorProto ValidProto() {
  const std::vector<float> d = {1, 0, 2, 0, 0, 3};
  return CsrToProto("layer.weight", DenseToCsr(d.data(), 2, 3));
}

TEST(CsrTest, BadProtosAreRejectedWithTheTensorsName) {
  struct Case {
    const char* what;
    void (*breaks)(proto::TensorProto*);
    const char* message;
  };
  const Case cases[] = {
      {"dense", [](proto::TensorProto* p) { *p = tensor::TensorToProto("layer.weight",
                                                tensor::Tensor::Zeros({2, 3})); },
       "not CSR-encoded"},
      {"3-D", [](proto::TensorProto* p) { p->add_shape(1); }, "2-D"},
      {"row_ptr short", [](proto::TensorProto* p) { p->mutable_sparse()->mutable_row_ptr()->RemoveLast(); },
       "row_ptr"},
      {"row_ptr decreasing",
       [](proto::TensorProto* p) { p->mutable_sparse()->set_row_ptr(1, 4); }, "decreases"},
      {"column out of range",
       [](proto::TensorProto* p) { p->mutable_sparse()->set_col_idx(0, 3); }, "outside"},
      {"columns not increasing",
       [](proto::TensorProto* p) { p->mutable_sparse()->set_col_idx(1, 0); }, "columns of row 0"},
      {"nnz wrong", [](proto::TensorProto* p) { p->mutable_sparse()->set_nnz(2); }, "nnz"},
      {"data short", [](proto::TensorProto* p) { p->mutable_data()->resize(8); }, "values"},
      {"int8 without quant", [](proto::TensorProto* p) {
         p->set_dtype(proto::INT8);
         p->mutable_data()->resize(3);
       },
       "quantization"},
  };
  for (const Case& c : cases) {
    proto::TensorProto p = ValidProto();
    c.breaks(&p);
    const absl::StatusOr<CsrMatrix> m = CsrFromProto(p);
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(std::string(m.status().message()), StartsWith("tensor 'layer.weight': "))
        << c.what;
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.message)) << c.what;
  }
}

// An INT8 (or INT4) CSR proto of the 2x3 matrix with nonzeros at (0,0) (0,2) (1,2)
// holding the stored integers q.
proto::TensorProto QuantProto(proto::DType dtype, const std::vector<int>& q) {
  proto::TensorProto p = ValidProto();
  p.set_dtype(dtype);
  std::string data;
  if (dtype == proto::INT8) {
    for (int v : q) data.push_back(static_cast<char>(v));
  } else {
    for (size_t k = 0; k < q.size(); k += 2) {
      const int lo = q[k] & 0xf, hi = k + 1 < q.size() ? (q[k + 1] & 0xf) : 0;
      data.push_back(static_cast<char>(lo | (hi << 4)));
    }
  }
  p.set_data(data);
  return p;
}

TEST(CsrTest, Int8PerTensorWithZeroPoint) {
  proto::TensorProto p = QuantProto(proto::INT8, {10, -128, 127});
  p.mutable_quant()->add_scale(0.5f);
  p.mutable_quant()->add_zero_point(2);
  const CsrMatrix m = CsrFromProto(p).value();
  EXPECT_THAT(m.values, ElementsAre(0.5f * 8, 0.5f * -130, 0.5f * 125));
}

TEST(CsrTest, Int8PerChannelAlongEitherAxis) {
  proto::TensorProto p = QuantProto(proto::INT8, {1, 2, 3});
  p.mutable_quant()->set_scheme(proto::PER_CHANNEL);
  p.mutable_quant()->set_axis(1);  // one scale per column
  for (float s : {1.0f, 10.0f, 100.0f}) p.mutable_quant()->add_scale(s);
  EXPECT_THAT(CsrFromProto(p).value().values, ElementsAre(1.0f, 200.0f, 300.0f));

  p.mutable_quant()->set_axis(0);  // one scale per row
  p.mutable_quant()->clear_scale();
  for (float s : {2.0f, 3.0f}) p.mutable_quant()->add_scale(s);
  EXPECT_THAT(CsrFromProto(p).value().values, ElementsAre(2.0f, 4.0f, 9.0f));
}

TEST(CsrTest, Int8PerBlockUsesTheDenseFlatIndex) {
  proto::TensorProto p = QuantProto(proto::INT8, {1, 1, 1});
  p.mutable_quant()->set_scheme(proto::PER_BLOCK);
  p.mutable_quant()->set_block_size(4);  // flat indices 0, 2 -> block 0; 5 -> block 1
  p.mutable_quant()->add_scale(0.25f);
  p.mutable_quant()->add_scale(4.0f);
  EXPECT_THAT(CsrFromProto(p).value().values, ElementsAre(0.25f, 0.25f, 4.0f));
}

TEST(CsrTest, Int4NibblesAreSigned) {
  proto::TensorProto p = QuantProto(proto::INT4, {-8, 7, -1});
  p.mutable_quant()->add_scale(1.0f);
  EXPECT_THAT(CsrFromProto(p).value().values, ElementsAre(-8.0f, 7.0f, -1.0f));
}

TEST(CsrDeathTest, CheckCsrNamesTheBrokenInvariant) {
  CsrMatrix m = DenseToCsr(std::vector<float>{1, 2, 3, 4}.data(), 2, 2);
  m.col_idx[1] = 0;
  EXPECT_DEATH(CheckCsr(m, "mine"), "mine: CSR columns of row 0 do not increase");
  m = DenseToCsr(std::vector<float>{1, 2, 3, 4}.data(), 2, 2);
  m.row_ptr.pop_back();
  EXPECT_DEATH(CheckCsr(m, "mine"), "row_ptr has 2 entries");
  EXPECT_DEATH(CsrToProto("x", m), "CsrToProto");
}

}  // namespace
}  // namespace tt::compress
