#include "quantization/quantize.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "acceleration/cpu_features.h"
#include "gtest/gtest.h"
#include "quantization/qparams.h"

namespace tt::quant {
namespace {

using accel::Isa;

const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Parameters that exercise every part of the kernels: zero points at both ends of each
// type, power-of-two scales (exact ties), the scale floor (1/scale ~ 8.5e37) and a huge
// scale.
struct Case {
  QParams p;
  QType type;
};
const Case kCases[] = {
    {{0.25f, 0}, QType::kInt8},        {{0.1f, -128}, QType::kInt8},
    {{0.1f, 127}, QType::kInt8},       {{0.0371f, 13}, QType::kInt8},
    {{kMinScale, 0}, QType::kInt8},    {{1e30f, -5}, QType::kInt8},
    {{0.25f, 0}, QType::kUint8},       {{0.1f, 128}, QType::kUint8},
    {{0.1f, 255}, QType::kUint8},      {{0.0371f, 37}, QType::kUint8},
    {{kMinScale, 128}, QType::kUint8}, {{1e30f, 200}, QType::kUint8},
};

// n values mixing in-range, out-of-range (saturating), exact ties, signed zeros,
// denormals, extreme and NaN inputs.
std::vector<float> Inputs(int64_t n, QParams p, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> steps(-300.0f, 300.0f);
  std::uniform_int_distribution<int> tie(-300, 300);
  std::uniform_int_distribution<int> kind(0, 9);
  const float specials[] = {0.0f,     -0.0f, 1e-45f, -1e-40f, FLT_MIN, FLT_MAX,
                            -FLT_MAX, 1e30f, -1e30f, kNaN,    kInf,    -kInf};
  std::vector<float> x(n);
  for (float& v : x) {
    const int k = kind(gen);
    if (k < 6) {
      v = steps(gen) * p.scale;  // a few hundred steps either side of 0
    } else if (k < 9) {
      v = (tie(gen) + 0.5f) * p.scale;  // near (for power-of-two scales: exactly on) a tie
    } else {
      v = specials[std::uniform_int_distribution<int>(0, 11)(gen)];
    }
  }
  return x;
}

// Bit-for-bit equality (tells -0.0 from 0.0); n may be 0 with null pointers.
bool SameBits(const float* a, const float* b, int64_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512}) {
    if (accel::IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

class QuantizeIsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!accel::IsaSupported(GetParam())) {
      GTEST_SKIP() << "this CPU lacks " << accel::IsaName(GetParam());
    }
  }
};

// Every length 0..70 (all tails of both vector widths), input and output misaligned by
// 0..3 elements, output guard bytes untouched: bit-exact with the reference.
TEST_P(QuantizeIsaTest, BitExactWithReference) {
  accel::ScopedIsa force(GetParam());
  constexpr int64_t kGuard = 8;
  constexpr uint8_t kSentinel = 0xA5;
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message()
                 << QTypeName(c.type) << " scale=" << c.p.scale << " zp=" << c.p.zero_point);
    for (int64_t n = 0; n <= 70; ++n) {
      for (int64_t offset = 0; offset < 4; ++offset) {
        const std::vector<float> values = Inputs(n, c.p, seed++);
        std::vector<float> x(n + offset);
        std::copy(values.begin(), values.end(), x.begin() + offset);
        const float* in = x.data() + offset;
        std::vector<uint8_t> got(n + offset + kGuard, kSentinel), want(n, 0);
        uint8_t* out = got.data() + offset;
        if (c.type == QType::kInt8) {
          QuantizeInt8(in, n, c.p, reinterpret_cast<int8_t*>(out));
          QuantizeInt8Ref(in, n, c.p, reinterpret_cast<int8_t*>(want.data()));
        } else {
          QuantizeUint8(in, n, c.p, out);
          QuantizeUint8Ref(in, n, c.p, want.data());
        }
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(out[i], want[i])
              << "n=" << n << " offset=" << offset << " i=" << i << " x=" << in[i];
        }
        for (int64_t i = 0; i < offset; ++i) ASSERT_EQ(got[i], kSentinel) << "wrote before";
        for (int64_t i = 0; i < kGuard; ++i) ASSERT_EQ(out[n + i], kSentinel) << "wrote past n";

        // Dequantize the reference's bytes back, from a misaligned source.
        std::vector<float> back(n + offset + kGuard, -7.0f), back_ref(n);
        if (c.type == QType::kInt8) {
          DequantizeInt8(reinterpret_cast<const int8_t*>(out), n, c.p, back.data() + offset);
          DequantizeInt8Ref(reinterpret_cast<const int8_t*>(want.data()), n, c.p, back_ref.data());
        } else {
          DequantizeUint8(out, n, c.p, back.data() + offset);
          DequantizeUint8Ref(want.data(), n, c.p, back_ref.data());
        }
        ASSERT_TRUE(SameBits(back.data() + offset, back_ref.data(), n))
            << "n=" << n << " offset=" << offset;
        for (int64_t i = 0; i < kGuard; ++i) ASSERT_EQ(back[offset + n + i], -7.0f);
      }
    }
  }
}

