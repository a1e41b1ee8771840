#include "models/common/causal_lm.h"

#include <limits>

#include "core/error.h"
#include "core/ops.h"
#include "io/atomic_file.h"
#include "models/common/pretrained.h"
#include "models/gpt2/gpt2.h"
#include "models/llama/llama.h"

namespace ft::models {

std::shared_ptr<CausalLM> make_causal_lm(const io::Json& config, const std::string& where, Generator* gen) {
  const std::string type = config.value("model_type", std::string());
  if (type == "llama") return std::make_shared<LlamaForCausalLM>(io::LlamaConfig::from_json(config, where), gen);
  if (type == "gpt2") return std::make_shared<Gpt2LMHeadModel>(io::Gpt2Config::from_json(config, where), gen);
  throw Error(cat(where, ": model_type '", type, "' is not a causal language model ftrain has (llama, gpt2)"));
}

Tensor causal_mask(const Tensor& attention_mask, int64_t b, int64_t tq, int64_t past, Device device) {
  const int64_t tk = past + tq;
  std::vector<int64_t> keep;
  bool padded = false;
  if (attention_mask.defined()) {
    FT_CHECK(attention_mask.dim() == 2 && attention_mask.shape()[0] == b && attention_mask.shape()[1] == tk,
             "attention_mask must be [", b, ", ", tk, "] (batch, cached + new positions), got ",
             shape_str(attention_mask.shape()));
    keep = attention_mask.to_vector<int64_t>();
    for (int64_t m : keep) padded = padded || m == 0;
  }
  const int64_t rows = padded ? b : 1;
  const double lowest = std::numeric_limits<float>::lowest();
  std::vector<double> m(static_cast<size_t>(rows * tq * tk), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < tq; ++i)
      for (int64_t j = 0; j < tk; ++j)
        if (j > past + i || (padded && keep[r * tk + j] == 0)) m[(r * tq + i) * tk + j] = lowest;
  TensorOptions o;
  o.device = device;
  return from_vector(m, {rows, 1, tq, tk}, o);
}

Tensor causal_lm_loss(const Tensor& logits, const Tensor& labels) {
  FT_CHECK(logits.dim() == 3 && labels.dim() == 2 && labels.shape()[0] == logits.shape()[0] &&
               labels.shape()[1] == logits.shape()[1],
           "causal_lm_loss: logits ", shape_str(logits.shape()), " and labels ", shape_str(labels.shape()),
           " must be [batch, tokens, vocab] and [batch, tokens]");
  const int64_t b = labels.shape()[0], t = labels.shape()[1], vocab = logits.shape()[2];
  // Position i predicts label i + 1: the labels move left and each sequence's last position gets
  // -100 (transformers pads the labels instead of slicing the logits, so no logits are copied).
  const Tensor ignore = full({b, 1}, -100, TensorOptions(DType::i64).with_device(labels.device()));
  const Tensor shifted = concat({labels.slice(1, 1, t), ignore}, 1);
  const Tensor flat = logits.reshape({b * t, vocab});
  return cross_entropy(flat.dtype() == DType::f32 || flat.dtype() == DType::f64 ? flat : flat.to(DType::f32),
                       shifted.reshape({b * t}), -100);
}

std::string load_causal_lm(CausalLM& model, const io::SafetensorsReader& file) {
  LoadReport r = load_weights(model, file, model.load_rules());
  // A file that stores the tied head too (some do) holds nothing the model lacks.
  bool has_head = false;
  for (auto& [n, t] : model.named_parameters()) has_head = has_head || n == "lm_head.weight";
  if (!has_head) std::erase(r.unexpected, std::string("lm_head.weight"));
  std::string msg;
  if (!r.unexpected.empty())
    msg += "Some weights of the checkpoint were not used: [" + name_list(r.unexpected, 10) + "]\n";
  if (!r.missing.empty())
    msg += "Some weights were not initialized from the checkpoint and are newly initialized: [" +
           name_list(r.missing, 10) + "]\n";
  return msg;
}

void save_causal_lm(const CausalLM& model, const std::string& dir, const std::string& tokenizer_dir, DType dtype) {
  write_config(dir, model.config_json(), dtype);
  std::map<std::string, Tensor> tensors = state_for_saving(model, model.load_rules());
  for (auto& [name, t] : tensors)
    if (is_floating(t.dtype())) t = t.to(dtype).contiguous();
  io::write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  copy_files(tokenizer_dir, dir,
             {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
              "vocab.json", "merges.txt", "chat_template.jinja"});
}

}  // namespace ft::models
