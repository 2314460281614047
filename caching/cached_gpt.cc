#include "caching/cached_gpt.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "acceleration/cpu_features.h"
#include "acceleration/elementwise.h"
#include "acceleration/gemm.h"
#include "caching/kernels/attention_kernels.h"
#include "compression/sparse_linear.h"
#include "quantization/weight_only.h"
#include "tensor/check.h"

namespace tt::cache {

namespace {

using tensor::Activation;
using tensor::Linear;
using tensor::Tensor;
using tensor::Trans;

// Query rows per block of attention scores in a prefill: the (block, length) score
// matrix stays in L2 while its softmax and its product with V run.
constexpr int64_t kQueryBlock = 64;
// Most tokens run in one pass of a prefill (longer prompts go in chunks, which is the
// same computation: a chunk attends to the cache the earlier chunks filled).
constexpr int64_t kMaxChunk = 256;

// The single-query attention loops of `isa` (kernels/attention_kernels.h).
struct AttentionKernels {
  kernels::AttnScoresFn scores;
  kernels::AttnWeightedSumFn weighted_sum;
  kernels::AttnScoresQ8Fn scores_q8;
  kernels::AttnWeightedSumQ8Fn weighted_sum_q8;
};

AttentionKernels AttentionKernelsFor(accel::Isa isa) {
  TT_CHECK(accel::IsaSupported(isa), "CachedGpt: this CPU does not support ", accel::IsaName(isa));
  switch (isa) {
    case accel::Isa::kAvx512:
      return {&kernels::F32AttnScoresAvx512, &kernels::F32AttnWeightedSumAvx512,
              &kernels::F32AttnScoresQ8Avx512, &kernels::F32AttnWeightedSumQ8Avx512};
    case accel::Isa::kAvx2Fma:
      return {&kernels::F32AttnScoresAvx2, &kernels::F32AttnWeightedSumAvx2,
              &kernels::F32AttnScoresQ8Avx2, &kernels::F32AttnWeightedSumQ8Avx2};
    case accel::Isa::kScalar:
      break;
  }
  return {&kernels::F32AttnScoresScalar, &kernels::F32AttnWeightedSumScalar,
          &kernels::F32AttnScoresQ8Scalar, &kernels::F32AttnWeightedSumQ8Scalar};
}

// The LayerNorm's gamma and beta of the module at `path`.
absl::Status FindLayerNorm(tensor::Module* module, const std::string& path, int64_t d,
                           Tensor* gamma, Tensor* beta) {
  if (module == nullptr || dynamic_cast<tensor::LayerNormLayer*>(module) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("CachedGpt: module '", path, "' is missing or not a LayerNorm"));
  }
  for (const auto& [name, p] : module->NamedParameters()) {
    if (name == "gamma") *gamma = p;
    if (name == "beta") *beta = p;
  }
  if (!gamma->defined() || !beta->defined() || gamma->numel() != d || beta->numel() != d) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CachedGpt: LayerNorm '", path, "' has no gamma/beta of ", d, " values"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Linear*> FindLinear(tensor::Module* module, const std::string& path,
                                   int64_t in, int64_t out) {
  auto* linear = dynamic_cast<Linear*>(module);
  if (linear == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("CachedGpt: module '", path, "' is missing or not a Linear"));
  }
  if (linear->in_features() != in || linear->out_features() != out) {
    return absl::FailedPreconditionError(
        absl::StrCat("CachedGpt: Linear '", path, "' is ", linear->in_features(), " -> ",
                     linear->out_features(), ", expected ", in, " -> ", out));
  }
  return linear;
}

}  // namespace

int64_t SlidingWindowKeep(int64_t window, int64_t incoming) {
  return std::max<int64_t>(0, std::min(window / 2, window - incoming));
}

absl::StatusOr<std::unique_ptr<CachedGpt>> CachedGpt::Create(tensor::Gpt& gpt, int64_t batch,
                                                             int64_t max_seq_len,
                                                             CacheFullPolicy policy) {
  CachedGptOptions options;
  options.policy = policy;
  return Create(gpt, batch, max_seq_len, options);
}

