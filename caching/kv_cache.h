// KVCache: the keys and values of every attention layer, kept between decoding steps.
//
// Why: a transformer generating text one token at a time needs, at every step, the keys
// and values of all earlier positions. Recomputing them makes step t cost O(t) full
// forward passes of work (the whole generation O(n^2)); keeping them makes step t one
// token's forward pass plus one dot product per cached key. This class is that memory:
// one preallocated float32 buffer for K and one for V, filled position by position.
//
//   TT_ASSIGN_OR_RETURN(KVCache cache,
//                       KVCache::Create({/*layers=*/4, /*batch=*/2, /*heads=*/4,
//                                        /*max_seq_len=*/256, /*head_dim=*/32}));
//   // k, v: (heads, positions, head_dim) for sequence 1, layer 0:
//   TT_RETURN_IF_ERROR(cache.Append(/*layer=*/0, /*seq=*/1, k, v, /*positions=*/7));
//   const float* keys = cache.keys(0, 1, /*head=*/2);   // (cache.length(0, 1), 32), no copy
//
// Layout (one flat buffer each for K and V, as ggml writes its KV cache):
//
//   element (layer, seq, head, row, d) sits at
//       ((((layer * batch + seq) * heads + head) * max_seq_len + row) * head_dim + d
//
// so the rows of one (layer, sequence, head) are contiguous: attention reads them as a
// (length, head_dim) matrix straight from the cache. Each sequence of the batch has its
// own length (prompts of different lengths decode side by side).
//
// Lengths are counted per (layer, sequence): a forward pass appends layer by layer, so
// in the middle of one the early layers hold one step more than the late ones.
// length(seq) is what every layer holds.
//
// When a sequence is full (max_seq_len positions) the policy decides:
//   kError          Append returns ResourceExhausted and changes nothing.
//   kSlidingWindow  the oldest positions are dropped: the rows form a ring, and absolute
//                   position p (counted from the last Reset, dropped ones included) is
//                   stored in row p % max_seq_len. Once the ring has wrapped the rows are
//                   NOT in time order: row position_offset(seq) % max_seq_len holds the
//                   oldest kept position. Attention does not care (softmax over a set of
//                   keys is the same in any order, positions are baked into the keys),
//                   so the view stays copy-free. What the *model* does with positions
//                   past its context is the model's business: CachedGpt (cached_gpt.h)
//                   documents how the GPT with learned absolute positions handles it.
//
// Memory: Bytes() = 2 (K and V) * 4 bytes * layers * batch * heads * max_seq_len *
// head_dim, allocated (and zeroed, so no page fault lands in the middle of a generation)
// once by Create from the course allocator, where the memory profiler sees it.
//
// int8 (KVDtype::kInt8): each stored row (one position of one head: head_dim values) is
// quantized symmetrically with its own scale, as it is appended:
//     scale = max_i |x_i| / 127   (1 for an all-zero row),   q_i = round(x_i / scale)
// (round to nearest, ties to even; |q_i| <= 127), so x_i = scale * q_i to within
// scale / 2 = max|x| / 254 per value. A row then costs head_dim + 4 bytes instead of
// 4 * head_dim: 36 instead of 128 bytes for head_dim 32, 3.6x less memory, and 3.6x less
// to read per decode step at long contexts, where reading the cache dominates. Read it
// with keys_int8()/key_scales() (keys() is for float32 caches). The same layout formula
// holds, with int8 elements; scale (layer, seq, head, row) sits at
//     ((layer * batch + seq) * heads + head) * max_seq_len + row.
// Inputs must be finite.
#ifndef TT_CACHING_KV_CACHE_H_
#define TT_CACHING_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/tensor.h"

namespace tt::cache {

enum class CacheFullPolicy { kError, kSlidingWindow };

// "error", "sliding window".
const char* CacheFullPolicyName(CacheFullPolicy policy);

// How the cache stores keys and values (see "int8" above).
enum class KVDtype { kFloat32, kInt8 };

// "float32", "int8".
const char* KVDtypeName(KVDtype dtype);

struct KVCacheConfig {
  int64_t layers = 0, batch = 0, heads = 0, max_seq_len = 0, head_dim = 0;
  CacheFullPolicy policy = CacheFullPolicy::kError;
  KVDtype dtype = KVDtype::kFloat32;
  // Create refuses caches larger than this (ResourceExhausted) instead of trying.
  int64_t max_bytes = int64_t{8} << 30;
};

class KVCache {
 public:
  // InvalidArgument if a size is < 1; ResourceExhausted if the byte count overflows
  // int64 or exceeds config.max_bytes. Nothing is allocated in either case.
  static absl::StatusOr<KVCache> Create(const KVCacheConfig& config);