TEST_P(QuantizeIsaTest, LongArraysAndEveryByte) {
  accel::ScopedIsa force(GetParam());
  // Every int8 / uint8 value dequantizes bit-exactly like the reference.
  std::vector<int8_t> s8(256);
  std::vector<uint8_t> u8(256);
  for (int i = 0; i < 256; ++i) {
    s8[i] = static_cast<int8_t>(i - 128);
    u8[i] = static_cast<uint8_t>(i);
  }
  std::vector<float> a(256), b(256);
  DequantizeInt8(s8.data(), 256, {0.0371f, -3}, a.data());
  DequantizeInt8Ref(s8.data(), 256, {0.0371f, -3}, b.data());
  EXPECT_TRUE(SameBits(a.data(), b.data(), 256));
  DequantizeUint8(u8.data(), 256, {0.0371f, 97}, a.data());
  DequantizeUint8Ref(u8.data(), 256, {0.0371f, 97}, b.data());
  EXPECT_TRUE(SameBits(a.data(), b.data(), 256));

  const int64_t n = 100003;
  const QParams p{0.0371f, 21};
  const std::vector<float> x = Inputs(n, p, 99);
  std::vector<int8_t> q(n), q_ref(n);
  QuantizeInt8(x.data(), n, p, q.data());
  QuantizeInt8Ref(x.data(), n, p, q_ref.data());
  EXPECT_EQ(q, q_ref);
}

INSTANTIATE_TEST_SUITE_P(Isas, QuantizeIsaTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2Fma, Isa::kAvx512),
                         [](const auto& info) {
                           std::string name = accel::IsaName(info.param);
                           return name == "avx2+fma" ? std::string("avx2") : name;
                         });

// The rounding rule, on the reference and on every ISA: ties to even, -0.0 like 0.
TEST(QuantizeRoundingTest, TiesToEvenAndSignedZero) {
  const std::vector<float> x = {0.5f,        1.5f,         2.5f,   3.5f,   -0.5f,
                                -1.5f,       -2.5f,        -3.5f,  -0.0f,  0.49999997f,
                                0.50000006f, -0.50000006f, 126.5f, -127.5f};
  const std::vector<int8_t> want = {0, 2, 2, 4, 0, -2, -2, -4, 0, 0, 1, -1, 126, -128};
  for (Isa isa : SupportedIsas()) {
    accel::ScopedIsa force(isa);
    // Pad to 37 so the values go through full vector steps and tails alike.
    for (int64_t pad : {0, 16, 23}) {
      std::vector<float> in(pad, 0.0f);
      in.insert(in.end(), x.begin(), x.end());
      std::vector<int8_t> q(in.size());
      QuantizeInt8(in.data(), in.size(), {1.0f, 0}, q.data());
      EXPECT_EQ(std::vector<int8_t>(q.begin() + pad, q.end()), want) << accel::IsaName(isa);
    }
    // The zero point is added after rounding: with zp = 3, 0.5 -> 0 + 3 (not round(3.5) = 4).
    const float ties[] = {0.5f, 1.5f, -0.5f};
    int8_t q[3];
    QuantizeInt8(ties, 3, {1.0f, 3}, q);
    EXPECT_EQ(q[0], 3);
    EXPECT_EQ(q[1], 5);
    EXPECT_EQ(q[2], 3);
    uint8_t u[3];
    QuantizeUint8(ties, 3, {1.0f, 128}, u);
    EXPECT_EQ(u[0], 128);
    EXPECT_EQ(u[1], 130);
    EXPECT_EQ(u[2], 128);
  }
}

TEST(QuantizeRoundingTest, SaturationAndNaN) {
  for (Isa isa : SupportedIsas()) {
    accel::ScopedIsa force(isa);
    const float x[] = {1000.0f, -1000.0f, FLT_MAX, -FLT_MAX, kInf, -kInf, kNaN, 127.49f};
    int8_t s[8];
    QuantizeInt8(x, 8, {1.0f, 0}, s);
    EXPECT_EQ(s[0], 127);
    EXPECT_EQ(s[1], -128);
    EXPECT_EQ(s[2], 127);
    EXPECT_EQ(s[3], -128);
    EXPECT_EQ(s[4], 127);
    EXPECT_EQ(s[5], -128);
    EXPECT_EQ(s[6], -128);  // NaN -> QMin (documented; inputs should pass CheckFinite)
    EXPECT_EQ(s[7], 127);
    uint8_t u[8];
    QuantizeUint8(x, 8, {1.0f, 100}, u);
    EXPECT_EQ(u[0], 255);
    EXPECT_EQ(u[1], 0);
    EXPECT_EQ(u[6], 0);
    EXPECT_EQ(u[7], 227);
  }
}

