// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> when sanitizers are on
// (GCC PR 105562; as in tools/ftrain/freeze.cpp), silenced for this file before the headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "models/common/lora.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/nn/layers.h"
#include "io/safetensors.h"

namespace ft::models {

namespace {

const char* const kPrefix = "base_model.model.";

bool name_matches(const std::string& path, const std::string& name) {
  return path == name || (path.size() > name.size() && path.compare(path.size() - name.size(), name.size(), name) == 0 &&
                          path[path.size() - name.size() - 1] == '.');
}

bool any_matches(const std::string& path, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return name_matches(path, n); });
}

// Whether path is a module to save or inside one.
bool saved_module(const std::string& path, const std::vector<std::string>& modules_to_save) {
  for (std::string p = path;; p = p.substr(0, p.rfind('.'))) {
    if (any_matches(p, modules_to_save)) return true;
    if (p.find('.') == std::string::npos) return false;
  }
}

bool is_adapter_param(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

std::vector<std::string> string_list(const io::Json& j, const std::string& where, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  FT_CHECK(j[key].is_array(), where, ": '", key, "' must be a list of module names, found ", j[key].type_name());
  for (const io::Json& v : j[key]) {
    FT_CHECK(v.is_string(), where, ": '", key, "' must hold module names (strings), found ", v.type_name());
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

double LoraConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

io::Json LoraConfig::to_json() const {
  io::Json j = io::Json::object();
  j["base_model_name_or_path"] = base_model_name_or_path.empty() ? io::Json(nullptr) : io::Json(base_model_name_or_path);
  j["bias"] = "none";
  j["fan_in_fan_out"] = fan_in_fan_out;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["lora_alpha"] = lora_alpha;
  j["lora_dropout"] = lora_dropout;
  j["modules_to_save"] = modules_to_save.empty() ? io::Json(nullptr) : io::Json(modules_to_save);
  j["peft_type"] = "LORA";
  j["r"] = r;
  j["target_modules"] = target_regex.empty() ? io::Json(target_modules) : io::Json(target_regex);
  j["task_type"] = task_type.empty() ? io::Json(nullptr) : io::Json(task_type);
  j["use_dora"] = false;
  j["use_rslora"] = use_rslora;
  return j;
}

LoraConfig LoraConfig::from_json(const io::Json& j, const std::string& where) {
  return io::read_fields(where, [&] {
    FT_CHECK(j.is_object(), where, ": expected a JSON object (a PEFT adapter configuration), found ", j.type_name());
    const std::string type = j.value("peft_type", std::string());
    FT_CHECK(type == "LORA", where, ": peft_type '", clip(type, 40), "' is not supported (LORA is)");
    LoraConfig c;
    FT_CHECK(j.contains("r") && j["r"].is_number_integer() && j["r"].get<int64_t>() > 0, where,
             ": 'r' should be a positive integer (the LoRA rank), found ", j.contains("r") ? j["r"].dump() : "nothing");
    c.r = j["r"].get<int64_t>();
    c.lora_alpha = j.value("lora_alpha", 8.0);
    c.lora_dropout = j.value("lora_dropout", 0.0);
    FT_CHECK(c.lora_dropout >= 0 && c.lora_dropout < 1, where, ": lora_dropout ", c.lora_dropout, " is not in [0, 1)");
    c.use_rslora = j.value("use_rslora", false);
    c.fan_in_fan_out = j.value("fan_in_fan_out", false);
    if (j.contains("target_modules") && j["target_modules"].is_string())
      c.target_regex = j["target_modules"].get<std::string>();
    else
      c.target_modules = string_list(j, where, "target_modules");
    FT_CHECK(!c.target_regex.empty() || !c.target_modules.empty(), where, ": 'target_modules' is empty");
    c.modules_to_save = string_list(j, where, "modules_to_save");
    if (j.contains("task_type") && j["task_type"].is_string()) c.task_type = j["task_type"].get<std::string>();
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
      c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
    // What would change the computation and ftrain does not do is refused rather than ignored.
    FT_CHECK(!j.value("use_dora", false), where, ": use_dora (DoRA) is not supported");
    FT_CHECK(j.value("bias", std::string("none")) == "none", where, ": bias '", j.value("bias", std::string()),
             "' is not supported (none is)");
    FT_CHECK(!j.value("lora_bias", false), where, ": lora_bias is not supported");
    for (const char* k : {"rank_pattern", "alpha_pattern"})
      FT_CHECK(!j.contains(k) || j[k].is_null() || j[k].empty(), where, ": '", k, "' (per-module ranks) is not supported");
    for (const char* k : {"layers_to_transform", "exclude_modules", "target_parameters", "layer_replication"})
      FT_CHECK(!j.contains(k) || j[k].is_null(), where, ": '", k, "' is not supported");
    return c;
  });
}

std::vector<std::string> default_lora_targets(const std::string& model_type) {
  if (model_type == "bert") return {"query", "value"};
  if (model_type == "llama") return {"q_proj", "v_proj"};
  if (model_type == "gpt2") return {"c_attn"};
  throw Error(cat("LoRA: no default target modules for model_type '", clip(model_type, 40),
                  "' (bert, llama and gpt2 have them); name them with --lora_target_modules"));
}

std::vector<std::string> add_lora(nn::Module& model, LoraConfig& c, Generator* gen) {
  FT_CHECK(c.r > 0, "LoRA: `r` should be a positive integer value but the value passed is ", c.r);
  FT_CHECK(c.lora_dropout >= 0 && c.lora_dropout < 1, "LoRA: lora_dropout must be in [0, 1), got ", c.lora_dropout);
  if (c.task_type == "SEQ_CLS")
    for (const char* head : {"classifier", "score"})
      if (std::find(c.modules_to_save.begin(), c.modules_to_save.end(), head) == c.modules_to_save.end())
        c.modules_to_save.push_back(head);
  for (const std::string& m : c.modules_to_save) {
    if (c.task_type == "SEQ_CLS" && (m == "classifier" || m == "score")) continue;  // PEFT's defaults, either may be absent
    bool found = false;
    for (auto& [path, mod] : model.named_modules()) found = found || (!path.empty() && name_matches(path, m));
    FT_CHECK(found, "LoRA: modules_to_save '", m, "' matches no module of the model");
  }
  std::vector<std::pair<std::string, nn::Linear*>> linears;
  for (auto& [path, m] : model.named_modules())
    if (auto* l = dynamic_cast<nn::Linear*>(m); l && !path.empty() && !name_matches(path, "lora_A") &&
                                                !name_matches(path, "lora_B"))
      linears.emplace_back(path, l);
  const bool all_linear = c.target_regex.empty() && c.target_modules == std::vector<std::string>{"all-linear"};
  std::regex re;
  if (!c.target_regex.empty()) {
    try {
      re = std::regex(c.target_regex);
    } catch (const std::regex_error& e) {
      throw Error(cat("LoRA: target_modules '", c.target_regex, "' is not a valid regular expression: ", e.what()));
    }
  }
  std::vector<std::string> targeted;
  for (auto& [path, l] : linears) {
    if (saved_module(path, c.modules_to_save)) continue;  // trained fully instead
    const bool hit = all_linear ? !name_matches(path, "lm_head")
                     : !c.target_regex.empty() ? std::regex_match(path, re)
                                               : any_matches(path, c.target_modules);
    if (!hit) continue;
    FT_CHECK(!l->has_lora(), "LoRA: ", path, " already has an adapter");
    l->add_lora(c.r, c.scaling(), c.lora_dropout, gen);
    targeted.push_back(path);
  }
  if (targeted.empty()) {
    std::vector<std::string> some;
    for (size_t i = 0; i < linears.size() && some.size() < 4; ++i) some.push_back(linears[i].first);
    throw Error(cat("LoRA: target modules ",
                    c.target_regex.empty() ? cat("[", name_list(c.target_modules, 8), "]") : "'" + c.target_regex + "'",
                    " not found in the base model; no modules were targeted for adaptation. Please check the target "
                    "modules and try again (the model's linear layers are named like ",
                    name_list(some, 4), ")"));
  }
  if (all_linear) c.target_modules = targeted;
  for (auto& [name, p] : model.named_parameters()) p.requires_grad_(in_adapter_file(name, c));
  return targeted;
}

bool in_adapter_file(const std::string& name, const LoraConfig& c) {
  return is_adapter_param(name) || saved_module(name.substr(0, name.rfind('.')), c.modules_to_save);
}

std::map<std::string, Tensor> adapter_state(const nn::Module& model, const LoraConfig& c, DType dtype) {
  std::map<std::string, Tensor> out;
  for (auto& [name, p] : model.named_parameters())
    if (in_adapter_file(name, c)) out[kPrefix + name] = p.detach().to(kCPU).to(dtype).contiguous();
  return out;
}

void save_adapter(const nn::Module& model, const LoraConfig& c, const std::string& dir, DType dtype) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  FT_CHECK(!ec, dir, ": cannot create the directory: ", ec.message());
  io::write_safetensors(dir + "/adapter_model.safetensors", adapter_state(model, c, dtype), {{"format", "pt"}});
  io::write_json(dir + "/adapter_config.json", c.to_json());
}

LoraConfig read_adapter_config(const std::string& dir) {
  const std::string path = dir + "/adapter_config.json";
  FT_CHECK(std::filesystem::exists(path), dir, ": not a PEFT adapter directory (no adapter_config.json)");
  return LoraConfig::from_json(io::read_json(path), path);
}

void load_adapter_weights(nn::Module& model, const std::string& dir) {
  const std::string path = dir + "/adapter_model.safetensors";
  FT_CHECK(std::filesystem::exists(path), dir, ": not a PEFT adapter directory (no adapter_model.safetensors)");
  const io::SafetensorsReader file(path);
  std::map<std::string, Tensor> params;
  for (auto& [name, p] : model.named_parameters()) params[name] = p;
  std::set<std::string> loaded;
  const std::string prefix = kPrefix;
  for (const io::TensorInfo& info : file.tensors()) {
    FT_CHECK(info.name.rfind(prefix, 0) == 0, path, ": tensor '", info.name, "' is not under '", prefix,
             "' (not a PEFT adapter file)");
    const std::string name = info.name.substr(prefix.size());
    auto it = params.find(name);
    FT_CHECK(it != params.end(), path, ": tensor '", info.name, "' has no place in the model (",
             is_adapter_param(name) ? "no adapter on that module" : "no such parameter",
             "): the adapter was trained on another base or with other target modules");
    Tensor p = it->second;
    FT_CHECK(info.shape == p.shape(), path, ": tensor '", info.name, "' has shape ", shape_str(info.shape),
             " and the model's ", name, " has ", shape_str(p.shape()), ": the adapter was trained on another base model");
    NoGradGuard ng;
    p.copy_(file.load(info.name).to(p.dtype()).to(p.device()));
    loaded.insert(name);
  }
  std::vector<std::string> absent;
  for (auto& [name, p] : params)
    if (is_adapter_param(name) && !loaded.count(name)) absent.push_back(prefix + name);
  FT_CHECK(absent.empty(), path, ": lacks ", absent.size(), " adapter tensors the configuration implies (",
           name_list(absent, 4), ")");
}

LoraConfig load_adapter(nn::Module& model, const std::string& dir, const std::string& task_type) {
  LoraConfig c = read_adapter_config(dir);
  FT_CHECK(task_type.empty() || c.task_type.empty() || c.task_type == task_type, dir, ": its task_type is ",
           c.task_type, " and the base is a ", task_type, " model");
  Generator gen(0);  // drawn, then overwritten by the file
  add_lora(model, c, &gen);
  load_adapter_weights(model, dir);
  return c;
}

void merge_lora(nn::Module& model) {
  std::vector<nn::Linear*> adapted;  // collected first: merging frees the adapters' modules
  for (auto& [path, m] : model.named_modules())
    if (auto* l = dynamic_cast<nn::Linear*>(m); l && l->has_lora()) adapted.push_back(l);
  for (nn::Linear* l : adapted) l->merge_lora();
  for (auto& [name, p] : model.named_parameters()) p.requires_grad_(true);
}

int64_t store_frozen_linear_weights(nn::Module& model, DType dtype) {
  FT_CHECK(dtype == DType::bf16 || dtype == DType::f16, "LoRA: frozen weights are stored in bf16 or f16, not ", dtype);
  int64_t saved = 0;
  for (auto& [path, m] : model.named_modules()) {
    auto* l = dynamic_cast<nn::Linear*>(m);
    if (!l || l->weight.requires_grad() || l->weight.dtype() == dtype) continue;
    saved += l->weight.numel() * static_cast<int64_t>(dtype_size(l->weight.dtype()) - dtype_size(dtype));
    nn::replace_data(l->weight, l->weight.detach().to(dtype).contiguous());
  }
  return saved;
}

std::pair<int64_t, int64_t> trainable_parameter_counts(const nn::Module& model) {
  int64_t trainable = 0, all = 0;
  for (auto& [name, p] : model.named_parameters()) {
    all += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  return {trainable, all};
}

}  // namespace ft::models
