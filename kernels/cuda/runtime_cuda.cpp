// The runtime layer on the CUDA runtime API: every call checked, errors name the call and sizes.
#include <cuda_runtime.h>

#include <atomic>

#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace ft::cuda {
namespace {
std::atomic<int64_t> g_d2h{0}, g_sync{0}, g_h2d{0};
void count(Copy kind) {
  if (kind == Copy::device_to_host) ++g_d2h;
  if (kind == Copy::host_to_device) ++g_h2d;
}
void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw Error(cat(call, " failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e)));
}
}  // namespace

const char* runtime_name() { return "cuda"; }

namespace {
std::atomic<int> g_device{0};
// Makes the process's device current on the calling thread (cudaSetDevice is per thread).
void bind_thread() {
  thread_local int bound = -1;
  const int d = g_device.load();
  if (bound == d) return;
  check(cudaSetDevice(d), "cudaSetDevice");
  bound = d;
}
}  // namespace

void select_device(int index) {
  g_device = index;
  bind_thread();
}
int selected_device() { return g_device.load(); }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no device means zero devices
    return 0;
  }
  return n;
}

void* device_malloc(size_t bytes) {
  bind_thread();
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(e, "cudaMalloc");
  return p;
}

void device_free(void* p) { check(cudaFree(p), "cudaFree"); }

void copy(void* dst, const void* src, size_t bytes, Copy kind) {
  if (bytes == 0) return;
  bind_thread();
  count(kind);
  const cudaMemcpyKind k = kind == Copy::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == Copy::device_to_host ? cudaMemcpyDeviceToHost
                                                          : cudaMemcpyDeviceToDevice;
  if (k == cudaMemcpyHostToDevice) {
    // From pageable memory cudaMemcpy syncs the stream first; cudaMemcpyAsync stages the bytes at
    // once and returns without waiting for the device, and the source may be reused on return as
    // with cudaMemcpy. A page-locked source would be read later by the DMA, so it keeps cudaMemcpy.
    cudaPointerAttributes attr{};
    const bool pageable = cudaPointerGetAttributes(&attr, src) == cudaSuccess && attr.type == cudaMemoryTypeUnregistered;
    cudaGetLastError();
    if (pageable) {
      check(cudaMemcpyAsync(dst, src, bytes, k, reinterpret_cast<cudaStream_t>(current_stream())), "cudaMemcpyAsync");
      return;
    }
  }
  check(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
}

void synchronize() {
  ++g_sync;
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}
SyncCounts sync_counts() { return SyncCounts{g_d2h.load(), g_sync.load(), g_h2d.load()}; }

namespace {
thread_local Stream* t_stream = nullptr;
cudaStream_t raw(Stream* s) { return reinterpret_cast<cudaStream_t>(s); }
cudaEvent_t raw(Event* e) { return reinterpret_cast<cudaEvent_t>(e); }
cudaMemcpyKind kind_of(Copy kind) {
  return kind == Copy::host_to_device   ? cudaMemcpyHostToDevice
         : kind == Copy::device_to_host ? cudaMemcpyDeviceToHost
                                        : cudaMemcpyDeviceToDevice;
}
}  // namespace

Stream* stream_create() {
  bind_thread();
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  return reinterpret_cast<Stream*>(s);
}
void stream_destroy(Stream* s) { check(cudaStreamDestroy(raw(s)), "cudaStreamDestroy"); }
void stream_synchronize(Stream* s) {
  ++g_sync;
  check(cudaStreamSynchronize(raw(s)), "cudaStreamSynchronize");
}
void stream_wait_event(Stream* s, Event* e) { check(cudaStreamWaitEvent(raw(s), raw(e), 0), "cudaStreamWaitEvent"); }
void set_current_stream(Stream* s) { t_stream = s; }
Stream* current_stream() {
  bind_thread();  // every launch asks for its stream: kernels run on the process's device
  return t_stream;
}
Event* event_create() {
  cudaEvent_t e = nullptr;
  check(cudaEventCreate(&e), "cudaEventCreate");
  return reinterpret_cast<Event*>(e);
}
void event_destroy(Event* e) { check(cudaEventDestroy(raw(e)), "cudaEventDestroy"); }
void event_record(Event* e, Stream* s) { check(cudaEventRecord(raw(e), raw(s)), "cudaEventRecord"); }
void event_synchronize(Event* e) {
  ++g_sync;
  check(cudaEventSynchronize(raw(e)), "cudaEventSynchronize");
}
float event_elapsed_ms(Event* start, Event* end) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, raw(start), raw(end)), "cudaEventElapsedTime");
  return ms;
}
void copy_async(void* dst, const void* src, size_t bytes, Copy kind, Stream* s) {
  if (bytes) count(kind);
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, kind_of(kind), raw(s)), "cudaMemcpyAsync");
}
void* pinned_malloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(e, "cudaMallocHost");
  return p;
}
void pinned_free(void* p) { check(cudaFreeHost(p), "cudaFreeHost"); }

void check_device_range(const void*, size_t, const char*) {}
void note_extent(void*, size_t) {}

}  // namespace ft::cuda
