#include "compression/sparse_linear.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/nn.h"
#include "tensor/ops.h"

namespace tt::compress {
namespace {

using ::testing::HasSubstr;
using tensor::Activation;
using tensor::Tensor;

constexpr accel::Isa kIsas[] = {accel::Isa::kScalar, accel::Isa::kAvx2Fma, accel::Isa::kAvx512};
constexpr Activation kActs[] = {Activation::kNone, Activation::kRelu, Activation::kGelu};

// A random (in, out) weight: each entry zero with probability `sparsity`; optionally
// whole input rows (k % 5 == 1) and output columns (n % 4 == 2) zero.
std::vector<float> RandomWeight(int64_t in, int64_t out, double sparsity, bool zero_lines,
                                std::mt19937& gen) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), coin(0.0f, 1.0f);
  std::vector<float> w(in * out);
  for (int64_t k = 0; k < in; ++k) {
    for (int64_t n = 0; n < out; ++n) {
      const bool zero = coin(gen) < sparsity || (zero_lines && (k % 5 == 1 || n % 4 == 2));
      w[k * out + n] = zero ? 0.0f : value(gen);
    }
  }
  return w;
}

double GeluRef(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// Checks y (rows, out) against act(x W + b) in double precision with the bound of
// sparse_linear.h: (K + 2) 2^-23 (sum |x w| + |b|), K = nonzeros of column n; for GELU
// 1.2x that plus GELU's own error.
void ExpectMatchesDense(const std::vector<float>& x, const std::vector<float>& w,
                        const std::vector<float>& b, int64_t rows, int64_t in, int64_t out,
                        Activation act, const float* y, const std::string& where) {
  int failures = 0;
  for (int64_t n = 0; n < out; ++n) {
    int64_t nonzeros = 0;
    for (int64_t k = 0; k < in; ++k) nonzeros += w[k * out + n] != 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      double sum = b.empty() ? 0.0 : b[n], mag = b.empty() ? 0.0 : std::fabs(b[n]);
      for (int64_t k = 0; k < in; ++k) {
        const double p = static_cast<double>(x[r * in + k]) * w[k * out + n];
        sum += p;
        mag += std::fabs(p);
      }
      double bound = (nonzeros + 2) * std::ldexp(1.0, -23) * mag + 1e-30;
      double want = sum;
      if (act == Activation::kRelu) want = sum > 0 ? sum : 0;
      if (act == Activation::kGelu) {
        want = GeluRef(sum);
        bound = 1.2 * bound + 6e-7 + 4e-7 * std::fabs(want);
      }
      const double got = y[r * out + n];
      if (!(std::fabs(got - want) <= bound) && ++failures <= 5) {
        ADD_FAILURE() << where << ": y[" << r << ", " << n << "] = " << got << ", want " << want
                      << " +- " << bound;
      }
    }
  }
}

// Runs every ISA the CPU has x both kernels (and the automatic choice) x every activation
// on one problem, checking the output and that nothing past it is written.
void CheckAllPaths(int64_t rows, int64_t in, int64_t out, double sparsity, bool zero_lines,
                   bool with_bias, uint32_t seed) {
  std::mt19937 gen(seed);
  const std::vector<float> w = RandomWeight(in, out, sparsity, zero_lines, gen);
  std::vector<float> b;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  if (with_bias) {
    for (int64_t n = 0; n < out; ++n) b.push_back(value(gen));
  }
  std::vector<float> x(rows * in);
  for (float& v : x) v = value(gen);
  const Tensor wt = Tensor::FromVector(w, {in, out});
  const Tensor bt = with_bias ? Tensor::FromVector(b, {out}) : Tensor();
  const std::shared_ptr<SparseLinear> sparse = MakeSparseLinear(wt, bt).value();

  constexpr float kCanary = 12345.0f;
  for (accel::Isa isa : kIsas) {
    if (!accel::IsaSupported(isa)) continue;
    accel::ScopedIsa force(isa);
    for (SparsePath path : {SparsePath::kGemv, SparsePath::kBatch, SparsePath::kAuto}) {
      for (Activation act : kActs) {
        std::vector<float> y(rows * out + 40, kCanary);
        sparse->Run(x.data(), rows, y.data(), act, path);
        const std::string where =
            std::string(accel::IsaName(isa)) + " path " + std::to_string(static_cast<int>(path)) +
            " act " + std::to_string(static_cast<int>(act)) + " rows " + std::to_string(rows) +
            " " + std::to_string(in) + "x" + std::to_string(out) + " sparsity " +
            std::to_string(sparsity);
        ExpectMatchesDense(x, w, b, rows, in, out, act, y.data(), where);
        for (int64_t i = rows * out; i < rows * out + 40; ++i) {
          ASSERT_EQ(y[i], kCanary) << where << ": wrote past the output at " << i;
        }
      }
    }
  }
}

TEST(SparseLinearTest, EveryBatchFrom1To70) {
  for (int64_t rows = 1; rows <= 70; ++rows) {
    CheckAllPaths(rows, 37, 23, 0.8, /*zero_lines=*/false, /*with_bias=*/true, rows);
  }
}