  KVCache(KVCache&&) = default;
  KVCache& operator=(KVCache&&) = default;

  // Appends `positions` positions of sequence `seq` to layer `layer`.
  // k, v: (heads, positions, head_dim), row-major. positions == 0 does nothing.
  // InvalidArgument for a layer or seq out of range, positions < 0, or null k/v;
  // ResourceExhausted when the sequence would hold more than max_seq_len positions under
  // kError (the cache is unchanged). Under kSlidingWindow more than max_seq_len
  // positions in one call keep only the last max_seq_len of them.
  absl::Status Append(int64_t layer, int64_t seq, const float* k, const float* v,
                      int64_t positions);
  // The same with any layout: element (head h, position t, d) of k and v is read at
  // [h * head_stride + t * position_stride + d]. E.g. a fused QKV projection's output
  // (positions, 3, heads, head_dim) gives k = out + C, v = out + 2C,
  // position_stride = 3C, head_stride = head_dim (C = heads * head_dim).
  absl::Status AppendStrided(int64_t layer, int64_t seq, const float* k, const float* v,
                             int64_t positions, int64_t position_stride,
                             int64_t head_stride);

  // Positions held by every layer for sequence `seq` (<= max_seq_len). Contract: seq in
  // range (TT_CHECK), as for every accessor below.
  int64_t length(int64_t seq) const;
  // Positions held by `layer` for `seq`.
  int64_t length(int64_t layer, int64_t seq) const;
  // Positions dropped by the sliding window since the last Reset (0 under kError): the
  // absolute position of the oldest kept one. Every layer's, like length(seq).
  int64_t position_offset(int64_t seq) const;
  // The same for one layer.
  int64_t position_offset(int64_t layer, int64_t seq) const;
  // The row that holds absolute position p of `layer`'s sequence `seq`: p % max_seq_len.
  // Contract: p is kept (position_offset <= p < position_offset + length).
  int64_t RowOfPosition(int64_t layer, int64_t seq, int64_t p) const;

  // Views of the filled rows, no copy: length(layer, seq) rows of head_dim floats, row
  // stride head_dim (ring order once a sliding window has wrapped; see above). Valid
  // until the next Append or Reset of that sequence changes them. float32 caches only
  // (TT_CHECK).
  const float* keys(int64_t layer, int64_t seq, int64_t head) const;
  const float* values(int64_t layer, int64_t seq, int64_t head) const;
  // The same for int8 caches (TT_CHECK): rows of head_dim int8 values, and one scale per
  // row (length(layer, seq) floats); value = scale[row] * q[row * head_dim + i].
  const int8_t* keys_int8(int64_t layer, int64_t seq, int64_t head) const;
  const int8_t* values_int8(int64_t layer, int64_t seq, int64_t head) const;
  const float* key_scales(int64_t layer, int64_t seq, int64_t head) const;
  const float* value_scales(int64_t layer, int64_t seq, int64_t head) const;

  // Forget every sequence / one sequence (lengths and offsets to 0; memory is kept).
  void Reset();
  void Reset(int64_t seq);

  // K + V bytes per position of one sequence, all layers: 2 * layers * heads * (4 *
  // head_dim) for float32, 2 * layers * heads * (head_dim + 4) for int8.
  int64_t BytesPerToken() const;
  // Everything allocated: BytesPerToken() * batch * max_seq_len.
  int64_t Bytes() const;

  const KVCacheConfig& config() const { return config_; }

 private:
  explicit KVCache(const KVCacheConfig& config);
  void CheckSeq(int64_t seq) const;
  int64_t Index(int64_t layer, int64_t seq) const { return layer * config_.batch + seq; }
  // Offset (in elements) of row 0 of (layer, seq, head); its scales start at
  // HeadBase / head_dim.
  int64_t HeadBase(int64_t layer, int64_t seq, int64_t head) const;
  int8_t* Int8Data(const std::unique_ptr<tensor::Storage>& s) const {
    return reinterpret_cast<int8_t*>(s->data());
  }

  KVCacheConfig config_;
  // float32: the values. int8: the int8 values (in float-sized storage, so that the
  // course allocator and its memory profiler see them) and the row scales.
  std::unique_ptr<tensor::Storage> k_, v_, k_scales_, v_scales_;
  // Positions appended to (layer, seq) since its last Reset, dropped ones included.
  std::vector<int64_t> appended_;
};

}  // namespace tt::cache

#endif  // TT_CACHING_KV_CACHE_H_
