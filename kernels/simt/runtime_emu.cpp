// The runtime layer for the SIMT emulator: "device" memory is host memory, recorded in a registry
// so that every copy (and the cuBLAS stand-in's operands) can be checked against the allocation it
// must lie in. New allocations are poisoned (0xFF: NaN for floats); freed ones too.
#include <execinfo.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "core/error.h"
#include "kernels/cuda/runtime.h"
#include "kernels/simt/emu.h"

namespace ft::cuda {
namespace {

std::mutex g_mutex;
std::atomic<int64_t> g_d2h{0}, g_sync{0}, g_h2d{0};

// SIMT_TRACE_WAITS=1 prints a backtrace at every host wait (a device-to-host copy or a
// synchronisation), to find what makes a training step wait.
void trace_wait(const char* what) {
  static const bool on = [] {
    const char* e = std::getenv("SIMT_TRACE_WAITS");
    return e && *e == '1';
  }();
  if (!on) return;
  void* frames[24];
  const int n = backtrace(frames, 24);
  std::fprintf(stderr, "[simt] host wait: %s\n", what);
  backtrace_symbols_fd(frames, n, 2);
}
struct Block {
  size_t capacity;  // bytes allocated
  size_t extent;    // bytes in use (what checks allow)
};
std::map<uintptr_t, Block>& registry() {
  static auto* r = new std::map<uintptr_t, Block>;  // outlives static destructors that free memory
  return *r;
}

// For launch arguments: p may point anywhere in [start, start + extent] of a live block (one past the
// end included, as C++ allows).
bool points_into(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = registry().upper_bound(a);
  if (it == registry().begin()) return false;
  --it;
  return a >= it->first && a <= it->first + it->second.extent;
}

void check_kernel_pointer(const void* p, int index) {
  bool ok;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    ok = points_into(p);
  }
  if (!ok)
    throw simt::Error(cat("kernel argument ", index, " (", p,
                          ") is not inside a live device allocation: a host pointer, or a freed or cached block"));
}

// Installed when this runtime is linked: every emulated launch checks its pointer arguments.
const bool g_installed = (simt::detail::set_pointer_check(&check_kernel_pointer), true);

bool inside(const void* p, size_t bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = registry().upper_bound(a);
  if (it == registry().begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second.extent;
}

}  // namespace

const char* runtime_name() { return "simt-emulator"; }
int device_count() {
  const char* n = std::getenv("SIMT_DEVICES");
  return n && std::atoi(n) > 0 ? std::atoi(n) : 1;
}
namespace {
std::atomic<int> g_device{0};
}  // namespace
void select_device(int index) {
  if (index < 0 || index >= device_count())
    throw Error(cat("select_device(", index, "): the emulator has ", device_count(), " device(s)"));
  g_device = index;
}
int selected_device() { return g_device.load(); }

void* device_malloc(size_t bytes) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded ? rounded : 256);
  if (!p) return nullptr;
  std::memset(p, 0xFF, rounded);
  std::lock_guard<std::mutex> lock(g_mutex);
  registry()[reinterpret_cast<uintptr_t>(p)] = Block{bytes, bytes};
  return p;
}

void device_free(void* p) {
  if (!p) return;
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = registry().find(reinterpret_cast<uintptr_t>(p));
    if (it == registry().end()) throw Error("device_free: pointer is not a live device allocation");
    bytes = it->second.capacity;
    registry().erase(it);
  }
  std::memset(p, 0xFF, bytes);
  std::free(p);
}

void check_device_range(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!inside(p, bytes)) throw Error(cat(what, ": ", bytes, " bytes at ", p, " are not inside one device allocation"));
}

void copy(void* dst, const void* src, size_t bytes, Copy kind) {
  if (bytes == 0) return;
  if (kind == Copy::device_to_host) ++g_d2h, trace_wait("device-to-host copy");
  if (kind == Copy::host_to_device) ++g_h2d;
  if (kind != Copy::host_to_device) check_device_range(src, bytes, "copy (source)");
  if (kind != Copy::device_to_host) check_device_range(dst, bytes, "copy (destination)");
  std::memcpy(dst, src, bytes);
}

void synchronize() { ++g_sync, trace_wait("synchronize"); }
SyncCounts sync_counts() { return SyncCounts{g_d2h.load(), g_sync.load(), g_h2d.load()}; }

namespace {
thread_local Stream* t_stream = nullptr;
}  // namespace

// A stream is an in-order queue that runs work at enqueue; an event remembers when it was recorded.
struct Stream {
  int id;
};
struct Event {
  std::chrono::steady_clock::time_point at{};
  bool recorded = false;
};

Stream* stream_create() {
  static std::atomic<int> next{1};
  return new Stream{next++};
}
void stream_destroy(Stream* s) { delete s; }
void stream_synchronize(Stream*) { ++g_sync, trace_wait("stream_synchronize"); }
void stream_wait_event(Stream*, Event* e) {
  if (!e->recorded) throw Error("stream_wait_event: the event was never recorded");
}
void set_current_stream(Stream* s) { t_stream = s; }
Stream* current_stream() { return t_stream; }
Event* event_create() { return new Event; }
void event_destroy(Event* e) { delete e; }
void event_record(Event* e, Stream*) {
  e->at = std::chrono::steady_clock::now();
  e->recorded = true;
}
void event_synchronize(Event* e) {
  ++g_sync, trace_wait("event_synchronize");
  if (!e->recorded) throw Error("event_synchronize: the event was never recorded");
}
float event_elapsed_ms(Event* start, Event* end) {
  if (!start->recorded || !end->recorded) throw Error("event_elapsed_ms: both events must be recorded");
  return std::chrono::duration<float, std::milli>(end->at - start->at).count();
}
void copy_async(void* dst, const void* src, size_t bytes, Copy kind, Stream*) { copy(dst, src, bytes, kind); }
void* pinned_malloc(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes ? 0 : 64)); }
void pinned_free(void* p) { std::free(p); }

void note_extent(void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = registry().find(reinterpret_cast<uintptr_t>(p));
  if (it == registry().end() || bytes > it->second.capacity)
    throw Error(cat("note_extent: ", bytes, " bytes at ", p, " do not fit a device allocation"));
  it->second.extent = bytes;
  if (bytes) std::memset(p, 0xFF, bytes);  // a reused block reads as NaN until written, like a fresh one
}

}  // namespace ft::cuda
