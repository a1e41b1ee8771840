// GPT2LMHeadModel as transformers computes it (modeling_gpt2.py; facts only): token and learned
// position embeddings with dropout, pre-LayerNorm blocks of causal self-attention (one c_attn
// projection to q, k, v; c_proj) and an MLP (c_fc, gelu_new, c_proj) with residual dropout, a final
// LayerNorm and the LM head tied to the token embedding. The Conv1D weights are stored [in, out] in
// checkpoints; here they are Linear layers [out, in], transposed by the loader's rules both ways.
#pragma once
#include "core/nn/layers.h"
#include "models/common/causal_lm.h"

namespace ft::models {

struct Gpt2Block : nn::Module {
  Gpt2Block(const io::Gpt2Config& c, Generator* gen);
  std::string type_name() const override { return "GPT2Block"; }
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<nn::Linear> c_attn, attn_proj, c_fc, mlp_proj;
};

class Gpt2LMHeadModel : public CausalLM {
 public:
  explicit Gpt2LMHeadModel(const io::Gpt2Config& config, Generator* gen = nullptr);
  std::string type_name() const override { return "GPT2LMHeadModel"; }
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask, KVCache* cache = nullptr,
                 Generator* gen = nullptr, bool last_only = false) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override { return config_.n_positions; }
  int64_t eos_token_id() const override { return config_.eos_token_id; }
  int64_t pad_token_id() const override { return config_.pad_token_id; }
  const LoadRules& load_rules() const override;
  io::Json config_json() const override;
  const io::Gpt2Config& config() const { return config_; }

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::vector<std::shared_ptr<Gpt2Block>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  io::Gpt2Config config_;
};

}  // namespace ft::models
