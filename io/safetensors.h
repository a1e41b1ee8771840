// safetensors files (format facts: ../shared/reference/hf-reference.md section 1).
// SafetensorsReader memory-maps a file and validates it as the reference reader does: header length
// against the 100 MB cap and the file size, a JSON object (duplicate keys and deep nesting refused),
// known dtypes, offsets sorted, contiguous from 0 and exactly covering the data, element counts with
// overflow checks. Every error names the file, and the tensor where there is one. Loading copies the
// bytes (mapped data may be unaligned) and converts I8, I16 and U8 to i32; F8/F6/F4, U16-U64 and C64
// are recognised and refused by name. The writer writes what the reference writer writes: dtypes in
// descending alignment order then names, JSON padded with spaces to a multiple of 8, to a temporary
// file renamed into place.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ft::io {

class MappedFile;  // io/mapped_file.h

struct TensorInfo {
  std::string name;
  std::string dtype;  // as in the file: "F32", "BF16", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
  uint64_t nbytes() const { return end - begin; }
  int64_t numel() const { return shape_numel(shape); }
};

// The validated layout of a safetensors file held in memory (what the reader and the fuzz target
// parse); `path` only names the file in errors.
struct SafetensorsLayout {
  uint64_t header_bytes = 0;
  std::vector<TensorInfo> tensors;  // in offset order
  std::map<std::string, std::string> metadata;
};
SafetensorsLayout parse_safetensors(const uint8_t* data, uint64_t size, const std::string& path);

class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file (offset) order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;
  Tensor load(const std::string& name) const;  // a CPU tensor owning a copy of the bytes
  uint64_t header_bytes() const { return header_bytes_; }
  uint64_t file_bytes() const { return size_; }

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0, header_bytes_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Whether ftrain can load a dtype string, and its DType when it can.
bool safetensors_dtype_supported(const std::string& dtype, DType* out = nullptr);

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads every tensor (SafetensorsReader + load).
SafetensorsFile read_safetensors(const std::string& path);
// Tensors must be on the CPU; they are written row-major whatever their strides.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ft::io
