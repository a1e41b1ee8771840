#include <filesystem>

#include "core/error.h"
#include "io/config.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

std::unique_ptr<Task> make_task(const TrainArgs& args, Command cmd, Device device, std::string& log) {
  const std::string dir = args.model_name_or_path.empty() ? args.config_name : args.model_name_or_path;
  const std::string config = std::filesystem::is_directory(dir) ? dir + "/config.json" : dir;
  FT_CHECK(std::filesystem::exists(config), dir, ": not a model directory (no config.json)");
  const std::string type = io::read_json(config).value("model_type", std::string());
  const std::string task = type == "resnet" ? "image-classification" : type == "bert" ? "text-classification" : "";
  FT_CHECK(!task.empty(), config, ": model_type '", type, "' is not supported (bert, resnet)");
  FT_CHECK(args.task == "auto" || args.task == task, "--task ", args.task, " does not fit the model (", config,
           ": model_type ", type, " does ", task, ")");
  return task == "image-classification" ? make_image_classification(args, cmd, device, log)
                                        : make_text_classification(args, cmd, device, log);
}

}  // namespace ft::cli
