// Row gathers (any element type, byte copies) and deterministic scatter-adds: a thread per column
// adds the rows in index order, so repeated indices give the same bits on every run. Index checks
// run on the device and record the first bad index in the device's error record, which the host
// reads once per training step (take_device_error), so no op waits for the device to validate its
// input. Gathers and scatters skip indices outside the table: a bad index is reported, never a read
// or write outside the allocation.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

__global__ void gather_kernel(const uint8_t* table, int64_t rows, const int64_t* idx, int64_t count,
                              int64_t row_bytes, uint8_t* out) {
  FT_GRID_LOOP(j, count * row_bytes) {
    const int64_t row = j / row_bytes, byte = j % row_bytes, i = idx[row];
    out[j] = i >= 0 && i < rows ? table[i * row_bytes + byte] : 0;
  }
}

template <class T>
__global__ void scatter_add_kernel(const T* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                                   T* table, int64_t rows) {
  FT_GRID_LOOP(col, width) {
    for (int64_t i = 0; i < count; ++i) {
      if (idx[i] == skip || idx[i] < 0 || idx[i] >= rows) continue;
      T* d = table + idx[i] * width + col;
      st(d, ld(d) + ld(src + i * width + col));
    }
  }
}

// The first failed check of the device (flag 0: none), written by the thread that sets the flag.
struct ErrorRecord {
  unsigned flag;
  kern::IndexCheck check;
  int64_t value, position, limit;
};

__global__ void check_indices_kernel(const int64_t* idx, int64_t n, int64_t limit, kern::IndexCheck c,
                                     ErrorRecord* rec) {
  FT_GRID_LOOP(i, n) {
    const int64_t v = idx[i];
    if ((v >= 0 && v < limit) || (c.has_skip && v == c.skip)) continue;
    if (atomicCAS(&rec->flag, 0u, 1u) == 0u) {
      rec->check = c;
      rec->value = v;
      rec->position = i;
      rec->limit = limit;
    }
  }
}

__global__ void error_flag_kernel(const ErrorRecord* rec, double* out) { *out = rec->flag ? 1.0 : 0.0; }

// The record, allocated and zeroed at first use; it lives as long as the process.
ErrorRecord* error_record() {
  static ErrorRecord* rec = [] {
    auto* r = static_cast<ErrorRecord*>(device_malloc(sizeof(ErrorRecord)));
    if (!r) throw Error("cuda: out of device memory for the error record");
    const ErrorRecord zero{};
    copy(r, &zero, sizeof(zero), Copy::host_to_device);
    return r;
  }();
  return rec;
}

}  // namespace

void gather_rows(const void* table, int64_t rows, const int64_t* idx, int64_t count, int64_t row_bytes, void* out) {
  if (count * row_bytes == 0) return;
  simt::launch(gather_kernel, dim3(blocks_for(count * row_bytes)), dim3(kThreads), 0, stream(),
               static_cast<const uint8_t*>(table), rows, idx, count, row_bytes, static_cast<uint8_t*>(out));
}

void check_indices(const int64_t* idx, int64_t n, int64_t limit, const kern::IndexCheck& c) {
  if (n == 0) return;
  simt::launch(check_indices_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), idx, n, limit, c,
               error_record());
}

void error_flag(double* out) {
  simt::launch(error_flag_kernel, dim3(1), dim3(1), 0, stream(), static_cast<const ErrorRecord*>(error_record()), out);
}

bool take_device_error(kern::IndexCheck* c, int64_t* value, int64_t* position, int64_t* limit) {
  ErrorRecord r;
  copy(&r, error_record(), sizeof(r), Copy::device_to_host);
  if (!r.flag) return false;
  const ErrorRecord zero{};
  copy(error_record(), &zero, sizeof(zero), Copy::host_to_device);
  *c = r.check, *value = r.value, *position = r.position, *limit = r.limit;
  return true;
}

void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                      void* table, int64_t rows) {
  if (width == 0) return;
  on_float(t, "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(scatter_add_kernel<T>, dim3(blocks_for(width)), dim3(kThreads), 0, stream(), static_cast<const T*>(src),
                 idx, count, width, skip, static_cast<T*>(table), rows);
  });
}

}  // namespace ft::cuda
