#include "models/llama/llama.h"

#include <cmath>

#include "core/ops.h"

namespace ft::models {
namespace {

// cos and sin [tokens, head_dim] of positions past .. past + tokens - 1, computed in f32 as
// transformers' LlamaRotaryEmbedding does: inv_freq[i] = 1 / theta^(2i / d), freqs = position *
// inv_freq, each repeated for both halves.
std::pair<Tensor, Tensor> rotary_tables(int64_t past, int64_t tokens, int64_t dim, double theta, Device device,
                                        DType dtype) {
  std::vector<float> inv(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    inv[i] = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / static_cast<float>(dim));
  std::vector<double> c(static_cast<size_t>(tokens * dim)), s(c.size());
  for (int64_t p = 0; p < tokens; ++p)
    for (int64_t i = 0; i < dim; ++i) {
      const float f = static_cast<float>(past + p) * inv[i % (dim / 2)];
      c[p * dim + i] = std::cos(f);
      s[p * dim + i] = std::sin(f);
    }
  TensorOptions o;
  o.device = device;
  return {from_vector(c, {tokens, dim}, o).to(dtype), from_vector(s, {tokens, dim}, o).to(dtype)};
}

// x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1] for the halves x1, x2 of the last dim.
Tensor apply_rotary(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t d = x.shape().back();
  const Tensor rotated = concat({neg(x.slice(-1, d / 2, d)), x.slice(-1, 0, d / 2)}, -1);
  return add(mul(x, cos), mul(rotated, sin));
}

// [b, kv_heads, t, d] -> [b, kv_heads * groups, t, d]: each key/value head serves `groups` query
// heads (transformers' repeat_kv).
Tensor repeat_kv(const Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const Shape& s = x.shape();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

}  // namespace

LlamaDecoderLayer::LlamaDecoderLayer(const io::LlamaConfig& c, Generator* gen) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  q_proj = register_module("self_attn.q_proj", std::make_shared<nn::Linear>(h, q, c.attention_bias, gen));
  k_proj = register_module("self_attn.k_proj", std::make_shared<nn::Linear>(h, kv, c.attention_bias, gen));
  v_proj = register_module("self_attn.v_proj", std::make_shared<nn::Linear>(h, kv, c.attention_bias, gen));
  o_proj = register_module("self_attn.o_proj", std::make_shared<nn::Linear>(q, h, c.attention_bias, gen));
  gate_proj = register_module("mlp.gate_proj", std::make_shared<nn::Linear>(h, c.intermediate_size, c.mlp_bias, gen));
  up_proj = register_module("mlp.up_proj", std::make_shared<nn::Linear>(h, c.intermediate_size, c.mlp_bias, gen));
  down_proj = register_module("mlp.down_proj", std::make_shared<nn::Linear>(c.intermediate_size, h, c.mlp_bias, gen));
  input_layernorm = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(h, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(h, c.rms_norm_eps));
}

LlamaForCausalLM::LlamaForCausalLM(const io::LlamaConfig& c, Generator* gen) : config_(c) {
  embed_tokens = register_module("model.embed_tokens",
                                 std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id, gen));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers.push_back(register_module("model.layers." + std::to_string(i), std::make_shared<LlamaDecoderLayer>(c, gen)));
  norm = register_module("model.norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", std::make_shared<nn::Linear>(c.hidden_size, c.vocab_size, false, gen));
}

Tensor LlamaForCausalLM::forward(const Tensor& ids, const Tensor& attention_mask, KVCache* cache, Generator* gen,
                                 bool last_only) const {
  FT_CHECK(ids.dim() == 2, "LlamaForCausalLM: input_ids must be [batch, tokens], got ", shape_str(ids.shape()));
  const int64_t b = ids.shape()[0], t = ids.shape()[1], past = cache ? cache->length() : 0;
  const int64_t nh = config_.num_attention_heads, nkv = config_.num_key_value_heads, hd = config_.head_dim;
  FT_CHECK(past + t <= config_.max_position_embeddings, "LlamaForCausalLM: ", past + t,
           " positions exceed max_position_embeddings ", config_.max_position_embeddings);
  if (cache && cache->k.empty()) cache->k.resize(layers.size()), cache->v.resize(layers.size());
  Tensor h = embed_tokens->forward(ids);
  const Tensor mask = causal_mask(attention_mask, b, t, past, h.device());
  auto [cos, sin] = rotary_tables(past, t, hd, config_.rope_theta, h.device(), DType::f32);
  const bool training = is_training();
  for (size_t l = 0; l < layers.size(); ++l) {
    const LlamaDecoderLayer& L = *layers[l];
    const Tensor x = L.input_layernorm->forward(h);
    auto heads = [&](const Tensor& y, int64_t n) { return y.view({b, t, n, hd}).permute({0, 2, 1, 3}); };
    Tensor q = heads(L.q_proj->forward(x, gen), nh), k = heads(L.k_proj->forward(x, gen), nkv), v = heads(L.v_proj->forward(x, gen), nkv);
    q = apply_rotary(q, cos.to(q.dtype()), sin.to(q.dtype()));
    k = apply_rotary(k, cos.to(k.dtype()), sin.to(k.dtype()));
    if (cache) {
      if (past > 0) {
        k = concat({cache->k[l], k}, 2);
        v = concat({cache->v[l], v.contiguous()}, 2);
      }
      cache->k[l] = k.detach();
      cache->v[l] = v.detach();
    }
    const Tensor a = scaled_dot_product_attention(q, repeat_kv(k, nh / nkv), repeat_kv(v, nh / nkv), mask,
                                                  config_.attention_dropout, training, gen);
    // The residual stream keeps its dtype: under autocast the projections come out in bf16/f16 and
    // are added to the f32 stream in f32, as PyTorch's type promotion does in transformers' Llama.
    h = add(h, L.o_proj->forward(a.permute({0, 2, 1, 3}).reshape({b, t, nh * hd}), gen).to(h.dtype()));
    const Tensor y = L.post_attention_layernorm->forward(h);
    h = add(h, L.down_proj->forward(mul(silu(L.gate_proj->forward(y, gen)), L.up_proj->forward(y, gen)), gen)
                   .to(h.dtype()));
  }
  if (last_only) h = h.slice(1, t - 1, t);
  h = norm->forward(h);
  return linear(h, lm_head ? lm_head->weight : embed_tokens->weight);
}

const LoadRules& LlamaForCausalLM::load_rules() const {
  static const LoadRules rules = [] {
    LoadRules r;
    r.family = "Llama";
    r.prefixes = {"model."};  // a LlamaModel file has no prefix
    r.ignored = {"rotary_emb.inv_freq"};
    return r;
  }();
  return rules;
}

io::Json LlamaForCausalLM::config_json() const {
  io::Json j = config_.to_json();
  j["architectures"] = {"LlamaForCausalLM"};
  return j;
}

}  // namespace ft::models
