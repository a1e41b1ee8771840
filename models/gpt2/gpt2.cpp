#include "models/gpt2/gpt2.h"

#include "core/ops.h"

namespace ft::models {

Gpt2Block::Gpt2Block(const io::Gpt2Config& c, Generator* gen) {
  const int64_t e = c.n_embd;
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(e, c.layer_norm_epsilon));
  c_attn = register_module("attn.c_attn", std::make_shared<nn::Linear>(e, 3 * e, true, gen));
  attn_proj = register_module("attn.c_proj", std::make_shared<nn::Linear>(e, e, true, gen));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(e, c.layer_norm_epsilon));
  c_fc = register_module("mlp.c_fc", std::make_shared<nn::Linear>(e, c.n_inner, true, gen));
  mlp_proj = register_module("mlp.c_proj", std::make_shared<nn::Linear>(c.n_inner, e, true, gen));
}

Gpt2LMHeadModel::Gpt2LMHeadModel(const io::Gpt2Config& c, Generator* gen) : config_(c) {
  wte = register_module("transformer.wte", std::make_shared<nn::Embedding>(c.vocab_size, c.n_embd, -1, gen));
  wpe = register_module("transformer.wpe", std::make_shared<nn::Embedding>(c.n_positions, c.n_embd, -1, gen));
  for (int64_t i = 0; i < c.n_layer; ++i)
    h.push_back(register_module("transformer.h." + std::to_string(i), std::make_shared<Gpt2Block>(c, gen)));
  ln_f = register_module("transformer.ln_f", std::make_shared<nn::LayerNorm>(c.n_embd, c.layer_norm_epsilon));
}

Tensor Gpt2LMHeadModel::forward(const Tensor& ids, const Tensor& attention_mask, KVCache* cache, Generator* gen,
                                bool last_only) const {
  FT_CHECK(ids.dim() == 2, "GPT2LMHeadModel: input_ids must be [batch, tokens], got ", shape_str(ids.shape()));
  const int64_t b = ids.shape()[0], t = ids.shape()[1], past = cache ? cache->length() : 0;
  const int64_t nh = config_.n_head, e = config_.n_embd, hd = e / nh;
  FT_CHECK(past + t <= config_.n_positions, "GPT2LMHeadModel: ", past + t, " positions exceed n_positions ",
           config_.n_positions);
  if (cache && cache->k.empty()) {
    cache->k.resize(h.size());
    cache->v.resize(h.size());
  }
  const bool training = is_training();
  const GeluApprox act = config_.activation_function == "gelu" ? GeluApprox::none : GeluApprox::tanh;
  Tensor positions = arange(static_cast<double>(past), static_cast<double>(past + t), 1,
                            TensorOptions(DType::i64).with_device(ids.device()));
  Tensor x = dropout(add(wte->forward(ids), wpe->forward(positions)), config_.embd_pdrop, training, gen);
  const Tensor mask = causal_mask(attention_mask, b, t, past, x.device());
  for (size_t l = 0; l < h.size(); ++l) {
    const Gpt2Block& B = *h[l];
    const Tensor qkv = B.c_attn->forward(B.ln_1->forward(x), gen);  // [b, t, 3e]: q, k, v
    auto heads = [&](int64_t part) { return qkv.slice(-1, part * e, (part + 1) * e).view({b, t, nh, hd}).permute({0, 2, 1, 3}); };
    Tensor q = heads(0), k = heads(1), v = heads(2);
    if (cache) {
      if (past > 0) {
        k = concat({cache->k[l], k.contiguous()}, 2);
        v = concat({cache->v[l], v.contiguous()}, 2);
      }
      cache->k[l] = k.detach();
      cache->v[l] = v.detach();
    }
    const Tensor a = scaled_dot_product_attention(q, k, v, mask, config_.attn_pdrop, training, gen);
    // The residual stream keeps its dtype (under autocast the projections are bf16/f16, added in f32
    // as PyTorch's type promotion does).
    x = add(x, dropout(B.attn_proj->forward(a.permute({0, 2, 1, 3}).reshape({b, t, e}), gen), config_.resid_pdrop,
                       training, gen)
                   .to(x.dtype()));
    const Tensor m = B.mlp_proj->forward(gelu(B.c_fc->forward(B.ln_2->forward(x), gen), act), gen);
    x = add(x, dropout(m, config_.resid_pdrop, training, gen).to(x.dtype()));
  }
  if (last_only) x = x.slice(1, t - 1, t);
  return linear(ln_f->forward(x), wte->weight);
}

const LoadRules& Gpt2LMHeadModel::load_rules() const {
  static const LoadRules rules = [] {
    LoadRules r;
    r.family = "GPT-2";
    r.prefixes = {"transformer."};  // a GPT2Model file has no prefix
    r.ignored = {".attn.bias", ".attn.masked_bias"};  // the causal-mask buffers of older checkpoints
    r.transposed = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"};
    return r;
  }();
  return rules;
}

io::Json Gpt2LMHeadModel::config_json() const {
  io::Json j = config_.to_json();
  j["architectures"] = {"GPT2LMHeadModel"};
  return j;
}

}  // namespace ft::models
