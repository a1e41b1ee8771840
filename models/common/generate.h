// Autoregressive generation for a CausalLM, as transformers' generate() does it for one sequence: the
// prompt through the model once (filling the KV cache), then one token at a time from the last
// position's logits, greedy (do_sample off: the first maximum, as torch.argmax) or sampled after the
// logits warpers in transformers' order (temperature, top-k, top-p), from a seeded Philox stream;
// stops after max_new_tokens, at an EOS token (which is kept, as transformers keeps it), or at the
// model's last position.
#pragma once
#include <functional>
#include <vector>

#include "models/common/causal_lm.h"

namespace ft::models {

struct GenerationConfig {
  int64_t max_new_tokens = 128;
  bool do_sample = false;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 50;  // 0: off
  std::vector<int64_t> eos_token_ids;
  uint64_t seed = 42;
};

// The new tokens after `prompt`; on_token (when given) sees each as it is chosen; step_logits (when
// given) receives each step's raw logits (transformers' output_logits).
std::vector<int64_t> generate(const CausalLM& model, const std::vector<int64_t>& prompt, const GenerationConfig& config,
                              Device device, const std::function<void(int64_t)>& on_token = {},
                              std::vector<std::vector<float>>* step_logits = nullptr);

// The logits warpers and the draw on one row of logits (for tests): the chosen token id; `u` in (0, 1].
int64_t sample_token(std::vector<float> logits, const GenerationConfig& config, double u);

}  // namespace ft::models
