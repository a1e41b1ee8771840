#include "models/common/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/ops.h"

namespace ft::models {

int64_t sample_token(std::vector<float> logits, const GenerationConfig& c, double u) {
  const int64_t n = static_cast<int64_t>(logits.size());
  const float ninf = -std::numeric_limits<float>::infinity();
  if (c.temperature != 1.0)
    for (float& v : logits) v = static_cast<float>(v / c.temperature);
  if (c.top_k > 0 && c.top_k < n) {  // keep the logits >= the k-th largest (ties kept)
    std::vector<float> sorted = logits;
    std::nth_element(sorted.begin(), sorted.begin() + (c.top_k - 1), sorted.end(), std::greater<float>());
    const float kth = sorted[c.top_k - 1];
    for (float& v : logits)
      if (v < kth) v = ninf;
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] < logits[b]; });
  const float top = logits[order.back()];
  std::vector<double> p(n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += p[i] = logits[i] == ninf ? 0.0 : std::exp(double(logits[i]) - top);
  if (c.top_p < 1.0) {
    // transformers' TopPLogitsWarper: ascending order, drop the tokens whose cumulative probability
    // is <= 1 - top_p, always keeping the most likely one.
    double cum = 0;
    for (int64_t i = 0; i + 1 < n; ++i) {
      cum += p[order[i]] / total;
      if (cum <= 1.0 - c.top_p) p[order[i]] = 0;
    }
    total = 0;
    for (double v : p) total += v;
  }
  double target = u * total, acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc += p[i];
    if (p[i] > 0 && acc >= target) return i;
  }
  return order.back();
}

std::vector<int64_t> generate(const CausalLM& model, const std::vector<int64_t>& prompt, const GenerationConfig& c,
                              Device device, const std::function<void(int64_t)>& on_token,
                              std::vector<std::vector<float>>* step_logits) {
  FT_CHECK(!prompt.empty(), "generate: the prompt has no tokens");
  FT_CHECK(static_cast<int64_t>(prompt.size()) < model.max_positions(), "generate: the prompt has ", prompt.size(),
           " tokens; the model's context is ", model.max_positions(), " positions");
  FT_CHECK(c.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0");
  FT_CHECK(!c.do_sample || (c.temperature > 0 && c.top_p > 0 && c.top_p <= 1 && c.top_k >= 0), "generate: temperature ",
           c.temperature, ", top_p ", c.top_p, " and top_k ", c.top_k, " must be > 0, in (0, 1] and >= 0");
  NoGradGuard ng;
  Generator gen(c.seed);
  KVCache cache;
  std::vector<int64_t> out;
  Tensor input = from_vector_i64(prompt, {1, static_cast<int64_t>(prompt.size())}).to(device);
  while (static_cast<int64_t>(out.size()) < c.max_new_tokens &&
         static_cast<int64_t>(prompt.size() + out.size()) < model.max_positions()) {
    const Tensor logits = model.forward(input, Tensor(), &cache, nullptr, /*last_only=*/true);
    std::vector<float> row = logits.to(kCPU).to(DType::f32).to_vector<float>();
    if (step_logits) step_logits->push_back(row);
    int64_t next;
    if (c.do_sample) {
      next = sample_token(std::move(row), c, rand({1}, DType::f32, &gen).item());
    } else {
      next = std::max_element(row.begin(), row.end()) - row.begin();  // the first maximum
    }
    out.push_back(next);
    if (on_token) on_token(next);
    if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), next) != c.eos_token_ids.end()) break;
    input = from_vector_i64({next}, {1, 1}).to(device);
  }
  return out;
}

}  // namespace ft::models
