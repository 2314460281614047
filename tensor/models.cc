#include "tensor/models.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"

namespace tt::tensor {

std::unique_ptr<Sequential> MakeMlp(const MlpConfig& config, uint64_t seed) {
  TT_CHECK(config.layer_sizes.size() >= 2, "MakeMlp: needs at least input and output sizes");
  Rng rng(seed);
  auto model = std::make_unique<Sequential>();
  const auto& s = config.layer_sizes;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    model->Add(std::make_unique<Linear>(s[i], s[i + 1], rng));
    if (i + 2 < s.size()) model->Add(std::make_unique<ReLU>());
  }
  return model;
}

std::unique_ptr<Sequential> MakeCnn(const CnnConfig& config, uint64_t seed) {
  Rng rng(seed);
  auto model = std::make_unique<Sequential>();
  int64_t c = config.in_channels, h = config.height, w = config.width;
  for (int64_t out : config.conv_channels) {
    Conv2dOptions same{/*stride=*/1, /*padding=*/config.kernel_size / 2};
    model->Add(std::make_unique<Conv2dLayer>(c, out, config.kernel_size, rng, same));
    model->Add(std::make_unique<ReLU>());
    model->Add(std::make_unique<MaxPool2dLayer>(2, 2));
    c = out;
    h = (h + 2 * same.padding - config.kernel_size + 1) / 2;
    w = (w + 2 * same.padding - config.kernel_size + 1) / 2;
  }
  model->Add(std::make_unique<FlattenLayer>());
  model->Add(std::make_unique<Linear>(c * h * w, config.hidden, rng));
  model->Add(std::make_unique<ReLU>());
  model->Add(std::make_unique<Linear>(config.hidden, config.num_classes, rng));
  return model;
}

// --- Attention ------------------------------------------------------------------

CausalSelfAttention::CausalSelfAttention(int64_t d_model, int64_t num_heads, Rng& rng)
    : d_model_(d_model), heads_(num_heads) {
  TT_CHECK(num_heads > 0 && d_model % num_heads == 0, "CausalSelfAttention: d_model ",
           d_model, " is not divisible by ", num_heads, " heads");
  qkv_ = AddModule("qkv", std::make_unique<Linear>(d_model, 3 * d_model, rng));
  proj_ = AddModule("proj", std::make_unique<Linear>(d_model, d_model, rng));
}

AttentionOutput CausalSelfAttention::Forward(const Tensor& x, const KeyValue* past) {
  TT_CHECK(x.dim() == 3 && x.size(2) == d_model_, "CausalSelfAttention: x must be (B, T, ",
           d_model_, "), got ", ShapeToString(x.shape()));
  const int64_t b = x.size(0), t = x.size(1), hd = d_model_ / heads_;
  // (B, T, 3C) -> (B, T, 3, H, hd) -> (3, B, H, T, hd); slicing axis 0 is free.
  Tensor qkv = Permute(Reshape(qkv_->Forward(x), {b, t, 3, heads_, hd}), {2, 0, 3, 1, 4});
  Tensor q = Reshape(Slice(qkv, 0, 0, 1), {b, heads_, t, hd});
  Tensor k = Reshape(Slice(qkv, 0, 1, 2), {b, heads_, t, hd});
  Tensor v = Reshape(Slice(qkv, 0, 2, 3), {b, heads_, t, hd});
  if (past != nullptr && past->k.defined()) {
    TT_CHECK(past->k.dim() == 4 && past->k.size(0) == b && past->k.size(1) == heads_ &&
                 past->k.size(3) == hd && past->v.shape() == past->k.shape(),
             "CausalSelfAttention: past keys ", ShapeToString(past->k.shape()),
             " / values ", ShapeToString(past->v.shape()), " do not match (", b, ", ",
             heads_, ", S, ", hd, ")");
    k = Concat({past->k, k}, 2);
    v = Concat({past->v, v}, 2);
  }
  const int64_t s = k.size(2);
  // scores (B, H, T, S) = q k^T / sqrt(hd); query i sits at absolute position s - t + i.
  Tensor scores = MulScalar(MatMul(q, k, Trans::kNo, Trans::kYes),
                            1.0f / std::sqrt(static_cast<float>(hd)));
  Tensor att = Softmax(CausalMask(scores, s - t));
  Tensor y = MatMul(att, v);                                   // (B, H, T, hd)
  y = Reshape(Permute(y, {0, 2, 1, 3}), {b, t, d_model_});     // (B, T, C)
  return {proj_->Forward(y), {k, v}};
}