absl::StatusOr<std::unique_ptr<CachedGpt>> CachedGpt::Create(tensor::Gpt& gpt, int64_t batch,
                                                             int64_t max_seq_len,
                                                             const CachedGptOptions& options) {
  const CacheFullPolicy policy = options.policy;
  const tensor::GptConfig& config = gpt.config();
  if (batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("CachedGpt: batch must be >= 1, got ", batch));
  }
  if (max_seq_len < 1 || max_seq_len > config.context_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CachedGpt: max_seq_len must be in [1, ", config.context_length,
        "] (the model's context length: its learned positions stop there), got ",
        max_seq_len));
  }
  if (policy != CacheFullPolicy::kError && policy != CacheFullPolicy::kSlidingWindow) {
    return absl::InvalidArgumentError("CachedGpt: unknown CacheFullPolicy");
  }
  if (config.num_heads < 1 || config.d_model % config.num_heads != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CachedGpt: d_model ", config.d_model, " is not divisible by ", config.num_heads,
        " heads"));
  }
  KVCacheConfig cache_config;
  cache_config.layers = config.num_layers;
  cache_config.batch = batch;
  cache_config.heads = config.num_heads;
  cache_config.max_seq_len = max_seq_len;
  cache_config.head_dim = config.d_model / config.num_heads;
  cache_config.policy = CacheFullPolicy::kError;  // the engine slides by re-basing
  cache_config.dtype = options.kv_dtype;
  TT_ASSIGN_OR_RETURN(KVCache cache, KVCache::Create(cache_config));
  std::unique_ptr<CachedGpt> engine(
      new CachedGpt(gpt, std::move(cache), batch, max_seq_len, policy));

  // Find the modules by path.
  std::vector<std::pair<std::string, tensor::Module*>> modules;
  gpt.VisitModules([&](const std::string& path, tensor::Module& m) {
    modules.emplace_back(path, &m);
  });
  auto find = [&](const std::string& path) -> tensor::Module* {
    for (auto& [p, m] : modules) {
      if (p == path) return m;
    }
    return nullptr;
  };
  const int64_t c = config.d_model, v = config.vocab_size;
  engine->token_embedding_ = dynamic_cast<tensor::EmbeddingLayer*>(find("token_embedding"));
  engine->position_embedding_ =
      dynamic_cast<tensor::EmbeddingLayer*>(find("position_embedding"));
  if (engine->token_embedding_ == nullptr || engine->position_embedding_ == nullptr ||
      engine->token_embedding_->weight().shape() != tensor::Shape{v, c} ||
      engine->position_embedding_->weight().shape() !=
          tensor::Shape{config.context_length, c}) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CachedGpt: 'token_embedding' (", v, ", ", c, ") or 'position_embedding' (",
        config.context_length, ", ", c, ") is missing or has the wrong shape"));
  }
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string b = absl::StrCat("block", l, ".");
    Block block;
    TT_RETURN_IF_ERROR(
        FindLayerNorm(find(b + "ln1"), b + "ln1", c, &block.ln1_gamma, &block.ln1_beta));
    TT_RETURN_IF_ERROR(
        FindLayerNorm(find(b + "ln2"), b + "ln2", c, &block.ln2_gamma, &block.ln2_beta));
    TT_ASSIGN_OR_RETURN(block.qkv, FindLinear(find(b + "attn.qkv"), b + "attn.qkv", c, 3 * c));
    TT_ASSIGN_OR_RETURN(block.proj, FindLinear(find(b + "attn.proj"), b + "attn.proj", c, c));
    auto* mlp = dynamic_cast<tensor::Sequential*>(find(b + "mlp"));
    if (mlp == nullptr || mlp->size() != 3 ||
        dynamic_cast<tensor::GELU*>(&(*mlp)[1]) == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "CachedGpt: '", b, "mlp' is missing or not Sequential(Linear, GELU, Linear)"));
    }
    TT_ASSIGN_OR_RETURN(block.fc1, FindLinear(&(*mlp)[0], b + "mlp.0", c, 4 * c));
    TT_ASSIGN_OR_RETURN(block.fc2, FindLinear(&(*mlp)[2], b + "mlp.2", 4 * c, c));
    engine->blocks_.push_back(std::move(block));
  }
  TT_RETURN_IF_ERROR(FindLayerNorm(find("final_norm"), "final_norm", c, &engine->final_gamma_,
                                   &engine->final_beta_));
  TT_ASSIGN_OR_RETURN(engine->lm_head_, FindLinear(find("lm_head"), "lm_head", c, v));
  return engine;
}