TEST(SparseLinearTest, OddSizes) {
  // in around the AVX-512 GEMV's 31-input windows and 16-aligned window starts.
  for (int64_t in : {1, 7, 15, 16, 17, 31, 32, 33, 47, 48, 64, 100}) {
    for (int64_t out : {1, 8, 15, 17, 31}) {
      for (int64_t rows : {1, 3, 9, 17}) {
        CheckAllPaths(rows, in, out, 0.5, false, true, in * 100 + out);
      }
    }
  }
}

TEST(SparseLinearTest, ZeroRowsAndColumnsAndNoBias) {
  for (int64_t rows : {1, 2, 5, 16, 65}) {
    CheckAllPaths(rows, 41, 29, 0.6, /*zero_lines=*/true, /*with_bias=*/false, rows);
    CheckAllPaths(rows, 41, 29, 0.6, /*zero_lines=*/true, /*with_bias=*/true, rows);
  }
}

TEST(SparseLinearTest, DenseAndFullySparse) {
  for (double sparsity : {0.0, 1.0}) {
    for (int64_t rows : {1, 4, 64, 70}) {
      CheckAllPaths(rows, 50, 20, sparsity, false, true, rows);
    }
  }
}

// Enough inputs that the batch kernels split them into several L1-sized blocks.
TEST(SparseLinearTest, BatchPanelsOverSeveralInputBlocks) {
  for (int64_t rows : {17, 33, 50, 64}) CheckAllPaths(rows, 700, 45, 0.7, true, true, rows);
}

TEST(SparseLinearTest, MlpShapes) {
  for (int64_t rows : {1, 8, 64}) {
    CheckAllPaths(rows, 784, 256, 0.9, false, true, 1);
    CheckAllPaths(rows, 256, 128, 0.95, false, true, 2);
  }
}

// An inf or NaN in x reaches exactly the outputs with a nonzero at its column: idle
// lanes of the AVX-512 GEMV (which multiply zeros) and padded batch lanes must not
// spread it.
TEST(SparseLinearTest, NonFiniteInputsReachOnlyTheirOutputs) {
  constexpr int64_t kIn = 90, kOut = 37;
  std::mt19937 gen(5);
  const std::vector<float> w = RandomWeight(kIn, kOut, 0.9, false, gen);
  auto sparse = MakeSparseLinear(Tensor::FromVector(w, {kIn, kOut}), Tensor()).value();
  const float kSpecial[] = {std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  for (int64_t rows : {1, 2, 3, 5, 9, 20}) {
    std::vector<float> x(rows * kIn);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (float& v : x) v = value(gen);
    std::vector<int64_t> bad_col(rows, -1);
    for (int64_t r = 0; r < rows; r += 2) {  // every other row gets one inf or NaN
      bad_col[r] = (r * 37 + 5) % kIn;
      x[r * kIn + bad_col[r]] = kSpecial[(r / 2) % 2];
    }
    for (accel::Isa isa : kIsas) {
      if (!accel::IsaSupported(isa)) continue;
      accel::ScopedIsa force(isa);
      for (SparsePath path : {SparsePath::kGemv, SparsePath::kBatch}) {
        std::vector<float> y(rows * kOut);
        sparse->Run(x.data(), rows, y.data(), Activation::kNone, path);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t n = 0; n < kOut; ++n) {
            const bool hit = bad_col[r] >= 0 && w[bad_col[r] * kOut + n] != 0.0f;
            EXPECT_EQ(!std::isfinite(y[r * kOut + n]), hit)
                << accel::IsaName(isa) << " path " << static_cast<int>(path) << " rows " << rows
                << " y[" << r << ", " << n << "] = " << y[r * kOut + n];
          }
        }
      }
    }
  }
}

TEST(SparseLinearTest, PluggedIntoLinearMatchesTheDenseLayer) {
  tensor::Rng rng(3);
  tensor::Linear linear(96, 40, rng);
  // Prune: zero 85% of the weights (every entry whose hash falls below the threshold).
  float* wd = linear.weight().data();
  for (int64_t i = 0; i < linear.weight().numel(); ++i) {
    if ((i * 2654435761u) % 100 < 85) wd[i] = 0.0f;
  }
  const Tensor x = Tensor::Randn({2, 3, 96}, rng);  // (..., in)
  const Tensor x1 = Tensor::Randn({96}, rng);       // a single vector
  std::vector<Tensor> dense;
  for (Activation act : kActs) dense.push_back(linear.ForwardAct(x, act));
  const Tensor dense_plain = linear.Forward(x);
  const Tensor dense_1 = linear.Forward(x1);

  auto sparse = MakeSparseLinear(linear.weight(), linear.bias()).value();
  EXPECT_NEAR(sparse->sparsity(), 0.85, 0.02);
  linear.SetKernel(sparse);
  EXPECT_THAT(linear.Describe(), HasSubstr("Linear(96 -> 40, CSR, "));
  EXPECT_THAT(linear.Describe(), HasSubstr("% zeros"));

  // The dense layer ran on the reference backend in float: both sides round, so the
  // tolerance is twice the bound of one (K <= 96 products of |x w| <~ 1 * 0.1).
  constexpr float kTol = 2e-5f;
  for (size_t a = 0; a < 3; ++a) {
    const Tensor y = linear.ForwardAct(x, kActs[a]);
    ASSERT_EQ(y.shape(), dense[a].shape());
    const std::vector<float> got = y.ToVector(), want = dense[a].ToVector();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], kTol) << a << " " << i;
  }
  const std::vector<float> plain = linear.Forward(x).ToVector(), want = dense_plain.ToVector();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(plain[i], want[i], kTol);
  const Tensor y1 = linear.Forward(x1);
  ASSERT_EQ(y1.shape(), tensor::Shape{40});
  for (int64_t i = 0; i < 40; ++i) EXPECT_NEAR(y1.data()[i], dense_1.data()[i], kTol);

  linear.SetKernel(nullptr);
  EXPECT_EQ(linear.Describe(), "Linear(96 -> 40)");
}

