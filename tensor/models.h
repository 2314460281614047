// The course's reference models: the MLP and CNN for Fashion-MNIST, and a small
// character-level GPT (causal self-attention, pre-LN transformer blocks).
//
//   auto mlp = MakeMlp(MlpConfig{}, /*seed=*/1);        // 784-256-128-10
//   Tensor logits = mlp->Forward(images);               // (B, 784) -> (B, 10)
//
//   Gpt gpt(GptConfig{.vocab_size = 96}, /*seed=*/1);   // d_model 128, 4 heads, 4 layers
//   GptOutput out = gpt.Forward(ids, /*batch=*/1, /*time=*/t);   // logits (1, t, 96)
//   // Decode one more token, reusing the keys and values of the first t positions:
//   GptOutput next = gpt.Forward({token}, 1, 1, &out.present);
//
// Attention takes optional past keys/values and returns the present ones (the past with
// this call's positions appended); the caching module builds its KV cache on that seam.
#ifndef TT_TENSOR_MODELS_H_
#define TT_TENSOR_MODELS_H_

#include <memory>
#include <vector>

#include "tensor/nn.h"

namespace tt::tensor {

// --- Classifiers for 28x28 grayscale images ---------------------------------------

struct MlpConfig {
  std::vector<int64_t> layer_sizes = {784, 256, 128, 10};  // input, hidden..., classes
};
// Linear-ReLU-...-Linear. Input (B, 784).
std::unique_ptr<Sequential> MakeMlp(const MlpConfig& config, uint64_t seed);

struct CnnConfig {
  int64_t in_channels = 1, height = 28, width = 28;
  std::vector<int64_t> conv_channels = {16, 32};  // one conv(3x3, pad 1)+ReLU+pool(2) each
  int64_t kernel_size = 3;
  int64_t hidden = 128;
  int64_t num_classes = 10;
};
// [Conv-ReLU-MaxPool] x len(conv_channels), Flatten, Linear-ReLU-Linear.
// Input (B, C, H, W).
std::unique_ptr<Sequential> MakeCnn(const CnnConfig& config, uint64_t seed);

// --- Transformer --------------------------------------------------------------------

// Keys and values of one attention layer: each (B, H, S, head_dim) for S positions.
struct KeyValue {
  Tensor k, v;
};

struct AttentionOutput {
  Tensor y;          // (B, T, C)
  KeyValue present;  // past + this call's T positions: (B, H, S + T, head_dim)
};

// Multi-head causal self-attention: position t attends to positions <= t (including
// every past position).
class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t d_model, int64_t num_heads, Rng& rng);
  // x: (B, T, C); past: keys/values of earlier positions or nullptr.
  AttentionOutput Forward(const Tensor& x, const KeyValue* past = nullptr);
  std::string Describe() const override;

 private:
  int64_t d_model_, heads_;
  Linear* qkv_;   // C -> 3C: queries, keys, values for all heads at once
  Linear* proj_;  // C -> C
};

// Pre-LN block: x + attn(ln1(x)), then h + mlp(ln2(h)) with a 4x GELU MLP.
class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t d_model, int64_t num_heads, Rng& rng);
  AttentionOutput Forward(const Tensor& x, const KeyValue* past = nullptr);
  std::string Describe() const override { return "TransformerBlock"; }

 private:
  LayerNormLayer* ln1_;
  CausalSelfAttention* attn_;
  LayerNormLayer* ln2_;
  Sequential* mlp_;
};

struct GptConfig {
  int64_t vocab_size = 96;
  int64_t d_model = 128;
  int64_t num_heads = 4;
  int64_t num_layers = 4;
  int64_t context_length = 256;
};

struct GptOutput {
  Tensor logits;                  // (B, T, vocab)
  std::vector<KeyValue> present;  // one per layer
};

class Gpt : public Module {
 public:
  Gpt(const GptConfig& config, uint64_t seed);
  // ids: B*T token ids, row-major (B, T). past: one KeyValue per layer, or nullptr; the
  // new tokens take positions past_len .. past_len + T - 1, which must stay below
  // context_length.
  GptOutput Forward(const std::vector<int32_t>& ids, int64_t batch, int64_t time,
                    const std::vector<KeyValue>* past = nullptr);
  std::string Describe() const override;
  const GptConfig& config() const { return config_; }

 private:
  GptConfig config_;
  EmbeddingLayer* token_embedding_;
  EmbeddingLayer* position_embedding_;
  std::vector<TransformerBlock*> blocks_;
  LayerNormLayer* final_norm_;
  Linear* lm_head_;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_MODELS_H_