CachedGpt::CachedGpt(tensor::Gpt& gpt, KVCache cache, int64_t batch, int64_t max_seq_len,
                     CacheFullPolicy policy)
    : gpt_(gpt),
      cache_(std::move(cache)),
      batch_(batch),
      max_seq_len_(max_seq_len),
      policy_(policy) {
  const tensor::GptConfig& config = gpt_.config();
  vocab_ = config.vocab_size;
  d_model_ = config.d_model;
  heads_ = config.num_heads;
  head_dim_ = d_model_ / heads_;
  layers_ = config.num_layers;
  tokens_.resize(static_cast<size_t>(batch));
  for (auto& t : tokens_) t.reserve(static_cast<size_t>(max_seq_len));
  dropped_.assign(static_cast<size_t>(batch), 0);
  rebase_ids_.reserve(static_cast<size_t>(max_seq_len));
  rows_ = std::max(batch, std::min(max_seq_len, kMaxChunk));
  const int64_t c = d_model_;
  x_.resize(static_cast<size_t>(rows_ * c));
  h_.resize(static_cast<size_t>(rows_ * c));
  qkv_.resize(static_cast<size_t>(rows_ * 3 * c));
  att_.resize(static_cast<size_t>(rows_ * c));
  mlp_.resize(static_cast<size_t>(rows_ * 4 * c));
  tmp_.resize(static_cast<size_t>(rows_ * std::max(4 * c, vocab_)));
  scores_.resize(static_cast<size_t>(kQueryBlock * max_seq_len));
}

int64_t CachedGpt::ScratchBytes() const {
  const size_t floats = x_.size() + h_.size() + qkv_.size() + att_.size() + mlp_.size() +
                        tmp_.size() + scores_.size();
  return static_cast<int64_t>(floats * sizeof(float));
}

void CachedGpt::Reset() {
  cache_.Reset();
  for (auto& t : tokens_) t.clear();
  std::fill(dropped_.begin(), dropped_.end(), 0);
}

void CachedGpt::Reset(int64_t seq) {
  cache_.Reset(seq);  // checks seq
  tokens_[seq].clear();
  dropped_[seq] = 0;
}

int64_t CachedGpt::length(int64_t seq) const { return cache_.length(seq); }

const std::vector<int32_t>& CachedGpt::tokens(int64_t seq) const {
  TT_CHECK(seq >= 0 && seq < batch_, "CachedGpt: sequence ", seq, " out of range [0, ",
           batch_, ")");
  return tokens_[seq];
}

int64_t CachedGpt::dropped(int64_t seq) const {
  TT_CHECK(seq >= 0 && seq < batch_, "CachedGpt: sequence ", seq, " out of range [0, ",
           batch_, ")");
  return dropped_[seq];
}

absl::Status CachedGpt::CheckIds(absl::Span<const int32_t> ids, const char* what) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_) {
      return absl::InvalidArgumentError(absl::StrCat("CachedGpt: ", what, " id ", ids[i],
                                                     " at index ", i, " is outside [0, ",
                                                     vocab_, ")"));
    }
  }
  return absl::OkStatus();
}

// --- Public entry points ----------------------------------------------------------

absl::StatusOr<std::vector<float>> CachedGpt::Prefill(int64_t seq,
                                                      const std::vector<int32_t>& prompt) {
  std::vector<float> logits(static_cast<size_t>(vocab_));
  TT_RETURN_IF_ERROR(PrefillInto(seq, prompt, absl::MakeSpan(logits)));
  return logits;
}