std::string CausalSelfAttention::Describe() const {
  return absl::StrCat("CausalSelfAttention(", d_model_, ", ", heads_, " heads)");
}

TransformerBlock::TransformerBlock(int64_t d_model, int64_t num_heads, Rng& rng) {
  ln1_ = AddModule("ln1", std::make_unique<LayerNormLayer>(d_model));
  attn_ = AddModule("attn", std::make_unique<CausalSelfAttention>(d_model, num_heads, rng));
  ln2_ = AddModule("ln2", std::make_unique<LayerNormLayer>(d_model));
  auto mlp = std::make_unique<Sequential>();
  mlp->Add(std::make_unique<Linear>(d_model, 4 * d_model, rng));
  mlp->Add(std::make_unique<GELU>());
  mlp->Add(std::make_unique<Linear>(4 * d_model, d_model, rng));
  mlp_ = AddModule("mlp", std::move(mlp));
}

AttentionOutput TransformerBlock::Forward(const Tensor& x, const KeyValue* past) {
  AttentionOutput a;
  {
    LayerScope scope([] { return std::string("attn"); });
    a = attn_->Forward(ln1_->Forward(x), past);
  }
  Tensor h = Add(x, a.y);
  LayerScope scope([] { return std::string("mlp"); });
  return {Add(h, mlp_->Forward(ln2_->Forward(h))), std::move(a.present)};
}

// --- GPT ------------------------------------------------------------------------

Gpt::Gpt(const GptConfig& config, uint64_t seed) : config_(config) {
  TT_CHECK(config.vocab_size > 0 && config.context_length > 0 && config.num_layers > 0,
           "Gpt: bad config (vocab ", config.vocab_size, ", context ", config.context_length,
           ", layers ", config.num_layers, ")");
  Rng rng(seed);
  token_embedding_ = AddModule(
      "token_embedding", std::make_unique<EmbeddingLayer>(config.vocab_size, config.d_model, rng));
  position_embedding_ = AddModule(
      "position_embedding",
      std::make_unique<EmbeddingLayer>(config.context_length, config.d_model, rng));
  for (int64_t i = 0; i < config.num_layers; ++i) {
    blocks_.push_back(AddModule(absl::StrCat("block", i),
                                std::make_unique<TransformerBlock>(config.d_model,
                                                                   config.num_heads, rng)));
  }
  final_norm_ = AddModule("final_norm", std::make_unique<LayerNormLayer>(config.d_model));
  lm_head_ = AddModule("lm_head",
                       std::make_unique<Linear>(config.d_model, config.vocab_size, rng));
}

GptOutput Gpt::Forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time,
                       const std::vector<KeyValue>* past) {
  TT_CHECK(static_cast<int64_t>(ids.size()) == batch * time, "Gpt: ", ids.size(),
           " ids for batch ", batch, " x time ", time);
  TT_CHECK(past == nullptr || past->size() == blocks_.size(), "Gpt: past has ",
           past == nullptr ? 0 : past->size(), " layers, the model ", blocks_.size());
  const int64_t past_len =
      past != nullptr && (*past)[0].k.defined() ? (*past)[0].k.size(2) : 0;
  TT_CHECK(past_len + time <= config_.context_length, "Gpt: positions up to ",
           past_len + time, " exceed the context length ", config_.context_length);
  std::vector<int32_t> positions(static_cast<size_t>(time));
  for (int64_t i = 0; i < time; ++i) positions[i] = static_cast<int32_t>(past_len + i);
  // (B, T, C) + (T, C) broadcast over the batch.
  Tensor h;
  {
    LayerScope scope([] { return std::string("embedding"); });
    h = Add(token_embedding_->Forward(ids, {batch, time}),
            position_embedding_->Forward(positions, {time}));
  }
  GptOutput out;
  for (size_t l = 0; l < blocks_.size(); ++l) {
    LayerScope scope([&] { return absl::StrCat("block", l); });
    AttentionOutput a = blocks_[l]->Forward(h, past != nullptr ? &(*past)[l] : nullptr);
    h = a.y;
    out.present.push_back(std::move(a.present));
  }
  LayerScope scope([] { return std::string("head"); });
  out.logits = lm_head_->Forward(final_norm_->Forward(h));
  return out;
}

std::string Gpt::Describe() const {
  return absl::StrCat("Gpt(vocab ", config_.vocab_size, ", d_model ", config_.d_model, ", ",
                      config_.num_heads, " heads, ", config_.num_layers, " layers, context ",
                      config_.context_length, ")");
}

}  // namespace tt::tensor
