// A stand-in for a full or read-only file system, for tests where mount(2) is not permitted:
// LD_PRELOAD=libft_fault_inject.so with FT_FAULT_DIR=<dir> and
//   FT_FAULT=enospc:<bytes>  writes to files opened under <dir> fail with ENOSPC once <bytes> have
//                            been written there in all (a disk with that much free space);
//   FT_FAULT=erofs           opening a file for writing, creating a directory, renaming or removing
//                            under <dir> fails with EROFS.
// Only the calls ftrain's writers make are covered (open, write, mkdir, rename, unlink); glibc's
// fopen opens files through internal calls no preload sees, so stdio writes are not failed.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

int watched[65536];
long long budget = -1;  // bytes left; -1: no ENOSPC fault
int readonly;
const char* dir;
size_t dir_len;

void init() {
  static bool done = false;
  if (done) return;
  done = true;
  dir = getenv("FT_FAULT_DIR");
  const char* f = getenv("FT_FAULT");
  if (!dir || !f) return;
  dir_len = strlen(dir);
  if (strncmp(f, "enospc:", 7) == 0) budget = atoll(f + 7);
  readonly = strcmp(f, "erofs") == 0;
}

int under(const char* path) {
  init();
  if (!dir || !path) return 0;
  if (path[0] != '/') return 0;  // the tests pass absolute paths
  return strncmp(path, dir, dir_len) == 0 && (path[dir_len] == '/' || path[dir_len] == 0);
}

int track(int fd, const char* path, int flags) {
  if (fd >= 0 && fd < 65536) watched[fd] = under(path) && (flags & (O_WRONLY | O_RDWR));
  return fd;
}

constexpr int kWriteFlags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  static const auto next = real<int (*)(const char*, int, ...)>("open");
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  init();
  if (readonly && (flags & kWriteFlags) && under(path)) {
    errno = EROFS;
    return -1;
  }
  return track(next(path, flags, mode), path, flags);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;
  va_end(ap);
  return open(path, flags, mode);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static const auto next = real<ssize_t (*)(int, const void*, size_t)>("write");
  init();
  if (budget >= 0 && fd >= 0 && fd < 65536 && watched[fd]) {
    if (static_cast<long long>(n) > budget) {
      if (budget == 0) {
        errno = ENOSPC;
        return -1;
      }
      n = static_cast<size_t>(budget);  // a short write, then ENOSPC, as a file system does
    }
    const ssize_t w = next(fd, buf, n);
    if (w > 0) budget -= w;
    return w;
  }
  return next(fd, buf, n);
}

int mkdir(const char* path, mode_t mode) {
  static const auto next = real<int (*)(const char*, mode_t)>("mkdir");
  init();
  if (readonly && under(path)) {
    errno = EROFS;
    return -1;
  }
  return next(path, mode);
}

int rename(const char* from, const char* to) {
  static const auto next = real<int (*)(const char*, const char*)>("rename");
  init();
  if (readonly && (under(from) || under(to))) {
    errno = EROFS;
    return -1;
  }
  return next(from, to);
}

int unlink(const char* path) {
  static const auto next = real<int (*)(const char*)>("unlink");
  init();
  if (readonly && under(path)) {
    errno = EROFS;
    return -1;
  }
  return next(path);
}

}  // extern "C"
