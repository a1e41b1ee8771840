// GGUF files (llama.cpp's single-file model format, version 2 and 3): the header, the metadata
// key/value pairs, the tensor table and the tensor data, read from a memory map and validated as
// strictly as the safetensors reader: every length and count against the bytes that remain, array
// nesting, dimension counts (at most 4) and element-count overflow, the alignment (a power of two),
// each tensor's offset aligned and, for the types ftrain can dequantise, its bytes inside the file.
// Errors name the file, the key or the tensor, and the byte offset.
//
// Layout facts: little-endian; "GGUF", u32 version, u64 tensor count, u64 key/value count; a key is a
// u64-length string, then a u32 value type (u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64 =
// 0..12; an array is u32 element type, u64 count, elements); a tensor is a name, u32 dimension count,
// u64 dimensions innermost first (ggml's ne), u32 ggml type, u64 offset into the data section, which
// starts at the first multiple of general.alignment (32 by default) after the table.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/config.h"

namespace ft::io {

class MappedFile;  // io/mapped_file.h

// ggml tensor types by their numbers in the format.
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30 };

// "Q4_K" for the types ggml defines (ftrain dequantises F32, F16, BF16, Q8_0, Q4_0, Q4_1), or
// "unknown type 99".
std::string ggml_type_name(uint32_t type);
// Whether ftrain dequantises this type.
bool ggml_type_supported(uint32_t type);

struct GgufTensorInfo {
  std::string name;
  uint32_t type = 0;
  std::vector<uint64_t> ne;  // dimensions as stored: innermost first
  uint64_t offset = 0;       // from the start of the data section
  uint64_t nbytes = 0;       // 0 for a type ftrain does not dequantise (its size is not checked)
  // torch's shape: the dimensions reversed (ne[0] is the row length).
  Shape shape() const;
  int64_t numel() const;
};

struct GgufLayout {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // file offset of the data section
  Json metadata;             // key -> value: numbers, booleans, strings and arrays of them
  std::vector<GgufTensorInfo> tensors;  // in the file's order
};
// Parses and validates the layout of a GGUF file held in memory; `path` names it in errors.
GgufLayout parse_gguf(const uint8_t* data, uint64_t size, const std::string& path);

// Dequantises n values (a multiple of the type's block, 32 for the Q types) of a supported type.
void dequantize_ggml(uint32_t type, const uint8_t* src, float* dst, int64_t n);

class GgufReader {
 public:
  explicit GgufReader(const std::string& path);
  ~GgufReader();
  GgufReader(const GgufReader&) = delete;
  GgufReader& operator=(const GgufReader&) = delete;

  const std::string& path() const { return path_; }
  const GgufLayout& layout() const { return layout_; }
  const Json& metadata() const { return layout_.metadata; }
  const std::vector<GgufTensorInfo>& tensors() const { return layout_.tensors; }
  const GgufTensorInfo* find(const std::string& name) const;  // nullptr when absent
  // The tensor dequantised to an f32 CPU tensor of torch's shape; an unsupported type is an error
  // naming the tensor and the type.
  Tensor load_f32(const std::string& name) const;

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
  const uint8_t* map_ = nullptr;
  GgufLayout layout_;
};

}  // namespace ft::io
