// im2col and col2im over NCHW data (kernels/common/unfold.h): a thread per cols element gathers its
// input (or the pad value); a thread per input element sums the cols entries that read it in a fixed
// order, so the backward needs no atomics and gives the same bits on every run.
#include "kernels/common/unfold.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

template <class T>
__global__ void im2col_kernel(const T* x, kern::UnfoldGeom g, Acc<T> pad, T* cols) {
  FT_GRID_LOOP(e, g.cols_numel()) {
    const int64_t s = g.source(e);
    st(cols + e, s < 0 ? pad : ld(x + s));
  }
}

template <class T>
__global__ void col2im_kernel(const T* cols, kern::UnfoldGeom g, T* dx) {
  FT_GRID_LOOP(e, g.input_numel()) {
    st(dx + e, kern::col2im_at<Acc<T>>(g, e, cols, [](const T* p) { return ld(p); }));
  }
}

}  // namespace

void im2col(Elem t, const void* x, const kern::UnfoldGeom& g, double pad, void* cols) {
  if (g.cols_numel() == 0) return;
  on_float(t, "im2col", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(im2col_kernel<T>, dim3(blocks_for(g.cols_numel())), dim3(kThreads), 0, stream(),
                 static_cast<const T*>(x), g, static_cast<Acc<T>>(pad), static_cast<T*>(cols));
  });
}

void col2im(Elem t, const void* cols, const kern::UnfoldGeom& g, void* dx) {
  if (g.input_numel() == 0) return;
  on_float(t, "col2im", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(col2im_kernel<T>, dim3(blocks_for(g.input_numel())), dim3(kThreads), 0, stream(),
                 static_cast<const T*>(cols), g, static_cast<T*>(dx));
  });
}

}  // namespace ft::cuda
