// What saving a Hugging Face directory takes for any model: the head's label fields in config.json,
// the state dict as model.safetensors, and companion files (tokenizer, preprocessor) copied along.
// Every file is written to a temporary name and renamed.
#pragma once
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "io/config.h"

namespace ft::models {

// Fills id2label (LABEL_i when there is none) and label2id, num_labels and problem_type.
void set_head_labels(io::LabelConfig& labels, int64_t num_labels, const std::string& problem_type);
// Creates dir and writes config.json (without num_labels: transformers derives it from id2label).
// A bf16 or f16 save records its dtype as transformers reads it: "dtype" (5.x) and "torch_dtype" (4.x).
void write_config(const std::string& dir, io::Json config, DType dtype = DType::f32);
// model.safetensors: the module's state dict on the CPU, floating tensors as `dtype` (f32 by default,
// as the Trainer saves; bf16 or f16 when asked), metadata format=pt.
void write_state_dict(const nn::Module& module, const std::string& dir, DType dtype = DType::f32);
// "float32", "bfloat16" or "float16", torch's names.
std::string torch_dtype_name(DType dtype);
// Copies those of `names` that exist in src_dir into dir.
void copy_files(const std::string& src_dir, const std::string& dir, const std::vector<std::string>& names);

}  // namespace ft::models
