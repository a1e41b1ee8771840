// ftrain merge --model_name_or_path BASE --adapter DIR --output_dir OUT: the base model with a LoRA
// adapter folded into its weights (PEFT's merge_and_unload), saved as a plain Hugging Face directory
// that ftrain and transformers load without PEFT. A classifier adapter brings its head (modules to
// save) and its labels (labels.json, or LABEL_i from the head's size when a PEFT-made adapter has none).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/bert/bert.h"
#include "models/common/causal_lm.h"
#include "models/common/lora.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/output_dir.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

namespace fs = std::filesystem;

namespace {

struct MergeArgs {
  std::string base, adapter, output_dir, save_dtype = "f32";
  bool overwrite = false;
};

// A BERT classifier's labels as the adapter was trained with them.
io::LabelConfig adapter_labels(const MergeArgs& a, const io::LabelConfig& base) {
  io::LabelConfig l;
  std::vector<std::string> names;
  std::string problem;
  if (read_adapter_labels(a.adapter, names, problem)) {
    for (size_t i = 0; i < names.size(); ++i) l.id2label[static_cast<int64_t>(i)] = names[i];
    l.num_labels = problem == "regression" ? 1 : static_cast<int64_t>(names.size());
    l.problem_type = problem;
    return l;
  }
  const io::SafetensorsReader file(a.adapter + "/adapter_model.safetensors");
  const std::string head = "base_model.model.classifier.weight";
  if (!file.contains(head)) return base;
  l.num_labels = file.info(head).shape.at(0);
  return l;
}

int run_merge(const MergeArgs& a) {
  const std::string config_path = a.base + "/config.json";
  FT_CHECK(fs::is_regular_file(config_path), a.base, ": not a model directory (no config.json)");
  const io::Json config = io::read_json(config_path);
  const std::string type = config.value("model_type", std::string());
  const models::LoraConfig lora = models::read_adapter_config(a.adapter);
  FT_CHECK(!fs::exists(a.output_dir) || fs::is_empty(a.output_dir) || a.overwrite, a.output_dir,
           ": the directory is not empty (give --overwrite_output_dir to replace its model)");
  fs::create_directories(a.output_dir);
  const DType dtype = save_dtype(a.save_dtype);
  const io::SafetensorsReader base_file(a.base + "/model.safetensors");
  std::string targets;
  if (type == "bert") {
    io::BertConfig c = io::BertConfig::from_json(config, config_path);
    c.labels = adapter_labels(a, c.labels);
    models::BertForSequenceClassification model(c);
    const models::LoadReport r = models::load_weights(model, base_file);
    const models::LoraConfig loaded = models::load_adapter(model, a.adapter, "SEQ_CLS");
    for (const std::string& m : r.missing)
      FT_CHECK(models::in_adapter_file(m, loaded), a.base, ": the base lacks ", m, " and the adapter does not bring it");
    models::merge_lora(model);
    publish_model(a.output_dir, [&](const std::string& staging) { models::save_pretrained(model, staging, a.base, dtype); });
    targets = name_list(loaded.target_modules, 4);
  } else if (type == "llama" || type == "gpt2") {
    std::shared_ptr<models::CausalLM> model = models::make_causal_lm(config, config_path);
    const std::string warn = models::load_causal_lm(*model, base_file);
    FT_CHECK(warn.empty(), a.base, ": ", warn);
    const models::LoraConfig loaded = models::load_adapter(*model, a.adapter, "CAUSAL_LM");
    models::merge_lora(*model);
    publish_model(a.output_dir,
                  [&](const std::string& staging) { models::save_causal_lm(*model, staging, a.base, dtype); });
    targets = name_list(loaded.target_modules, 4);
  } else {
    throw Error(cat(config_path, ": model_type '", clip(type, 40), "' has no LoRA support (bert, llama and gpt2 do)"));
  }
  std::printf("merged %s (LoRA r %lld, alpha %g on %s) into %s -> %s\n", a.adapter.c_str(),
              static_cast<long long>(lora.r), lora.lora_alpha, targets.c_str(), a.base.c_str(), a.output_dir.c_str());
  return 0;
}

}  // namespace

void add_merge(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Fold a LoRA adapter into its base model (PEFT's merge_and_unload)");
  auto a = std::make_shared<MergeArgs>();
  cmd->add_option("--model_name_or_path", a->base, "the base model directory the adapter was trained on")->required();
  cmd->add_option("--adapter", a->adapter, "the PEFT adapter directory (adapter_config.json, adapter_model.safetensors)")
      ->required();
  cmd->add_option("--output_dir", a->output_dir, "where the merged Hugging Face directory goes")->required();
  cmd->add_flag("--overwrite_output_dir", a->overwrite, "replace the model in a non-empty output_dir");
  cmd->add_option("--save_dtype", a->save_dtype, "the merged weights: f32, bf16 or fp16")
      ->check(CLI::IsMember({"f32", "bf16", "fp16"}));
  cmd->callback([a] { run_merge(*a); });
}

}  // namespace ft::cli