TEST(SparseLinearTest, WeightCsrGivesBackTheWeight) {
  std::mt19937 gen(9);
  const std::vector<float> w = RandomWeight(30, 11, 0.7, true, gen);
  auto sparse = MakeSparseLinear(Tensor::FromVector(w, {30, 11}), Tensor()).value();
  EXPECT_EQ(sparse->in_features(), 30);
  EXPECT_EQ(sparse->out_features(), 11);
  EXPECT_FALSE(sparse->has_bias());
  const CsrMatrix m = sparse->WeightCsr();
  ASSERT_EQ(m.rows, 30);
  ASSERT_EQ(m.cols, 11);
  std::vector<float> back(30 * 11);
  CsrToDense(m, back.data());
  EXPECT_EQ(back, w);
  // In memory it is W^T (one row offset per output), the bias and, with AVX-512, the
  // GEMV's layout.
  EXPECT_EQ(sparse->weight_t().Bytes(), 4 * (11 + 1) + 8 * sparse->nnz());
  if (accel::IsaSupported(accel::Isa::kAvx512)) {
    EXPECT_GT(sparse->Bytes(), sparse->weight_t().Bytes() + 11 * 4);
  } else {
    EXPECT_EQ(sparse->Bytes(), sparse->weight_t().Bytes() + 11 * 4);
  }

  // And from that CSR (as read from a model file) the same layer again.
  std::vector<float> bias(11, 0.5f);
  auto again = SparseLinearFromCsr(m, bias).value();
  EXPECT_EQ(again->nnz(), sparse->nnz());
  EXPECT_EQ(again->Bytes(), sparse->Bytes());
  std::vector<float> x(30, 1.0f), y0(11), y1(11);
  sparse->Run(x.data(), 1, y0.data(), Activation::kNone);
  again->Run(x.data(), 1, y1.data(), Activation::kNone);
  for (int i = 0; i < 11; ++i) EXPECT_FLOAT_EQ(y1[i], y0[i] + 0.5f);
}

TEST(SparseLinearTest, EmptyShapes) {
  // No inputs: y = act(b).
  auto no_in = MakeSparseLinear(Tensor::Zeros({0, 3}), Tensor::FromVector({-1, 0, 2}, {3})).value();
  const Tensor y = no_in->Forward(Tensor::Zeros({2, 0}), Activation::kRelu);
  EXPECT_EQ(y.ToVector(), (std::vector<float>{0, 0, 2, 0, 0, 2}));
  // No rows.
  auto layer = MakeSparseLinear(Tensor::Ones({4, 3}), Tensor()).value();
  EXPECT_EQ(layer->Forward(Tensor::Zeros({0, 4}), Activation::kNone).shape(),
            (tensor::Shape{0, 3}));
}

TEST(SparseLinearTest, BadArgumentsAreErrors) {
  auto one_d = MakeSparseLinear(Tensor::Zeros({5}), Tensor());
  ASSERT_FALSE(one_d.ok());
  EXPECT_EQ(one_d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(one_d.status().message()), HasSubstr("weight must be 2-D (in, out)"));

  auto bad_bias = MakeSparseLinear(Tensor::Zeros({5, 3}), Tensor::Zeros({5}));
  ASSERT_FALSE(bad_bias.ok());
  EXPECT_THAT(std::string(bad_bias.status().message()),
              HasSubstr("bias must have shape (3) for weight (5, 3), got (5)"));

  const CsrMatrix m = DenseToCsr(std::vector<float>(6, 1.0f).data(), 2, 3);
  auto from_csr = SparseLinearFromCsr(m, std::vector<float>(2));
  ASSERT_FALSE(from_csr.ok());
  EXPECT_THAT(std::string(from_csr.status().message()), HasSubstr("bias has 2 values"));
}

TEST(SparseLinearDeathTest, WrongInputWidthStops) {
  auto layer = MakeSparseLinear(Tensor::Ones({4, 3}), Tensor()).value();
  EXPECT_DEATH(layer->Forward(Tensor::Zeros({2, 5}), Activation::kNone),
               "SparseLinear\\(4 -> 3\\): input shape \\(2, 5\\) does not end in 4");
}

}  // namespace
}  // namespace tt::compress
