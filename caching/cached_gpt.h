// CachedGpt: prefill-then-decode inference for tensor's GPT over a preallocated KV cache.
//
//   tt::tensor::Gpt gpt(tt::tensor::GptConfig{}, /*seed=*/1);
//   TT_ASSIGN_OR_RETURN(std::unique_ptr<CachedGpt> engine,
//                       CachedGpt::Create(gpt, /*batch=*/2, /*max_seq_len=*/256));
//   TT_ASSIGN_OR_RETURN(std::vector<float> a, engine->Prefill(0, prompt_a));  // (vocab)
//   TT_ASSIGN_OR_RETURN(std::vector<float> b, engine->Prefill(1, prompt_b));  // any length
//   // One token for each sequence, each at its own position: logits (2, vocab).
//   TT_ASSIGN_OR_RETURN(std::vector<float> next, engine->Decode({0, 1}, {tok_a, tok_b}));
//
// The engine runs the model's own modules (found by path: "token_embedding",
// "position_embedding", "block<i>.ln1", "block<i>.attn.qkv", "block<i>.attn.proj",
// "block<i>.ln2", "block<i>.mlp" = Linear-GELU-Linear, "final_norm", "lm_head"): the
// weights are shared, never copied, and read at every call, so the engine sees a model
// that is trained or quantized after Create. It computes exactly tensor::Gpt::Forward's
// math (pre-LN blocks, LayerNorm eps 1e-5, scores q.k / sqrt(head_dim), causal softmax,
// tanh GELU), but on raw buffers allocated once by Create, and keeps each position's
// keys and values in a KVCache instead of concatenating them again at every step:
//
//   prefill, T prompt tokens at positions P..P+T-1 of one sequence (P = what it holds):
//     x = tok_emb[ids] + pos_emb[P..]                           (T, C)
//     per block: h = LN1(x); qkv = h Wqkv + b                   (T, 3C)
//                append k, v of every head to the cache         (heads, T, hd)
//                per head: S = q K^T / sqrt(hd)                 (T, P+T), causal mask
//                          y = softmax(S) V                     (T, hd)
//                x += y Wproj + b;  x += GELU(LN2(x) W1 + b1) W2 + b2
//     logits = LN_f(x[T-1]) Whead + b                          (vocab)
//   decode, one token for each of B sequences: the same with T = 1 per sequence, the
//   Linear layers batched over the B rows (one GEMM of M = B), the attention per
//   sequence over its own cached prefix.
//
// Kernels: float Linear layers run acceleration's GEMM on the module's weight in place
// (GemmPacked on ActiveIsa(), which takes GemmSmallM for the few rows of a decode step)
// with the bias, GELU and the residual add (beta = 1) fused in. A Linear with a kernel
// (quantization's WeightOnlyLinear, compression's SparseLinear) runs that kernel on the
// raw rows, so quantized or pruned weights are what the engine multiplies by; any other
// LinearKernel goes through Linear::ForwardAct (correct, with one small tensor
// allocation per call). Attention: the scores are one GEMM against the cached keys
// (tb = kYes, alpha = 1/sqrt(hd)), the softmax acceleration's vectorized row softmax,
// the weighted sum one GEMM against the cached values. A decode step (one query per
// sequence) uses this module's own kernels instead (kernels/attention_kernels.h: a block
// of 16 keys' dot products reduced together, then a weighted sum with 4 independent
// accumulators), as does every step on an int8 cache (CachedGptOptions::kv_dtype), which
// converts int8 to float in registers. Everything dispatches on tt::accel::ActiveIsa(),
// so tests force each path with ScopedIsa. One thread.
//
// Positions and the full cache (the GPT's position embeddings are learned, one per
// position 0..context_length-1, and added at the input, so every cached key and value
// depends on the position it was computed at):
//   - max_seq_len <= context_length (Create checks): a sequence's tokens take positions
//     0..length-1, and length(seq) is also the position of its next token.
//   - kError: Prefill / Decode return ResourceExhausted when a sequence would hold more
//     than max_seq_len tokens (nothing changes).
//   - kSlidingWindow, re-based: when new tokens do not fit, the engine keeps the last
//     SlidingWindowKeep(max_seq_len, new tokens) tokens of the sequence (half the window
//     for a decode step), forgets the whole cache of the sequence, and runs the kept
//     tokens again as a prefill at positions 0.. before the new tokens. Keeping their
//     old keys and values under new positions is not possible: each position's
//     embedding is baked into its keys and values through every layer. So the model
//     always sees positions it was trained on, and every logit equals Gpt::Forward on
//     the kept tokens plus the new ones (tested). The cost: one prefill of `keep`
//     tokens per (max_seq_len - keep) new tokens, i.e. one slow step in that many.
//     dropped(seq) counts the tokens forgotten.
//     (A model with relative positions, e.g. RoPE, could instead let the KVCache's own
//     sliding ring drop one position at a time; the engine's cache always runs kError.)
//   - A prompt longer than max_seq_len is InvalidArgument under both policies.
//
// Not thread-safe: one engine per thread (they may share the Gpt).
#ifndef TT_CACHING_CACHED_GPT_H_
#define TT_CACHING_CACHED_GPT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "caching/kv_cache.h"
#include "tensor/models.h"
#include "tensor/nn.h"