absl::Status CachedGpt::PrefillInto(int64_t seq, absl::Span<const int32_t> prompt,
                                    absl::Span<float> logits) {
  if (seq < 0 || seq >= batch_) {
    return absl::InvalidArgumentError(absl::StrCat("CachedGpt::Prefill: sequence ", seq,
                                                   " out of range [0, ", batch_, ")"));
  }
  const int64_t n = static_cast<int64_t>(prompt.size());
  if (n == 0) return absl::InvalidArgumentError("CachedGpt::Prefill: empty prompt");
  if (static_cast<int64_t>(logits.size()) != vocab_) {
    return absl::InvalidArgumentError(absl::StrCat("CachedGpt::Prefill: logits has ",
                                                   logits.size(), " floats, expected ",
                                                   vocab_));
  }
  TT_RETURN_IF_ERROR(CheckIds(prompt, "prompt"));
  if (n > max_seq_len_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CachedGpt::Prefill: the prompt has ", n, " tokens, more than max_seq_len ",
        max_seq_len_, " (", max_seq_len_ == gpt_.config().context_length ? "the model's context"
                                                                         : "the cache",
        ")"));
  }
  const int64_t len = cache_.length(seq);
  if (len + n > max_seq_len_) {
    if (policy_ == CacheFullPolicy::kError) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "KV cache full: sequence ", seq, " holds ", len, " of ", max_seq_len_,
          " tokens and cannot take a prompt of ", n,
          " (policy 'error'; use the sliding window or a larger max_seq_len)"));
    }
    Rebase(seq, SlidingWindowKeep(max_seq_len_, n));
  }
  PrefillTokens(seq, prompt.data(), n, logits.data());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> CachedGpt::Decode(const std::vector<int64_t>& seqs,
                                                     const std::vector<int32_t>& tokens) {
  std::vector<float> logits(seqs.size() * static_cast<size_t>(vocab_));
  TT_RETURN_IF_ERROR(DecodeInto(seqs, tokens, absl::MakeSpan(logits)));
  return logits;
}

