// A read-only memory map of a whole regular file (the safetensors and GGUF readers'). Errors name
// the file, the kind of file (`what`) and the system's reason.
#pragma once
#include <cstdint>
#include <string>

namespace ft::io {

class MappedFile {
 public:
  MappedFile(const std::string& path, const char* what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return map_; }  // null for an empty file
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ft::io