namespace tt::cache {

// Under the re-based sliding window: how many of the `window` cached tokens a sequence
// keeps when `incoming` new tokens do not fit: min(window / 2, window - incoming), and
// at least 0. Generate's uncached baseline applies the same rule, so both paths see the
// same tokens.
int64_t SlidingWindowKeep(int64_t window, int64_t incoming);

struct CachedGptOptions {
  CacheFullPolicy policy = CacheFullPolicy::kError;
  // KVDtype::kInt8 stores keys and values in int8 with a scale per row (kv_cache.h):
  // 3.6x less cache memory for head_dim 32. The logits move by the rounding of K and V:
  // about 3e-3 on cached_gpt_test's small untrained model (float32: about 1e-6).
  KVDtype kv_dtype = KVDtype::kFloat32;
};

class CachedGpt {
 public:
  // An engine for up to `batch` sequences of up to `max_seq_len` tokens each, over the
  // modules of `gpt` (which must outlive the engine). InvalidArgument for batch or
  // max_seq_len < 1, max_seq_len > the context length, or an unknown policy;
  // FailedPrecondition when a module is missing or has the wrong type or shape (named by
  // path); the KVCache's errors.
  static absl::StatusOr<std::unique_ptr<CachedGpt>> Create(
      tensor::Gpt& gpt, int64_t batch, int64_t max_seq_len,
      CacheFullPolicy policy = CacheFullPolicy::kError);
  static absl::StatusOr<std::unique_ptr<CachedGpt>> Create(tensor::Gpt& gpt, int64_t batch,
                                                           int64_t max_seq_len,
                                                           const CachedGptOptions& options);

  // Runs `prompt` through sequence `seq` in one pass (appended after what the sequence
  // holds; Reset(seq) first to start a new one), fills its cache, and returns the
  // logits of the prompt's last position (vocab floats). InvalidArgument for seq out of
  // range, an empty prompt, an id outside [0, vocab) (its index is named), a prompt
  // longer than max_seq_len; ResourceExhausted when full under kError. On error nothing
  // changes.
  absl::StatusOr<std::vector<float>> Prefill(int64_t seq, const std::vector<int32_t>& prompt);
  // The same into `logits` (exactly vocab_size() floats), allocating nothing.
  absl::Status PrefillInto(int64_t seq, absl::Span<const int32_t> prompt,
                           absl::Span<float> logits);

  // One new token for each sequence in `seqs` (distinct, each at its own position), as
  // one batched step; returns logits (seqs.size(), vocab) row-major. A sequence that
  // holds nothing yet is fine (its token takes position 0). InvalidArgument for sizes
  // that differ, no sequence, more than batch, a repeated or out-of-range sequence, an
  // id outside [0, vocab); ResourceExhausted when a sequence is full under kError. On
  // error nothing changes.
  absl::StatusOr<std::vector<float>> Decode(const std::vector<int64_t>& seqs,
                                            const std::vector<int32_t>& tokens);
  // The same into `logits` (exactly seqs.size() * vocab_size() floats). Allocates
  // nothing, unless a Linear carries a kernel other than WeightOnlyLinear or
  // SparseLinear (those run through Linear::ForwardAct, on tensors).
  absl::Status DecodeInto(absl::Span<const int64_t> seqs, absl::Span<const int32_t> tokens,
                          absl::Span<float> logits);