absl::Status CachedGpt::DecodeInto(absl::Span<const int64_t> seqs,
                                   absl::Span<const int32_t> tokens, absl::Span<float> logits) {
  const int64_t b = static_cast<int64_t>(seqs.size());
  if (b == 0 || b != static_cast<int64_t>(tokens.size()) || b > batch_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CachedGpt::Decode: ", b, " sequences and ", tokens.size(),
        " tokens; expected the same number, between 1 and the batch ", batch_));
  }
  if (static_cast<int64_t>(logits.size()) != b * vocab_) {
    return absl::InvalidArgumentError(absl::StrCat("CachedGpt::Decode: logits has ",
                                                   logits.size(), " floats, expected ",
                                                   b * vocab_));
  }
  for (int64_t i = 0; i < b; ++i) {
    if (seqs[i] < 0 || seqs[i] >= batch_) {
      return absl::InvalidArgumentError(absl::StrCat("CachedGpt::Decode: sequence ", seqs[i],
                                                     " out of range [0, ", batch_, ")"));
    }
    for (int64_t j = 0; j < i; ++j) {
      if (seqs[j] == seqs[i]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "CachedGpt::Decode: sequence ", seqs[i], " appears twice (one token per step)"));
      }
    }
  }
  TT_RETURN_IF_ERROR(CheckIds(tokens, "token"));
  for (int64_t i = 0; i < b; ++i) {
    if (cache_.length(seqs[i]) + 1 > max_seq_len_ && policy_ == CacheFullPolicy::kError) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "KV cache full: sequence ", seqs[i], " holds ", max_seq_len_, " of ", max_seq_len_,
          " tokens (policy 'error'; use the sliding window or a larger max_seq_len)"));
    }
  }
  // Validated: from here on nothing fails.
  for (int64_t i = 0; i < b; ++i) {
    if (cache_.length(seqs[i]) == max_seq_len_) {
      Rebase(seqs[i], SlidingWindowKeep(max_seq_len_, 1));
    }
  }

  const int64_t c = d_model_;
  const float* tok = token_embedding_->weight().data();
  const float* pos = position_embedding_->weight().data();
  for (int64_t r = 0; r < b; ++r) {
    const float* te = tok + tokens[r] * c;
    const float* pe = pos + cache_.length(seqs[r]) * c;
    float* xr = x_.data() + r * c;
    for (int64_t j = 0; j < c; ++j) xr[j] = te[j] + pe[j];
  }
  for (int64_t l = 0; l < layers_; ++l) {
    Block& blk = blocks_[l];
    LayerNormRows(blk.ln1_gamma, blk.ln1_beta, x_.data(), b, h_.data());
    RunLinear(*blk.qkv, h_.data(), b, qkv_.data(), Activation::kNone, false);
    for (int64_t r = 0; r < b; ++r) {
      const float* row = qkv_.data() + r * 3 * c;
      const int64_t past = cache_.length(l, seqs[r]);
      const absl::Status appended = cache_.AppendStrided(l, seqs[r], row + c, row + 2 * c,
                                                         1, 3 * c, head_dim_);
      TT_CHECK(appended.ok(), "CachedGpt: ", appended.message());
      Attend(l, seqs[r], row, 3 * c, 1, past, att_.data() + r * c, c);
    }
    RunLinear(*blk.proj, att_.data(), b, x_.data(), Activation::kNone, true);
    LayerNormRows(blk.ln2_gamma, blk.ln2_beta, x_.data(), b, h_.data());
    RunLinear(*blk.fc1, h_.data(), b, mlp_.data(), Activation::kGelu, false);
    RunLinear(*blk.fc2, mlp_.data(), b, x_.data(), Activation::kNone, true);
  }
  LayerNormRows(final_gamma_, final_beta_, x_.data(), b, h_.data());
  RunLinear(*lm_head_, h_.data(), b, logits.data(), Activation::kNone, false);
  for (int64_t r = 0; r < b; ++r) tokens_[seqs[r]].push_back(tokens[r]);
  return absl::OkStatus();
}

// --- The forward pass ---------------------------------------------------------------

void CachedGpt::Rebase(int64_t seq, int64_t keep) {
  const std::vector<int32_t>& held = tokens_[seq];
  keep = std::min<int64_t>(keep, static_cast<int64_t>(held.size()));
  rebase_ids_.assign(held.end() - keep, held.end());
  const int64_t dropped = dropped_[seq] + static_cast<int64_t>(held.size()) - keep;
  Reset(seq);
  dropped_[seq] = dropped;
  if (keep > 0) PrefillTokens(seq, rebase_ids_.data(), keep, nullptr);
}

void CachedGpt::PrefillTokens(int64_t seq, const int32_t* ids, int64_t n, float* logits) {
  for (int64_t i = 0; i < n; i += rows_) {
    const int64_t chunk = std::min(rows_, n - i);
    ForwardChunk(seq, ids + i, chunk, i + chunk == n ? logits : nullptr);
    tokens_[seq].insert(tokens_[seq].end(), ids + i, ids + i + chunk);
  }
}

