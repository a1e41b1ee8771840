// LoRA adapters as Hugging Face PEFT defines them (LoraConfig, get_peft_model, save_pretrained,
// PeftModel.from_pretrained, merge_and_unload), for every model family: a model's Linear layers are
// found by their dotted paths (which are the Hugging Face module names), adapters are attached in
// place (nn::Linear::add_lora), everything else is frozen except the modules to save, and the adapter
// directory holds PEFT's two files: adapter_config.json and adapter_model.safetensors with the tensors
// named base_model.model.<path>.lora_A.weight / lora_B.weight and base_model.model.<path>.<param> for
// the modules to save.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "core/random.h"
#include "io/config.h"

namespace ft::models {

struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 16, lora_dropout = 0.05;
  bool use_rslora = false;
  // PEFT's target_modules as a list: a Linear is targeted when its path equals a name or ends with
  // "." + name ("query" targets "bert.encoder.layer.0.attention.self.query"). "all-linear" (alone)
  // targets every Linear but the output layer (lm_head) and the modules to save, and is saved as the
  // list of paths it resolved to, as PEFT does.
  std::vector<std::string> target_modules;
  // PEFT's target_modules as one string (from an adapter_config.json): a regular expression the whole
  // path must match. When set, target_modules is unused.
  std::string target_regex;
  // Modules trained fully and saved in the adapter file (matched as target names are). A SEQ_CLS
  // config always has "classifier" and "score", as PEFT's PeftModelForSequenceClassification adds.
  std::vector<std::string> modules_to_save;
  std::string task_type;  // "SEQ_CLS" or "CAUSAL_LM"
  std::string base_model_name_or_path;
  bool fan_in_fan_out = false;  // the base stores [in, out] weights (GPT-2's Conv1D); for PEFT's merge

  double scaling() const;  // lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora
  io::Json to_json() const;
  // Refuses what ftrain does not implement (DoRA, bias training, per-module ranks, ...) by name.
  static LoraConfig from_json(const io::Json& j, const std::string& where);
};

// PEFT's default targets for a model_type when target_modules is not given
// (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING): bert query/value, llama q_proj/v_proj, gpt2
// c_attn. An unknown model_type is an error naming the supported ones.
std::vector<std::string> default_lora_targets(const std::string& model_type);

// Attaches an adapter to every targeted Linear (PEFT's initialisation, drawn from gen), resolves
// "all-linear", adds the SEQ_CLS modules to save, and sets requires_grad: adapters and modules to save
// train, everything else is frozen. Returns the targeted paths. A config that targets nothing is an
// error in PEFT's words, naming the targets and a few of the model's Linear paths.
std::vector<std::string> add_lora(nn::Module& model, LoraConfig& c, Generator* gen = nullptr);

// Whether a parameter (by its dotted name) belongs in the adapter file: an adapter's lora_A/lora_B or a
// parameter of a module to save.
bool in_adapter_file(const std::string& param_name, const LoraConfig& c);
// The adapter file's tensors under PEFT's names (CPU, floating tensors as dtype).
std::map<std::string, Tensor> adapter_state(const nn::Module& model, const LoraConfig& c, DType dtype = DType::f32);
// Writes adapter_config.json and adapter_model.safetensors into dir (created), each atomically.
void save_adapter(const nn::Module& model, const LoraConfig& c, const std::string& dir, DType dtype = DType::f32);
// dir/adapter_config.json; errors name the file and field.
LoraConfig read_adapter_config(const std::string& dir);
// Loads dir/adapter_model.safetensors into a model that has the adapters of `c` (add_lora first).
// A tensor whose shape differs (an adapter trained on another base) is an error naming the tensor and
// both shapes; a tensor the model has no place for, or an adapter tensor the file lacks, is named too.
void load_adapter_weights(nn::Module& model, const std::string& dir);
// add_lora with dir's config (dropout kept for training, adapters drawn then overwritten), then
// load_adapter_weights. Returns the config. With task_type given ("SEQ_CLS", "CAUSAL_LM"), an adapter
// of another task type is an error naming both.
LoraConfig load_adapter(nn::Module& model, const std::string& dir, const std::string& task_type = "");
// Folds every adapter into its base weight (merge_and_unload); the model is then a plain model.
void merge_lora(nn::Module& model);
// Stores the frozen weights of the model's linear layers (not the adapters, not biases) in dtype
// (bf16 or f16): under autocast to that dtype every GEMM casts them so anyway, so the results are the
// same, with half the memory and no cast per step. Returns the bytes saved.
int64_t store_frozen_linear_weights(nn::Module& model, DType dtype);
// Parameters that train, and all of them (PEFT's print_trainable_parameters).
std::pair<int64_t, int64_t> trainable_parameter_counts(const nn::Module& model);

}  // namespace ft::models
