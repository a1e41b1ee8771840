#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace ft::io {

MappedFile::MappedFile(const std::string& path, const char* what) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FT_CHECK(fd_ >= 0, path, ": cannot open ", what, " file: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(cat(path, ": not a regular file"));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) return;
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    ::close(fd_);
    throw Error(cat(path, ": cannot map the file: ", std::strerror(err)));
  }
  map_ = static_cast<const uint8_t*>(m);
}

MappedFile::~MappedFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ft::io
