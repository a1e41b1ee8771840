// Writes a file so that a crash never leaves it half-written: the content goes to PATH.tmp, which is
// flushed, closed and renamed over PATH (atomic on POSIX file systems). On failure the temporary
// file is removed, PATH is untouched, and an ft::Error names the file.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace ft::io {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace ft::io
