// The CUDA runtime layer the engine uses: raw device memory, copies, synchronisation. Every call is
// checked; a failure throws ft::Error with the call, its arguments and the runtime's message. Two
// implementations: kernels/cuda/runtime_cuda.cpp (the CUDA runtime) and kernels/simt/runtime_emu.cpp
// (host memory with a registry that bounds-checks every copy, for the SIMT emulator).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ft::cuda {

enum class Copy { host_to_device, device_to_host, device_to_device };

const char* runtime_name();  // "cuda" or "simt-emulator"
int device_count();  // the emulator has SIMT_DEVICES of them (default 1)
// The process's device: ftrain runs one CUDA device per process (one process per device, as data
// parallelism launches it). select_device makes device `index` current for every host thread that
// calls this layer (the runtime's current device is per thread); before any call it is device 0.
void select_device(int index);
int selected_device();
void* device_malloc(size_t bytes);  // returns nullptr when the device is out of memory
void device_free(void* p);
void copy(void* dst, const void* src, size_t bytes, Copy kind);
void synchronize();

// Streams and events. Kernel launchers and GEMMs go to the current stream of the calling host
// thread (the default stream unless set). In the emulator a stream runs work when it is enqueued,
// so the order is always the issue order, and an event's time is the host clock at record time.
struct Stream;
struct Event;
Stream* stream_create();
void stream_destroy(Stream* s);
void stream_synchronize(Stream* s);
void stream_wait_event(Stream* s, Event* e);
void set_current_stream(Stream* s);  // nullptr = the default stream
Stream* current_stream();
Event* event_create();
void event_destroy(Event* e);
void event_record(Event* e, Stream* s);
void event_synchronize(Event* e);
float event_elapsed_ms(Event* start, Event* end);
void copy_async(void* dst, const void* src, size_t bytes, Copy kind, Stream* s);

// The host waits this layer has issued since the process started: device-to-host copies (the host
// reads a result, so it waits for the device) and explicit synchronisations (device, stream and
// event). Tests bound them per training step; host-to-device copies are counted apart.
struct SyncCounts {
  int64_t device_to_host = 0, synchronize = 0, host_to_device = 0;
  int64_t waits() const { return device_to_host + synchronize; }
};
SyncCounts sync_counts();

// Page-locked host memory (fast, asynchronous host/device copies); nullptr when none is left.
void* pinned_malloc(size_t bytes);
void pinned_free(void* p);
// Emulator only (no-ops on a GPU): throws unless [p, p + bytes) lies inside one live allocation.
void check_device_range(const void* p, size_t bytes, const char* what);
// Emulator only: the caching allocator reports how many bytes of block p are in use (0 while the
// block sits in the cache), so range checks are exact per tensor and a cached block is untouchable.
void note_extent(void* p, size_t bytes);

}  // namespace ft::cuda
