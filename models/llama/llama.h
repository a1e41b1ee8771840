// LlamaForCausalLM as transformers computes it (modeling_llama.py; facts only): token embedding,
// decoder layers of pre-RMSNorm grouped-query self-attention with rotary position embeddings (the
// rotate-half convention, inverse frequencies 1 / theta^(2i / d) in f32) and a pre-RMSNorm SiLU-gated
// MLP, a final RMSNorm and the LM head, tied to the embedding when tie_word_embeddings is set.
// Modules are registered under the Hugging Face names (model.layers.N.self_attn.q_proj, ...).
#pragma once
#include "core/nn/layers.h"
#include "models/common/causal_lm.h"

namespace ft::models {

struct LlamaDecoderLayer : nn::Module {
  LlamaDecoderLayer(const io::LlamaConfig& c, Generator* gen);
  std::string type_name() const override { return "LlamaDecoderLayer"; }
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm;
};

class LlamaForCausalLM : public CausalLM {
 public:
  explicit LlamaForCausalLM(const io::LlamaConfig& config, Generator* gen = nullptr);
  std::string type_name() const override { return "LlamaForCausalLM"; }
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask, KVCache* cache = nullptr,
                 Generator* gen = nullptr, bool last_only = false) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override { return config_.max_position_embeddings; }
  int64_t eos_token_id() const override { return config_.eos_token_id; }
  int64_t pad_token_id() const override { return config_.pad_token_id; }
  const LoadRules& load_rules() const override;
  io::Json config_json() const override;
  const io::LlamaConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> embed_tokens;
  std::vector<std::shared_ptr<LlamaDecoderLayer>> layers;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Linear> lm_head;  // null when tied: the embedding's weight is the head

 private:
  io::LlamaConfig config_;
};

}  // namespace ft::models
