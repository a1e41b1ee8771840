#include <filesystem>

#include "core/error.h"
#include "io/config.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

std::unique_ptr<Task> make_task(const TrainArgs& args, Command cmd, Device device, Reporter& rep) {
  const std::string dir = args.model_name_or_path.empty() ? args.config_name : args.model_name_or_path;
  const std::string config = std::filesystem::is_directory(dir) ? dir + "/config.json" : dir;
  FT_CHECK(std::filesystem::exists(config), dir, ": not a model directory (no config.json)");
  const io::Json j = io::read_json(config);
  FT_CHECK(j.is_object(), config, ": expected a JSON object (a model's configuration), found ", j.type_name());
  const io::Json& mt = j.contains("model_type") ? j["model_type"] : io::Json("");
  FT_CHECK(mt.is_string(), config, ": 'model_type' must be a string, found ", mt.type_name());
  const std::string type = mt.get<std::string>();
  const std::string task = type == "resnet" ? "image-classification"
                           : type == "bert"  ? "text-classification"
                           : type == "llama" || type == "gpt2" ? "causal-lm"
                                                               : "";
  FT_CHECK(!task.empty(), config, ": model_type '", clip(type, 80), "' is not supported (bert, resnet, llama, gpt2)");
  FT_CHECK(args.task == "auto" || args.task == task, "--task ", args.task, " does not fit the model (", config,
           ": model_type ", type, " does ", task, ")");
  if (task == "text-classification") {
    const std::vector<std::pair<const char*, std::string>> folders = {
        {"--train_dir", args.train_dir}, {"--validation_dir", args.validation_dir}, {"--test_dir", args.test_dir}};
    for (const auto& [flag, value] : folders)
      FT_CHECK(value.empty(), dir, " is a text model (model_type bert) and ", flag,
               " gives a folder of images: give the text as --train_file / --validation_file / --test_file (CSV, TSV "
               "or JSONL with a '", args.text_column_name, "' column)");
  }
  FT_CHECK(task != "image-classification" || (args.adapter.empty() && !(cmd == Command::train && args.use_peft)),
           "LoRA (", args.adapter.empty() ? "--use_peft" : "--adapter", "): model_type resnet is not supported (bert, "
           "llama and gpt2 are)");
  std::string log;
  std::unique_ptr<Task> t = task == "image-classification" ? make_image_classification(args, cmd, device, log)
                            : task == "causal-lm"          ? make_causal_lm_task(args, cmd, device, log)
                                                           : make_text_classification(args, cmd, device, log);
  if (!log.empty()) rep.message(log.substr(0, log.size() - 1));
  FT_CHECK(!(args.bf16 && args.fp16), "--bf16 and --fp16 exclude each other: pick one");
  if (args.bf16) t->autocast_dtype = DType::bf16;
  if (args.fp16) t->autocast_dtype = DType::f16;
  // LoRA under --bf16/--fp16: the frozen base's linear weights stay in the low dtype (every GEMM would
  // cast them to it anyway: the same results, half their memory, no cast per step).
  if (t->lora && t->autocast_dtype != DType::f32) {
    const int64_t saved = models::store_frozen_linear_weights(t->model(), t->autocast_dtype);
    rep.message(cat("LoRA: the frozen linear weights are stored in ", t->autocast_dtype, " (", saved / 1000000, " MB less)"));
  }
  for (const std::string& w : t->warnings()) rep.warning(w);
  return t;
}

}  // namespace ft::cli
