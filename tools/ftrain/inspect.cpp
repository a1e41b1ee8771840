// ftrain inspect PATH: lists the tensors of a safetensors file (name, dtype, shape, bytes), the
// parameter count, the metadata and, for a model directory, a summary of its config.json.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "io/config.h"
#include "io/safetensors.h"
#include "tools/ftrain/commands.h"

namespace ft::cli {
namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string with_commas(uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_config(const std::string& path) {
  const io::Json j = io::read_json(path);
  const std::string type = j.value("model_type", std::string("?"));
  std::printf("\nconfig.json: model_type %s", type.c_str());
  if (type == "bert") {
    const io::BertConfig c = io::BertConfig::from_json(j, path);
    std::printf(", %lld layers, hidden %lld, %lld heads, intermediate %lld, vocab %lld, max positions %lld",
                static_cast<long long>(c.num_hidden_layers), static_cast<long long>(c.hidden_size),
                static_cast<long long>(c.num_attention_heads), static_cast<long long>(c.intermediate_size),
                static_cast<long long>(c.vocab_size), static_cast<long long>(c.max_position_embeddings));
    if (!c.labels.id2label.empty()) std::printf(", %lld labels", static_cast<long long>(c.labels.num_labels));
  } else if (type == "resnet") {
    const io::ResNetConfig c = io::ResNetConfig::from_json(j, path);
    std::printf(", %s layers, depths [", c.layer_type.c_str());
    for (size_t i = 0; i < c.depths.size(); ++i) std::printf("%s%lld", i ? ", " : "", static_cast<long long>(c.depths[i]));
    std::printf("], %lld labels", static_cast<long long>(c.labels.num_labels));
  }
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty())
    std::printf(", architecture %s", j["architectures"][0].get<std::string>().c_str());
  std::printf("\n");
}

void inspect(const std::string& path) {
  std::string file = path, config;
  if (is_dir(path)) {
    file = path + "/model.safetensors";
    config = path + "/config.json";
    if (!exists(file)) {
      const bool sharded = exists(path + "/model.safetensors.index.json");
      throw Error(cat(path, ": no model.safetensors in the directory",
                      sharded ? " (sharded checkpoints are not supported yet)" : ""));
    }
  }
  const io::SafetensorsReader r(file);
  // Parameters are the floating tensors; integer ones (position_ids, BatchNorm's
  // num_batches_tracked) are buffers, as transformers' num_parameters() counts them.
  uint64_t params = 0;
  size_t width = 4;
  for (const io::TensorInfo& t : r.tensors()) {
    if (t.dtype[0] == 'F' || t.dtype == "BF16") params += static_cast<uint64_t>(t.numel());
    width = std::max(width, t.name.size());
  }
  std::printf("%s: %zu tensors, %s parameters, %s bytes\n", file.c_str(), r.tensors().size(),
              with_commas(params).c_str(), with_commas(r.file_bytes()).c_str());
  for (auto& [k, v] : r.metadata()) std::printf("metadata: %s = %s\n", k.c_str(), v.c_str());
  std::printf("\n%-*s  %-5s  %-18s  %s\n", static_cast<int>(width), "name", "dtype", "shape", "bytes");
  for (const io::TensorInfo& t : r.tensors())
    std::printf("%-*s  %-5s  %-18s  %s\n", static_cast<int>(width), t.name.c_str(), t.dtype.c_str(),
                shape_str(t.shape).c_str(), with_commas(t.nbytes()).c_str());
  if (!config.empty() && exists(config)) print_config(config);
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "List the tensors of a safetensors file or a model directory");
  auto path = std::make_shared<std::string>();
  cmd->add_option("path", *path, "a .safetensors file, or a directory with model.safetensors and config.json")
      ->required();
  cmd->callback([path] { inspect(*path); });
}

}  // namespace ft::cli
