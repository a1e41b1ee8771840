// Writes a file so that a crash never leaves it half-written: the content goes to a temporary file
// beside PATH (PATH.tmp-<pid>, so two processes never share one), which is flushed, fsync'ed, closed
// and renamed over PATH (atomic on POSIX file systems); the directory is synced after the rename. On
// failure the temporary file is removed, PATH is untouched, and an ft::Error names the file and the
// system's reason ("No space left on device", "Read-only file system", ...).
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace ft::io {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// fsync of a directory, so that renames and new entries in it survive a power loss (best effort).
void sync_directory(const std::string& dir);

}  // namespace ft::io
