// The device memory allocator: blocks are cached by rounded size and reused, so steady-state
// training does no cudaMalloc. A freed block is reused in issue order, which is safe while each host
// thread issues its work to one stream (the engine's model); cross-stream reuse would need events. Out of memory first releases the cache and retries, then raises an
// ft::Error naming the request and the current usage.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

#include "core/storage.h"

namespace ft {

struct DeviceMemoryStats {
  size_t allocated = 0;       // bytes in live tensors (rounded sizes)
  size_t reserved = 0;        // allocated + cached
  size_t peak_allocated = 0;
  size_t device_mallocs = 0;  // calls that reached the runtime
};

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, Device device) override;
  void deallocate(void* ptr, size_t nbytes, Device device) override;
  void copy(void* dst, const void* src, size_t nbytes, CopyKind kind) override;
  DeviceMemoryStats stats() const;
  void empty_cache();  // returns cached blocks to the runtime
  static size_t round_size(size_t n);

 private:
  mutable std::mutex m_;
  std::map<size_t, std::vector<void*>> free_;  // rounded size -> cached blocks
  DeviceMemoryStats stats_;
};

}  // namespace ft
