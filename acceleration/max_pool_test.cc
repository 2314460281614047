// VMaxPool2d on every ISA this CPU has against tensor's MaxPool2d kernel
// (ReferenceBackend::MaxPool2d): values and argmax indices identical, for the 2x2 /
// stride-2 fast path and general windows, odd sizes (tails), ties, NaN and infinities;
// and end to end through tensor's op, forward and backward, on a backend that uses it.
#include "acceleration/max_pool.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gtest/gtest.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tt::accel {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

struct Shape {
  int64_t planes, h, w, kernel, stride;
  std::string ToString() const {
    return std::to_string(planes) + "x" + std::to_string(h) + "x" + std::to_string(w) + " k" +
           std::to_string(kernel) + " s" + std::to_string(stride);
  }
  int64_t oh() const { return (h - kernel) / stride + 1; }
  int64_t ow() const { return (w - kernel) / stride + 1; }
  int64_t outputs() const { return planes * oh() * ow(); }
};

// Runs VMaxPool2d and the reference on x; values must have the same bits (or both be
// NaN) and the indices must be equal.
void ExpectSameAsReference(const Shape& s, const std::vector<float>& x, const std::string& what) {
  std::vector<float> want(s.outputs()), got(s.outputs() + 16, -7.0f);
  std::vector<int32_t> want_at(s.outputs()), got_at(s.outputs() + 16, -7);
  tensor::ReferenceBackend().MaxPool2d(x.data(), s.planes, s.h, s.w, s.kernel, s.stride,
                                       want.data(), want_at.data());
  VMaxPool2d(x.data(), s.planes, s.h, s.w, s.kernel, s.stride, got.data(), got_at.data());
  for (int i = 0; i < 16; ++i) {  // nothing written past the end
    ASSERT_EQ(got[s.outputs() + i], -7.0f) << what;
    ASSERT_EQ(got_at[s.outputs() + i], -7) << what;
  }
  int reported = 0;
  for (int64_t o = 0; o < s.outputs() && reported < 5; ++o) {
    const bool same_value = std::memcmp(&got[o], &want[o], sizeof(float)) == 0 ||
                            (std::isnan(got[o]) && std::isnan(want[o]));
    if (!same_value || got_at[o] != want_at[o]) {
      ADD_FAILURE() << what << " " << s.ToString() << " output " << o << ": got " << got[o]
                    << " at " << got_at[o] << ", reference " << want[o] << " at " << want_at[o];
      ++reported;
    }
  }
}

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Few distinct values: most windows hold ties, so "first maximum wins" is exercised.
std::vector<float> Ties(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, 2);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(dist(rng));
  return v;
}

const Shape kShapes[] = {
    {64, 28, 28, 2, 2}, {3, 2, 2, 2, 2},   {2, 5, 7, 2, 2},   {1, 33, 35, 2, 2}, {2, 17, 64, 2, 2},
    {1, 3, 67, 2, 2},   {2, 9, 9, 3, 1},   {2, 28, 28, 3, 2}, {1, 10, 40, 2, 1}, {1, 7, 7, 1, 1},
    {2, 12, 50, 3, 3},  {1, 11, 37, 4, 2}, {1, 13, 13, 5, 3}, {1, 6, 6, 6, 1},   {1, 4, 19, 1, 2},
};

class MaxPoolTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported";
    force_.emplace(GetParam());
  }
  std::string Name() const { return IsaName(GetParam()); }
  std::optional<ScopedIsa> force_;
};

TEST_P(MaxPoolTest, RandomDataMatchesReference) {
  for (const Shape& s : kShapes) {
    ExpectSameAsReference(s, Random(s.planes * s.h * s.w, 1), Name() + " random");
  }
}

TEST_P(MaxPoolTest, TiesKeepTheFirstMaximum) {
  for (const Shape& s : kShapes) {
    ExpectSameAsReference(s, Ties(s.planes * s.h * s.w, 2), Name() + " ties");
  }
  // -0 and +0 are equal: the first one wins, whatever its sign.
  const Shape s{1, 2, 4, 2, 2};
  ExpectSameAsReference(s, {-0.0f, 0.0f, 0.0f, -0.0f, 0.0f, -0.0f, -0.0f, 0.0f},
                        Name() + " signed zeros");
}

