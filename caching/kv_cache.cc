#include "caching/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::cache {

const char* CacheFullPolicyName(CacheFullPolicy policy) {
  switch (policy) {
    case CacheFullPolicy::kError:
      return "error";
    case CacheFullPolicy::kSlidingWindow:
      return "sliding window";
  }
  return "unknown";
}

const char* KVDtypeName(KVDtype dtype) {
  switch (dtype) {
    case KVDtype::kFloat32:
      return "float32";
    case KVDtype::kInt8:
      return "int8";
  }
  return "unknown";
}

namespace {

// a * b into *out; false when it overflows int64.
bool MulOk(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Symmetric int8 quantization of one row of n values (see the header): q and its scale.
float QuantizeRow(const float* x, int64_t n, int8_t* q) {
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(x[i]));
  const float scale = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float r = std::nearbyint(x[i] / scale);  // ties to even (default rounding mode)
    q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, r)));
  }
  return scale;
}

}  // namespace

absl::StatusOr<KVCache> KVCache::Create(const KVCacheConfig& config) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"layers", config.layers},           {"batch", config.batch},
      {"heads", config.heads},             {"max_seq_len", config.max_seq_len},
      {"head_dim", config.head_dim},
  };
  for (const auto& [name, value] : sizes) {
    if (value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("KVCache: ", name, " must be >= 1, got ", value));
    }
  }
  if (config.policy != CacheFullPolicy::kError &&
      config.policy != CacheFullPolicy::kSlidingWindow) {
    return absl::InvalidArgumentError("KVCache: unknown CacheFullPolicy");
  }
  if (config.dtype != KVDtype::kFloat32 && config.dtype != KVDtype::kInt8) {
    return absl::InvalidArgumentError("KVCache: unknown KVDtype");
  }
  // Elements per buffer, then bytes, checked step by step:
  //   float32: 2 * 4 * elements;   int8: 2 * (elements + 4 * elements / head_dim).
  int64_t elements = 1;
  bool ok = true;
  for (const auto& [name, value] : sizes) ok = ok && MulOk(elements, value, &elements);
  int64_t bytes = 0;
  if (ok && config.dtype == KVDtype::kFloat32) {
    ok = MulOk(elements, 8, &bytes);
  } else if (ok) {
    const int64_t rows = elements / config.head_dim;
    ok = rows <= (std::numeric_limits<int64_t>::max() / 2 - elements) / 4;
    bytes = ok ? 2 * (elements + 4 * rows) : 0;
  }
  if (!ok) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KVCache: the byte count of ", config.layers, " layers * ", config.batch,
        " sequences * ", config.heads, " heads * ", config.max_seq_len, " positions * ",
        config.head_dim, " head_dim (", KVDtypeName(config.dtype), ", K and V) overflows int64"));
  }
  if (bytes > config.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("KVCache: ", bytes, " bytes (", config.layers, " layers, batch ",
                     config.batch, ", ", config.heads, " heads, ", config.max_seq_len,
                     " positions, head_dim ", config.head_dim, ", ", KVDtypeName(config.dtype),
                     ") exceed the limit KVCacheConfig::max_bytes = ", config.max_bytes));
  }
  return KVCache(config);
}

KVCache::KVCache(const KVCacheConfig& config) : config_(config) {
  const int64_t elements =
      config.layers * config.batch * config.heads * config.max_seq_len * config.head_dim;
  // Touch every page now: a page fault in the middle of a generation would show up as a
  // latency spike at whichever position first reaches a new page.
  auto zeroed = [](int64_t floats) {
    auto s = std::make_unique<tensor::Storage>(floats);
    std::memset(s->data(), 0, static_cast<size_t>(floats) * sizeof(float));
    return s;
  };
  if (config.dtype == KVDtype::kFloat32) {
    k_ = zeroed(elements);
    v_ = zeroed(elements);
  } else {
    k_ = zeroed((elements + 3) / 4);  // int8 values, four to a float slot
    v_ = zeroed((elements + 3) / 4);
    k_scales_ = zeroed(elements / config.head_dim);
    v_scales_ = zeroed(elements / config.head_dim);
  }
  appended_.assign(static_cast<size_t>(config.layers * config.batch), 0);
}

int64_t KVCache::BytesPerToken() const {
  const int64_t row = config_.dtype == KVDtype::kFloat32
                          ? static_cast<int64_t>(sizeof(float)) * config_.head_dim
                          : config_.head_dim + static_cast<int64_t>(sizeof(float));
  return 2 * config_.layers * config_.heads * row;
}

int64_t KVCache::Bytes() const {
  return BytesPerToken() * config_.batch * config_.max_seq_len;
}

void KVCache::CheckSeq(int64_t seq) const {
  TT_CHECK(seq >= 0 && seq < config_.batch, "KVCache: sequence ", seq, " out of range [0, ",
           config_.batch, ")");
}

int64_t KVCache::HeadBase(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(layer >= 0 && layer < config_.layers && seq >= 0 && seq < config_.batch &&
               head >= 0 && head < config_.heads,
           "KVCache: (layer ", layer, ", seq ", seq, ", head ", head, ") out of range (",
           config_.layers, ", ", config_.batch, ", ", config_.heads, ")");
  return ((Index(layer, seq) * config_.heads + head) * config_.max_seq_len) * config_.head_dim;
}

absl::Status KVCache::Append(int64_t layer, int64_t seq, const float* k, const float* v,
                             int64_t positions) {
  return AppendStrided(layer, seq, k, v, positions, /*position_stride=*/config_.head_dim,
                       /*head_stride=*/positions * config_.head_dim);
}

