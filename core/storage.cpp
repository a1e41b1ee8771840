#include "core/storage.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace ft {
namespace {

class CpuAllocator final : public Allocator {
 public:
  // Training allocates and frees the same large activations every step. glibc serves blocks above
  // its mmap threshold (dynamic, at most 32 MB) with fresh mappings, and trims the heap top: every
  // step then pays page faults and zeroing in the kernel (3-5% of a BERT step in perf, in
  // exc_page_fault and memcg charging). Keeping them in the heap makes a freed block reusable.
  CpuAllocator() {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  void* allocate(size_t nbytes, Device) override {
    // 64-byte alignment: whole cache lines and any SIMD width; never size 0 for aligned_alloc.
    size_t rounded = (nbytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    FT_CHECK(p != nullptr, "out of host memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t, Device) override { std::free(ptr); }
  void copy(void* dst, const void* src, size_t nbytes, CopyKind) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
};

Allocator* g_allocators[2] = {&default_cpu_allocator(), nullptr};

}  // namespace

Allocator& default_cpu_allocator() {
  static CpuAllocator a;
  return a;
}

Allocator& allocator_for(DeviceType type) {
  Allocator* a = g_allocators[static_cast<int>(type)];
  FT_CHECK(a != nullptr, "no allocator for device type ",
           type == DeviceType::cuda ? "cuda" : "cpu",
           ": this build has no CUDA backend, or no GPU is present");
  return *a;
}

Allocator* set_allocator(DeviceType type, Allocator* a) {
  Allocator* prev = g_allocators[static_cast<int>(type)];
  g_allocators[static_cast<int>(type)] = a;
  return prev;
}

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(&allocator_for(device.type)) {
  data_ = allocator_->allocate(nbytes, device);
}

Storage::~Storage() { allocator_->deallocate(data_, nbytes_, device_); }

}  // namespace ft