TEST_P(MaxPoolTest, NanAndInfinitiesMatchReference) {
  // NaN first in its window stays (nothing compares greater), NaN later never replaces.
  for (const Shape& s : kShapes) {
    std::vector<float> x = Random(s.planes * s.h * s.w, 3);
    std::mt19937 rng(4);
    for (float& v : x) {
      const int r = static_cast<int>(rng() % 10);
      if (r == 0) v = kNan;
      if (r == 1) v = -kInf;
      if (r == 2) v = kInf;
    }
    ExpectSameAsReference(s, x, Name() + " nan/inf");
  }
  const Shape s{1, 2, 2, 2, 2};
  ExpectSameAsReference(s, {kNan, kNan, kNan, kNan}, Name() + " all NaN");
  ExpectSameAsReference(s, {-kInf, -kInf, -kInf, -kInf}, Name() + " all -inf");
  ExpectSameAsReference(s, {kNan, 5.0f, 6.0f, 7.0f}, Name() + " NaN first");
  ExpectSameAsReference(s, {1.0f, kNan, 6.0f, kNan}, Name() + " NaN later");
}

// tensor's op, forward and backward, on a backend that pools with VMaxPool2d.
class PoolingBackend : public tensor::ReferenceBackend {
 public:
  std::string name() const override { return "max_pool_test"; }
  void MaxPool2d(const float* x, int64_t planes, int64_t h, int64_t w, int64_t kernel,
                 int64_t stride, float* y, int32_t* argmax) override {
    VMaxPool2d(x, planes, h, w, kernel, stride, y, argmax);
  }
};

TEST_P(MaxPoolTest, TensorOpForwardAndBackwardUnchanged) {
  for (auto [kernel, stride] : {std::pair<int64_t, int64_t>{2, 2}, {3, 2}}) {
    const std::vector<float> values = Ties(2 * 3 * 9 * 11, 5);
    auto run = [&](tensor::Backend* backend, std::vector<float>* y, std::vector<float>* dx) {
      tensor::ScopedBackend use(backend);
      tensor::Tensor x = tensor::Tensor::FromVector(values, {2, 3, 9, 11}).set_requires_grad(true);
      tensor::Tensor out = tensor::MaxPool2d(x, kernel, stride);
      // A weighted sum, so every output's gradient is distinct.
      const tensor::Tensor weights = tensor::Tensor::Arange(1.0f, 1.0f + out.numel());
      tensor::Sum(tensor::Mul(tensor::Reshape(out, {-1}), weights)).Backward();
      y->assign(out.data(), out.data() + out.numel());
      dx->assign(x.grad().data(), x.grad().data() + x.numel());
    };
    tensor::ReferenceBackend reference;
    PoolingBackend pooling;
    std::vector<float> y_ref, dx_ref, y, dx;
    run(&reference, &y_ref, &dx_ref);
    run(&pooling, &y, &dx);
    EXPECT_EQ(y, y_ref) << Name() << " kernel " << kernel;
    EXPECT_EQ(dx, dx_ref) << Name() << " kernel " << kernel;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, MaxPoolTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(info.param == Isa::kScalar    ? "Scalar"
                                              : info.param == Isa::kAvx2Fma ? "Avx2Fma"
                                                                            : "Avx512");
                         });

TEST(MaxPoolDeathTest, BadArgumentsStopWithAMessage) {
  std::vector<float> x(16), y(16);
  std::vector<int32_t> at(16);
  EXPECT_DEATH(VMaxPool2d(x.data(), 1, 4, 4, 0, 1, y.data(), at.data()),
               "VMaxPool2d: bad kernel 0");
  EXPECT_DEATH(VMaxPool2d(x.data(), 1, 4, 4, 2, 0, y.data(), at.data()),
               "VMaxPool2d: bad kernel 2 or stride 0");
  EXPECT_DEATH(VMaxPool2d(x.data(), 1, 4, 2, 3, 1, y.data(), at.data()),
               "VMaxPool2d: kernel 3 larger than the \\(4, 2\\) planes");
  EXPECT_DEATH(VMaxPool2d(x.data(), 1, 70000, 70000, 2, 2, y.data(), at.data()),
               "more elements than int32");
}

}  // namespace
}  // namespace tt::accel
