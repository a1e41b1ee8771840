// Helpers shared by op files: device and dtype checks and the switch from DType to a C++ type.
#pragma once
#include "core/tensor.h"
#include "kernels/cpu/strided.h"

namespace ft {

// Calls f(T{}) with T = float or double for the dtype; any other dtype is an "unsupported" error
// naming the op.
template <class F>
decltype(auto) dispatch_float(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default:
      throw Error(cat(op, ": unsupported dtype ", dtype_name(dt), " (f32 and f64 are supported)"));
  }
}

// Checks that every defined tensor is on the CPU (the only device with kernels in this build) and
// that all share the first one's dtype when same_dtype is set.
void check_cpu(const char* op, std::initializer_list<const Tensor*> ts);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);

// The tensor's layout as a kernel view; `as_shape` broadcasts it (zero strides) to a larger shape.
kern::Strided strided_of(const Tensor& t);
kern::Strided strided_as(const Tensor& t, const Shape& as_shape);
kern::Elem elem_of(DType t);

}  // namespace ft