void CachedGpt::ForwardChunk(int64_t seq, const int32_t* ids, int64_t n, float* logits) {
  const int64_t c = d_model_;
  const int64_t start = cache_.length(seq);
  TT_CHECK(n >= 1 && n <= rows_ && start + n <= max_seq_len_, "CachedGpt: chunk of ", n,
           " at position ", start);
  const float* tok = token_embedding_->weight().data();
  const float* pos = position_embedding_->weight().data();
  for (int64_t r = 0; r < n; ++r) {
    const float* te = tok + ids[r] * c;
    const float* pe = pos + (start + r) * c;
    float* xr = x_.data() + r * c;
    for (int64_t j = 0; j < c; ++j) xr[j] = te[j] + pe[j];
  }
  for (int64_t l = 0; l < layers_; ++l) {
    Block& blk = blocks_[l];
    LayerNormRows(blk.ln1_gamma, blk.ln1_beta, x_.data(), n, h_.data());
    RunLinear(*blk.qkv, h_.data(), n, qkv_.data(), Activation::kNone, false);
    const absl::Status appended = cache_.AppendStrided(l, seq, qkv_.data() + c,
                                                       qkv_.data() + 2 * c, n, 3 * c, head_dim_);
    TT_CHECK(appended.ok(), "CachedGpt: ", appended.message());
    Attend(l, seq, qkv_.data(), 3 * c, n, start, att_.data(), c);
    RunLinear(*blk.proj, att_.data(), n, x_.data(), Activation::kNone, true);
    LayerNormRows(blk.ln2_gamma, blk.ln2_beta, x_.data(), n, h_.data());
    RunLinear(*blk.fc1, h_.data(), n, mlp_.data(), Activation::kGelu, false);
    RunLinear(*blk.fc2, mlp_.data(), n, x_.data(), Activation::kNone, true);
  }
  if (logits != nullptr) {
    // Only the last position's logits are wanted.
    LayerNormRows(final_gamma_, final_beta_, x_.data() + (n - 1) * c, 1, h_.data());
    RunLinear(*lm_head_, h_.data(), 1, logits, Activation::kNone, false);
  }
}

void CachedGpt::Attend(int64_t layer, int64_t seq, const float* q, int64_t q_stride, int64_t n,
                       int64_t past, float* out, int64_t out_stride) {
  const int64_t hd = head_dim_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const accel::Isa isa = accel::ActiveIsa();
  if (n == 1 || cache_.config().dtype == KVDtype::kInt8) {
    // One query at a time (a decode step, or any step on an int8 cache): per head a dot
    // product per cached key, the softmax, a weighted sum of the values; the dedicated
    // kernels do both loops without a GEMM's per-call setup.
    const AttentionKernels kern = AttentionKernelsFor(isa);
    float* p = scores_.data();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t len = past + i + 1;  // causal: keys 0 .. past + i
      const float* qi = q + i * q_stride;
      float* oi = out + i * out_stride;
      for (int64_t head = 0; head < heads_; ++head) {
        if (cache_.config().dtype == KVDtype::kFloat32) {
          kern.scores(qi + head * hd, cache_.keys(layer, seq, head), len, hd, scale, p);
          accel::VSoftmaxRows(p, p, 1, len, /*log=*/false);
          kern.weighted_sum(p, cache_.values(layer, seq, head), len, hd, oi + head * hd);
        } else {
          kern.scores_q8(qi + head * hd, cache_.keys_int8(layer, seq, head),
                         cache_.key_scales(layer, seq, head), len, hd, scale, p);
          accel::VSoftmaxRows(p, p, 1, len, /*log=*/false);
          // Fold each value row's scale into its probability.
          accel::VBinary(tensor::BinaryOp::kMul, p, 1, cache_.value_scales(layer, seq, head), 1,
                         p, len);
          kern.weighted_sum_q8(p, cache_.values_int8(layer, seq, head), len, hd,
                               oi + head * hd);
        }
      }
    }
    return;
  }
  for (int64_t head = 0; head < heads_; ++head) {
    const float* k = cache_.keys(layer, seq, head);
    const float* v = cache_.values(layer, seq, head);
    for (int64_t i0 = 0; i0 < n; i0 += kQueryBlock) {
      const int64_t rows = std::min(kQueryBlock, n - i0);
      const int64_t cols = past + i0 + rows;  // keys the block's last query sees
      // scores (rows, cols) = scale * q_block k^T; row stride cols.
      accel::GemmArgs s;
      s.tb = Trans::kYes;
      s.m = rows;
      s.n = cols;
      s.k = hd;
      s.alpha = scale;
      s.a = q + i0 * q_stride + head * hd;
      s.lda = q_stride;
      s.b = k;
      s.ldb = hd;
      s.c = scores_.data();
      s.ldc = cols;
      accel::GemmPacked(s, isa);
      // Causal softmax: query i (absolute position past + i) sees keys 0..past + i.
      for (int64_t r = 0; r < rows; ++r) {
        float* row = scores_.data() + r * cols;
        const int64_t valid = past + i0 + r + 1;
        accel::VSoftmaxRows(row, row, 1, valid, /*log=*/false);
        std::fill(row + valid, row + cols, 0.0f);
      }
      // out_block (rows, hd) = probs (rows, cols) v (cols, hd).
      accel::GemmArgs y;
      y.m = rows;
      y.n = hd;
      y.k = cols;
      y.a = scores_.data();
      y.lda = cols;
      y.b = v;
      y.ldb = hd;
      y.c = out + i0 * out_stride + head * hd;
      y.ldc = out_stride;
      accel::GemmPacked(y, isa);
    }
  }
}

