// What the causal language models (GPT-2, Llama) share: the interface the Trainer, generate and
// serve drive, the key/value cache, the additive causal + padding mask, and the loss with the
// labels shifted inside it (transformers' ForCausalLMLoss).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "core/random.h"
#include "io/config.h"
#include "models/common/loader.h"

namespace ft::models {

// Per layer the keys and values of the positions seen so far, [batch, kv_heads, length, head_dim].
struct KVCache {
  std::vector<Tensor> k, v;
  int64_t length() const { return k.empty() || !k[0].defined() ? 0 : k[0].shape()[2]; }
};

class CausalLM : public nn::Module {
 public:
  // Logits [batch, tokens, vocab] for input_ids [batch, tokens] (i64, on the model's device).
  // attention_mask: undefined (every position attended) or [batch, past + tokens] of 1/0 on the
  // host; padding may be on either side. With a cache, the tokens follow the cached positions and
  // the cache is extended. last_only: the logits of the last position only ([batch, 1, vocab]).
  virtual Tensor forward(const Tensor& input_ids, const Tensor& attention_mask, KVCache* cache = nullptr,
                         Generator* gen = nullptr, bool last_only = false) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_positions() const = 0;
  virtual int64_t eos_token_id() const = 0;
  virtual int64_t pad_token_id() const = 0;
  virtual const LoadRules& load_rules() const = 0;
  virtual io::Json config_json() const = 0;  // config.json as saved (architectures set)
};

// Builds the family named by config.json's model_type ("llama", "gpt2"); an error names any other.
std::shared_ptr<CausalLM> make_causal_lm(const io::Json& config, const std::string& where, Generator* gen = nullptr);

// transformers' additive mask for tq new positions after `past` cached ones: query i (position
// past + i) attends key j when j <= past + i and attention_mask[b][j] is 1. [1, 1, tq, past + tq]
// when there is no padding, else [batch, 1, tq, past + tq]; masked entries hold f32's lowest value
// (a fully masked row then averages, as transformers' does, instead of NaN). On `device`.
Tensor causal_mask(const Tensor& attention_mask, int64_t batch, int64_t tq, int64_t past, Device device);

// Mean cross-entropy of logits [b, t, V] at position i against labels[b][i + 1] (the shift is
// inside), positions labelled -100 (and each sequence's last) left out; in f32.
Tensor causal_lm_loss(const Tensor& logits, const Tensor& labels);

// Loads a checkpoint into the model by its family's rules; the message transformers prints about
// missing or unexpected tensors ("" when everything matched). A tied head counts as present.
std::string load_causal_lm(CausalLM& model, const io::SafetensorsReader& file);

// config.json, model.safetensors (tied heads not duplicated) and the tokenizer files of
// tokenizer_dir, as transformers' AutoModelForCausalLM loads them.
void save_causal_lm(const CausalLM& model, const std::string& dir, const std::string& tokenizer_dir = "",
                    DType dtype = DType::f32);

}  // namespace ft::models