absl::Status KVCache::AppendStrided(int64_t layer, int64_t seq, const float* k,
                                    const float* v, int64_t positions,
                                    int64_t position_stride, int64_t head_stride) {
  if (layer < 0 || layer >= config_.layers) {
    return absl::InvalidArgumentError(absl::StrCat("KVCache::Append: layer ", layer,
                                                   " out of range [0, ", config_.layers, ")"));
  }
  if (seq < 0 || seq >= config_.batch) {
    return absl::InvalidArgumentError(absl::StrCat("KVCache::Append: sequence ", seq,
                                                   " out of range [0, ", config_.batch, ")"));
  }
  if (positions < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("KVCache::Append: negative number of positions ", positions));
  }
  if (positions == 0) return absl::OkStatus();
  if (k == nullptr || v == nullptr) {
    return absl::InvalidArgumentError("KVCache::Append: null keys or values");
  }
  int64_t& appended = appended_[Index(layer, seq)];
  const int64_t w = config_.max_seq_len;
  if (config_.policy == CacheFullPolicy::kError && appended + positions > w) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV cache full: sequence ", seq, " of layer ", layer, " holds ", appended, " of ", w,
        " positions and cannot take ", positions,
        " more (policy 'error'; use a sliding window or a larger max_seq_len)"));
  }
  // Under the sliding window only the last w new positions can survive.
  const int64_t skip = std::max<int64_t>(0, positions - w);
  const int64_t hd = config_.head_dim;
  const size_t row_bytes = static_cast<size_t>(hd) * sizeof(float);
  const bool f32 = config_.dtype == KVDtype::kFloat32;
  for (int64_t h = 0; h < config_.heads; ++h) {
    const int64_t base = HeadBase(layer, seq, h);
    for (int64_t t = skip; t < positions; ++t) {
      const int64_t row = (appended + t) % w;  // == appended + t below the capacity
      const int64_t src = h * head_stride + t * position_stride;
      if (f32) {
        std::memcpy(k_->data() + base + row * hd, k + src, row_bytes);
        std::memcpy(v_->data() + base + row * hd, v + src, row_bytes);
      } else {
        k_scales_->data()[base / hd + row] =
            QuantizeRow(k + src, hd, Int8Data(k_) + base + row * hd);
        v_scales_->data()[base / hd + row] =
            QuantizeRow(v + src, hd, Int8Data(v_) + base + row * hd);
      }
    }
  }
  appended += positions;
  return absl::OkStatus();
}

int64_t KVCache::length(int64_t layer, int64_t seq) const {
  CheckSeq(seq);
  TT_CHECK(layer >= 0 && layer < config_.layers, "KVCache: layer ", layer,
           " out of range [0, ", config_.layers, ")");
  return std::min(appended_[Index(layer, seq)], config_.max_seq_len);
}

int64_t KVCache::length(int64_t seq) const {
  CheckSeq(seq);
  int64_t appended = appended_[Index(0, seq)];
  for (int64_t l = 1; l < config_.layers; ++l) {
    appended = std::min(appended, appended_[Index(l, seq)]);
  }
  return std::min(appended, config_.max_seq_len);
}

int64_t KVCache::position_offset(int64_t seq) const {
  CheckSeq(seq);
  int64_t appended = appended_[Index(0, seq)];
  for (int64_t l = 1; l < config_.layers; ++l) {
    appended = std::min(appended, appended_[Index(l, seq)]);
  }
  return appended - std::min(appended, config_.max_seq_len);
}

int64_t KVCache::position_offset(int64_t layer, int64_t seq) const {
  return appended_[Index(layer, seq)] - length(layer, seq);  // length checks the indices
}

int64_t KVCache::RowOfPosition(int64_t layer, int64_t seq, int64_t p) const {
  const int64_t len = length(layer, seq);
  const int64_t first = position_offset(layer, seq);
  TT_CHECK(p >= first && p < first + len, "KVCache: position ", p, " of sequence ", seq,
           " layer ", layer, " is not kept (kept: [", first, ", ", first + len, "))");
  return p % config_.max_seq_len;
}

const float* KVCache::keys(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kFloat32, "KVCache::keys: the cache is int8 (use keys_int8)");
  return k_->data() + HeadBase(layer, seq, head);
}

const float* KVCache::values(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kFloat32,
           "KVCache::values: the cache is int8 (use values_int8)");
  return v_->data() + HeadBase(layer, seq, head);
}

const int8_t* KVCache::keys_int8(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kInt8, "KVCache::keys_int8: the cache is float32");
  return Int8Data(k_) + HeadBase(layer, seq, head);
}

const int8_t* KVCache::values_int8(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kInt8, "KVCache::values_int8: the cache is float32");
  return Int8Data(v_) + HeadBase(layer, seq, head);
}

const float* KVCache::key_scales(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kInt8, "KVCache::key_scales: the cache is float32");
  return k_scales_->data() + HeadBase(layer, seq, head) / config_.head_dim;
}

const float* KVCache::value_scales(int64_t layer, int64_t seq, int64_t head) const {
  TT_CHECK(config_.dtype == KVDtype::kInt8, "KVCache::value_scales: the cache is float32");
  return v_scales_->data() + HeadBase(layer, seq, head) / config_.head_dim;
}

void KVCache::Reset() { std::fill(appended_.begin(), appended_.end(), 0); }

void KVCache::Reset(int64_t seq) {
  CheckSeq(seq);
  for (int64_t l = 0; l < config_.layers; ++l) appended_[Index(l, seq)] = 0;
}

}  // namespace tt::cache
