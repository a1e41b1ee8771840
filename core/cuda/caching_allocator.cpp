#include "core/cuda/caching_allocator.h"

#include <algorithm>

#include "core/cuda/cuda_backend.h"
#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace ft {

size_t CachingAllocator::round_size(size_t n) {
  constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
  if (n == 0) n = 1;
  return n < kLarge ? (n + kSmall - 1) / kSmall * kSmall : (n + kLarge - 1) / kLarge * kLarge;
}

void* CachingAllocator::allocate(size_t nbytes, Device device) {
  use_cuda_device(device.index);  // the process's one device (core/cuda/cuda_backend.h)
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(m_);
  auto it = free_.find(size);
  void* p = nullptr;
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    p = cuda::device_malloc(size);
    if (!p) {  // release the cache and try once more
      for (auto& [s, blocks] : free_)
        for (void* b : blocks) {
          cuda::device_free(b);
          stats_.reserved -= s;
        }
      free_.clear();
      p = cuda::device_malloc(size);
    }
    FT_CHECK(p != nullptr, "CUDA out of memory: tried to allocate ", nbytes, " bytes; ", stats_.allocated,
             " bytes allocated by tensors, ", stats_.reserved, " bytes reserved, peak ", stats_.peak_allocated);
    stats_.reserved += size;
    stats_.device_mallocs++;
  }
  stats_.allocated += size;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  cuda::note_extent(p, nbytes);
  return p;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes, Device) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(m_);
  cuda::note_extent(ptr, 0);
  free_[size].push_back(ptr);
  stats_.allocated -= size;
}

void CachingAllocator::copy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  // Tensor copies are synchronous: finish the work queued on this thread's stream first.
  if (cuda::current_stream()) cuda::stream_synchronize(cuda::current_stream());
  cuda::copy(dst, src, nbytes,
             kind == CopyKind::host_to_device   ? cuda::Copy::host_to_device
             : kind == CopyKind::device_to_host ? cuda::Copy::device_to_host
                                                : cuda::Copy::device_to_device);
}

DeviceMemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(m_);
  return stats_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(m_);
  for (auto& [s, blocks] : free_)
    for (void* b : blocks) {
      cuda::device_free(b);
      stats_.reserved -= s;
    }
  free_.clear();
}

}  // namespace ft
