// A checking CPU allocator for the op harness: every allocation is surrounded by guard bytes and
// filled with 0xFF (a NaN pattern for floats) so that an out-of-bounds write is caught when the
// block is freed (or checked) and an output element a kernel forgets to write shows up as NaN.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/storage.h"

namespace ft::test {

class GuardAllocator final : public Allocator {
 public:
  static constexpr size_t kGuard = 64;
  void* allocate(size_t nbytes, Device device) override;
  void deallocate(void* ptr, size_t nbytes, Device device) override;
  void copy(void* dst, const void* src, size_t nbytes, CopyKind kind) override;
  // Guard-byte violations seen so far (checked at every deallocation).
  int64_t violations() const { return violations_; }
  void reset() { violations_ = 0; }

 private:
  int64_t violations_ = 0;
};

// The process-wide instance (it outlives every tensor it allocated).
GuardAllocator& guard_allocator();

// Installs the guard allocator for the CPU for the lifetime of the scope.
class ScopedGuardAllocator {
 public:
  ScopedGuardAllocator();
  ~ScopedGuardAllocator();
  GuardAllocator& get() { return guard_allocator(); }

 private:
  Allocator* prev_;
};

}  // namespace ft::test
