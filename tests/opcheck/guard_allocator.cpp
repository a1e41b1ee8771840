#include "tests/opcheck/guard_allocator.h"

#include "core/error.h"

#include <cstdlib>
#include <cstring>

namespace ft::test {
namespace {
constexpr uint8_t kPattern = 0xA5;
}

void* GuardAllocator::allocate(size_t nbytes, Device) {
  // Layout: [guard][payload rounded to 64][guard]; the payload stays 64-byte aligned.
  const size_t payload = (nbytes + 63) / 64 * 64;
  auto* base = static_cast<uint8_t*>(std::aligned_alloc(64, payload + 2 * kGuard));
  if (!base) throw Error(cat("guard allocator: out of memory for ", nbytes, " bytes"));
  std::memset(base, kPattern, kGuard);
  std::memset(base + kGuard, 0xFF, nbytes);
  std::memset(base + kGuard + nbytes, kPattern, payload - nbytes + kGuard);
  return base + kGuard;
}

void GuardAllocator::deallocate(void* ptr, size_t nbytes, Device) {
  auto* base = static_cast<uint8_t*>(ptr) - kGuard;
  const size_t payload = (nbytes + 63) / 64 * 64;
  for (size_t i = 0; i < kGuard; ++i)
    if (base[i] != kPattern) {
      ++violations_;
      break;
    }
  for (size_t i = kGuard + nbytes; i < payload + 2 * kGuard; ++i)
    if (base[i] != kPattern) {
      ++violations_;
      break;
    }
  std::free(base);
}

void GuardAllocator::copy(void* dst, const void* src, size_t nbytes, CopyKind) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

GuardAllocator& guard_allocator() {
  static GuardAllocator* a = new GuardAllocator;  // never destroyed: storages may outlive main()
  return *a;
}

ScopedGuardAllocator::ScopedGuardAllocator() : prev_(set_allocator(DeviceType::cpu, &guard_allocator())) {}
ScopedGuardAllocator::~ScopedGuardAllocator() { set_allocator(DeviceType::cpu, prev_); }

}  // namespace ft::test
