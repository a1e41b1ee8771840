// Storage: a reference-counted byte buffer on one device, obtained from that device's Allocator.
// Allocators are registered per device type; the CPU one is built in (64-byte aligned host memory),
// the CUDA backend registers its caching allocator, tests may install checking allocators.
#pragma once
#include <cstddef>
#include <memory>

#include "core/device.h"

namespace ft {

enum class CopyKind { host_to_device, device_to_host, device_to_device };

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes, Device device) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, Device device) = 0;
  // Byte copy between this allocator's memory and the host (or within its device).
  virtual void copy(void* dst, const void* src, size_t nbytes, CopyKind kind) = 0;
};

// The allocator for a device type; throws ft::Error if none is registered (no CUDA in this build).
Allocator& allocator_for(DeviceType type);
// Installs `a` for `type` and returns the previous one (nullptr if none). Not thread-safe: call at
// start-up or in tests while no tensors are being created.
Allocator* set_allocator(DeviceType type, Allocator* a);
// The built-in aligned host allocator.
Allocator& default_cpu_allocator();

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  Allocator& allocator() const { return *allocator_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace ft
