// Row gathers (any element type, byte copies) and deterministic scatter-adds: a thread per column
// adds the rows in index order, so repeated indices give the same bits on every run.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

__global__ void gather_kernel(const uint8_t* table, const int64_t* idx, int64_t count, int64_t row_bytes, uint8_t* out) {
  FT_GRID_LOOP(j, count * row_bytes) {
    const int64_t row = j / row_bytes, byte = j % row_bytes;
    out[j] = table[idx[row] * row_bytes + byte];
  }
}

template <class T>
__global__ void scatter_add_kernel(const T* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                                   T* table) {
  FT_GRID_LOOP(col, width) {
    for (int64_t i = 0; i < count; ++i) {
      if (idx[i] == skip) continue;
      T* d = table + idx[i] * width + col;
      st(d, ld(d) + ld(src + i * width + col));
    }
  }
}

}  // namespace

void gather_rows(const void* table, const int64_t* idx, int64_t count, int64_t row_bytes, void* out) {
  if (count * row_bytes == 0) return;
  simt::launch(gather_kernel, dim3(blocks_for(count * row_bytes)), dim3(kThreads), 0, stream(),
               static_cast<const uint8_t*>(table), idx, count, row_bytes, static_cast<uint8_t*>(out));
}

void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                      void* table) {
  if (width == 0) return;
  on_float(t, "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(scatter_add_kernel<T>, dim3(blocks_for(width)), dim3(kThreads), 0, stream(), static_cast<const T*>(src),
                 idx, count, width, skip, static_cast<T*>(table));
  });
}

}  // namespace ft::cuda