  // Forget every sequence / one sequence (cache, tokens and drop counts).
  void Reset();
  void Reset(int64_t seq);

  // Tokens sequence `seq` holds = the position its next token takes. Contract for these
  // accessors: seq in range (TT_CHECK).
  int64_t length(int64_t seq) const;
  // Those tokens, oldest first.
  const std::vector<int32_t>& tokens(int64_t seq) const;
  // Tokens dropped by sliding-window re-bases since the last Reset of `seq`.
  int64_t dropped(int64_t seq) const;

  KVCache& cache() { return cache_; }
  const KVCache& cache() const { return cache_; }
  int64_t batch() const { return batch_; }
  int64_t max_seq_len() const { return max_seq_len_; }
  int64_t vocab_size() const { return vocab_; }
  CacheFullPolicy policy() const { return policy_; }
  // Bytes of the engine's own activation buffers (the cache not included).
  int64_t ScratchBytes() const;

 private:
  struct Block {
    tensor::Tensor ln1_gamma, ln1_beta, ln2_gamma, ln2_beta;
    tensor::Linear *qkv, *proj, *fc1, *fc2;
  };

  CachedGpt(tensor::Gpt& gpt, KVCache cache, int64_t batch, int64_t max_seq_len,
            CacheFullPolicy policy);

  absl::Status CheckIds(absl::Span<const int32_t> ids, const char* what) const;
  // Keeps the last `keep` tokens of `seq` and recomputes their cache from position 0.
  void Rebase(int64_t seq, int64_t keep);
  // Runs `n` tokens of one sequence at its next positions (n <= max rows), appending to
  // its cache; when `logits` is not null, writes the last position's logits there.
  void ForwardChunk(int64_t seq, const int32_t* ids, int64_t n, float* logits);
  // Appends ids to seq in chunks of at most rows_ tokens (logits: of the last one).
  // Contract (checked by the callers): they fit the cache.
  void PrefillTokens(int64_t seq, const int32_t* ids, int64_t n, float* logits);
  // Causal attention of n query rows of `seq` at positions past..past+n-1 over its
  // cache of `layer` (which already holds them): q (n rows, stride q_stride, the heads
  // side by side) -> out (n rows, stride out_stride).
  void Attend(int64_t layer, int64_t seq, const float* q, int64_t q_stride, int64_t n,
              int64_t past, float* out, int64_t out_stride);
  // y (rows, out) = act(x W + b), or y += x W + b when accumulate (act must be kNone).
  void RunLinear(tensor::Linear& linear, const float* x, int64_t rows, float* y,
                 tensor::Activation act, bool accumulate);
  void LayerNormRows(const tensor::Tensor& gamma, const tensor::Tensor& beta, const float* x,
                     int64_t rows, float* y) const;

  tensor::Gpt& gpt_;
  KVCache cache_;
  int64_t batch_, max_seq_len_;
  CacheFullPolicy policy_;
  int64_t vocab_, d_model_, heads_, head_dim_, layers_;

  tensor::EmbeddingLayer* token_embedding_ = nullptr;
  tensor::EmbeddingLayer* position_embedding_ = nullptr;
  std::vector<Block> blocks_;
  tensor::Tensor final_gamma_, final_beta_;
  tensor::Linear* lm_head_ = nullptr;

  // Per-sequence state.
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<int64_t> dropped_;

  // Activation buffers for up to rows_ rows, allocated once.
  int64_t rows_;
  std::vector<float> x_, h_, qkv_, att_, mlp_, tmp_, scores_;
  std::vector<int32_t> rebase_ids_;
};

}  // namespace tt::cache

#endif  // TT_CACHING_CACHED_GPT_H_
