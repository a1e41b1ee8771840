// --use_peft and --adapter: LoRA adapters on a task's model, and saving/loading a task's weights
// as a PEFT adapter directory when it has them (models/common/lora.h).
#include <filesystem>

#include "core/error.h"
#include "io/config.h"
#include "models/common/pretrained.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

namespace fs = std::filesystem;

std::optional<models::LoraConfig> apply_peft(const TrainArgs& a, Command cmd, nn::Module& model,
                                             const std::string& model_type, const std::string& task_type,
                                             Generator* gen, std::string& log) {
  const bool train_new = cmd == Command::train && a.use_peft;
  if (a.adapter.empty() && !train_new) return std::nullopt;
  FT_CHECK(model_type == "bert" || model_type == "llama" || model_type == "gpt2", "LoRA (",
           a.adapter.empty() ? "--use_peft" : "--adapter", "): model_type '", model_type,
           "' is not supported (bert, llama and gpt2 are)");
  models::LoraConfig c;
  if (!a.adapter.empty()) {
    const int64_t r = models::read_adapter_config(a.adapter).r;
    FT_CHECK(!train_new || a.lora_r == r, "--adapter ", a.adapter, " has r ", r, " and --use_peft asks for --lora_r ",
             a.lora_r, ": give --lora_r ", r, " (or leave out --use_peft to continue the adapter as it was saved)");
    // Training continues the adapter as saved (its dropout too: PEFT's is_trainable=True load).
    c = models::load_adapter(model, a.adapter, task_type);
    log += cat("adapter ", a.adapter, ": LoRA r ", c.r, ", alpha ", c.lora_alpha, " on ", name_list(c.target_modules, 4),
               "\n");
  } else {
    c.r = a.lora_r;
    c.lora_alpha = a.lora_alpha;
    c.lora_dropout = a.lora_dropout;
    c.use_rslora = a.use_rslora;
    c.target_modules = a.lora_target_modules.empty() ? models::default_lora_targets(model_type) : a.lora_target_modules;
    c.modules_to_save = a.lora_modules_to_save;
    c.task_type = task_type;
    c.base_model_name_or_path = a.model_name_or_path;
    c.fan_in_fan_out = model_type == "gpt2";  // Conv1D: PEFT records it for merging
    const std::vector<std::string> targeted = models::add_lora(model, c, gen);
    const auto [trainable, all] = models::trainable_parameter_counts(model);
    log += cat("LoRA: r ", c.r, ", alpha ", c.lora_alpha, " (scaling ", c.scaling(), "), dropout ", c.lora_dropout,
               " on ", targeted.size(), " linear layers (", name_list(c.target_modules, 4), "); trainable params: ",
               trainable, " || all params: ", all, " || trainable%: ", 100.0 * static_cast<double>(trainable) / static_cast<double>(all),
               "\n");
  }
  return c;
}

bool read_adapter_labels(const std::string& dir, std::vector<std::string>& names, std::string& problem_type) {
  const std::string path = dir + "/labels.json";
  if (!fs::exists(path)) return false;
  const io::LabelConfig l = io::labels_from(io::read_json(path), path);
  FT_CHECK(!l.problem_type.empty(), path, ": no problem_type");
  problem_type = l.problem_type;
  names.clear();
  for (auto& [id, name] : l.id2label) names.push_back(name);
  return true;
}

void Task::save(const std::string& dir, DType dtype) {
  if (!lora) return save_model(dir, dtype);
  models::save_adapter(model(), *lora, dir, dtype);
  models::copy_files(lora_base_dir, dir,
                     {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"});
  if (problem_type() != "causal_lm") {
    // The head's label names, which PEFT's files have no place for (ftrain predict/serve --adapter read them).
    io::LabelConfig l;
    for (size_t i = 0; i < label_names().size(); ++i) l.id2label[static_cast<int64_t>(i)] = label_names()[i];
    models::set_head_labels(l, num_labels(), problem_type());
    io::Json j = io::Json::object();
    io::labels_to(l, j);
    io::write_json(dir + "/labels.json", j);
  }
}

void Task::load_weights_from(const std::string& dir) {
  if (!lora) return load_model_weights(dir);
  models::load_adapter_weights(model(), dir);
}

}  // namespace ft::cli