// |x - dq(q(x))| <= scale / 2 inside the range (up to float rounding), saturation outside.
TEST(QuantizeRoundTripTest, ErrorBoundInsideSaturationOutside) {
  std::mt19937 gen(5);
  for (QType type : {QType::kInt8, QType::kUint8}) {
    for (auto [lo, hi] :
         {std::pair{-1.0f, 1.0f}, std::pair{0.0f, 6.0f}, std::pair{-0.3f, 17.0f},
          std::pair{-250.0f, -3.0f}, std::pair{-1e-30f, 5e-31f}, std::pair{-1e30f, 1e29f}}) {
      const QParams p = ChooseAffineQParams(lo, hi, type).value();
      const float glo = p.scale * static_cast<float>(QMin(type) - p.zero_point);
      const float ghi = p.scale * static_cast<float>(QMax(type) - p.zero_point);
      std::uniform_real_distribution<float> inside(std::min(lo, 0.0f), std::max(hi, 0.0f));
      const int64_t n = 5000;
      std::vector<float> x(n);
      for (float& v : x) v = inside(gen);
      x[0] = std::min(lo, 0.0f);
      x[1] = std::max(hi, 0.0f);
      std::vector<float> y(n);
      if (type == QType::kInt8) {
        std::vector<int8_t> q(n);
        QuantizeInt8(x.data(), n, p, q.data());
        DequantizeInt8(q.data(), n, p, y.data());
      } else {
        std::vector<uint8_t> q(n);
        QuantizeUint8(x.data(), n, p, q.data());
        DequantizeUint8(q.data(), n, p, y.data());
      }
      for (int64_t i = 0; i < n; ++i) {
        const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
        ASSERT_LE(err, p.scale * (0.5 + 1e-4) + std::fabs(x[i]) * 1e-7)
            << "x=" << x[i] << " [" << lo << ", " << hi << "]";
      }
      // Outside the grid: the end values, exactly.
      const float beyond[] = {ghi + 3 * p.scale, glo - 3 * p.scale};
      EXPECT_EQ(QuantizeValue(beyond[0], p, type), QMax(type));
      EXPECT_EQ(QuantizeValue(beyond[1], p, type), QMin(type));
    }
  }
}

TEST(QuantizeValueTest, MatchesTheArrays) {
  const QParams p{0.0371f, 9};
  const std::vector<float> x = Inputs(1000, p, 4);
  std::vector<int8_t> q(x.size());
  QuantizeInt8Ref(x.data(), x.size(), p, q.data());
  std::vector<float> y(x.size());
  DequantizeInt8Ref(q.data(), q.size(), p, y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(QuantizeValue(x[i], p, QType::kInt8), q[i]);
    ASSERT_EQ(DequantizeValue(q[i], p), y[i]);
    ASSERT_EQ(y[i], p.scale * static_cast<float>(q[i] - p.zero_point));
  }
}

TEST(QuantizeDeathTest, ContractViolations) {
  std::vector<float> x(4, 1.0f);
  std::vector<int8_t> s(4);
  std::vector<uint8_t> u(4);
  EXPECT_DEATH(QuantizeInt8(x.data(), -1, {1.0f, 0}, s.data()), "n must be >= 0");
  EXPECT_DEATH(QuantizeInt8(x.data(), 4, {0.0f, 0}, s.data()), "scale must be finite");
  EXPECT_DEATH(QuantizeInt8(x.data(), 4, {1e-40f, 0}, s.data()), "scale must be finite");
  EXPECT_DEATH(QuantizeInt8(x.data(), 4, {kNaN, 0}, s.data()), "scale must be finite");
  EXPECT_DEATH(QuantizeInt8(x.data(), 4, {1.0f, 128}, s.data()), "zero point 128 is outside int8");
  EXPECT_DEATH(QuantizeUint8(x.data(), 4, {1.0f, -1}, u.data()), "outside uint8");
  EXPECT_DEATH(DequantizeUint8(u.data(), 4, {1.0f, 256}, x.data()), "outside uint8");
}

}  // namespace
}  // namespace tt::quant
