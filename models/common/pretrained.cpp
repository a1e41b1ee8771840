#include "models/common/pretrained.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace ft::models {

void set_head_labels(io::LabelConfig& l, int64_t num_labels, const std::string& problem_type) {
  if (l.id2label.empty())
    for (int64_t i = 0; i < num_labels; ++i) l.id2label[i] = "LABEL_" + std::to_string(i);
  l.label2id.clear();
  for (auto& [i, name] : l.id2label) l.label2id[name] = i;
  l.num_labels = num_labels;
  l.problem_type = problem_type;
}

std::string torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    default: throw Error(cat("saving: dtype ", dtype, " is not a model dtype (f32, bf16, f16)"));
  }
}

void write_config(const std::string& dir, io::Json config, DType dtype) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  FT_CHECK(!ec, dir, ": cannot create the directory: ", ec.message());
  config.erase("num_labels");
  if (dtype != DType::f32) config["dtype"] = config["torch_dtype"] = torch_dtype_name(dtype);
  io::write_json(dir + "/config.json", config);
}

void write_state_dict(const nn::Module& module, const std::string& dir, DType dtype) {
  torch_dtype_name(dtype);  // a model dtype
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : module.state_dict()) {
    Tensor cpu = t.detach().to(kCPU);
    tensors[name] = (is_floating(cpu.dtype()) ? cpu.to(dtype) : cpu).contiguous();
  }
  io::write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
}

void copy_files(const std::string& src_dir, const std::string& dir, const std::vector<std::string>& names) {
  if (src_dir.empty()) return;
  for (const std::string& f : names) {
    std::ifstream in(src_dir + "/" + f, std::ios::binary);
    if (!in.good()) continue;
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    io::write_file_atomically(dir + "/" + f, [&](std::ostream& out) { out << bytes; });
  }
}

}  // namespace ft::models
