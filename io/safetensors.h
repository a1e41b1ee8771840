// safetensors files: read (validated as the reference reader validates) and write (as the reference
// writer writes: header padded with spaces to a multiple of 8, temporary file renamed into place).
// Format facts: ../shared/reference/hf-reference.md section 1. This is the minimal version the core
// tests need (whole-file read); the model-I/O work extends it (mmap, every dtype, inspect).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ft::io {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Throws ft::Error naming the file (and the tensor) on any malformed or unsupported content.
SafetensorsFile read_safetensors(const std::string& path);
// Tensors must be on the CPU; they are written row-major whatever their strides.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ft::io