void CachedGpt::RunLinear(Linear& linear, const float* x, int64_t rows, float* y,
                          Activation act, bool accumulate) {
  const int64_t in = linear.in_features(), out = linear.out_features();
  TT_CHECK(!accumulate || act == Activation::kNone, "CachedGpt: accumulate with an activation");
  tensor::LinearKernel* kernel = linear.kernel();
  if (kernel == nullptr) {
    // y = act(x W + b) (+ y): the bias, activation and residual in the GEMM's epilogue.
    accel::GemmArgs g;
    g.m = rows;
    g.n = out;
    g.k = in;
    g.a = x;
    g.lda = in;
    g.b = linear.weight().data();
    g.ldb = out;
    g.beta = accumulate ? 1.0f : 0.0f;
    g.c = y;
    g.ldc = out;
    g.bias = linear.bias().defined() ? linear.bias().data() : nullptr;
    g.act = act;
    accel::GemmPacked(g, accel::ActiveIsa());
    return;
  }
  float* dst = accumulate ? tmp_.data() : y;
  if (auto* wo = dynamic_cast<quant::WeightOnlyLinear*>(kernel)) {
    wo->Run(x, rows, dst, act);
  } else if (auto* sparse = dynamic_cast<compress::SparseLinear*>(kernel)) {
    sparse->Run(x, rows, dst, act);
  } else {
    // Any other kernel: through the module, on a tensor copy of the rows.
    Tensor xt = Tensor::Empty({rows, in});
    std::memcpy(xt.data(), x, static_cast<size_t>(rows * in) * sizeof(float));
    Tensor yt = linear.ForwardAct(xt, act);
    std::memcpy(dst, yt.data(), static_cast<size_t>(rows * out) * sizeof(float));
  }
  if (accumulate) {
    accel::VBinary(tensor::BinaryOp::kAdd, y, 1, dst, 1, y, rows * out);
  }
}

void CachedGpt::LayerNormRows(const Tensor& gamma, const Tensor& beta, const float* x,
                              int64_t rows, float* y) const {
  // As tensor's LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta, with the
  // biased variance and eps = 1e-5 (LayerNormLayer's default, which the GPT uses).
  constexpr float kEps = 1e-5f;
  const int64_t d = d_model_;
  const float* g = gamma.data();
  const float* bt = beta.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    // Eight running sums (one vector register) instead of one: the compiler keeps the
    // float additions in this order and vectorizes them.
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8) {
      for (int u = 0; u < 8; ++u) acc[u] += xr[j + u];
    }
    float sum = 0.0f;
    for (; j < d; ++j) sum += xr[j];
    for (int u = 0; u < 8; ++u) sum += acc[u];
    const float mean = sum / static_cast<float>(d);
    // Two passes: the variance of (x - mean) has no cancellation for large means.
    for (int u = 0; u < 8; ++u) acc[u] = 0.0f;
    for (j = 0; j + 8 <= d; j += 8) {
      for (int u = 0; u < 8; ++u) acc[u] += (xr[j + u] - mean) * (xr[j + u] - mean);
    }
    float var = 0.0f;
    for (; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    for (int u = 0; u < 8; ++u) var += acc[u];
    const float rstd = 1.0f / std::sqrt(var / static_cast<float>(d) + kEps);
    for (j = 0; j < d; ++j) yr[j] = (xr[j] - mean) * rstd * g[j] + bt[j];
  }
}

}  // namespace tt::cache
