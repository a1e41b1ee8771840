// Helpers shared by op files: the device check that picks a backend, and tensor -> kernel views.
#pragma once
#include "core/backend.h"
#include "core/tensor.h"

namespace ft {

// Checks that every defined tensor is on one device and returns that device's backend.
Backend& backend_of(const char* op, std::initializer_list<const Tensor*> ts);
// backend_of, then requires the backend to compute `op` in the first tensor's dtype.
Backend& compute_backend(const char* op, std::initializer_list<const Tensor*> ts);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);

// The tensor's layout as a kernel view; `as_shape` broadcasts it (zero strides) to a larger shape.
kern::Strided strided_of(const Tensor& t);
kern::Strided strided_as(const Tensor& t, const Shape& as_shape);
kern::Elem elem_of(DType t);
inline kern::Elem elem_of(const Tensor& t) { return elem_of(t.dtype()); }
// Options for a new tensor with t's dtype and device.
inline TensorOptions like(const Tensor& t) { return TensorOptions(t.dtype()).with_device(t.device()); }
// Element pointer or nullptr for an undefined tensor.
inline void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
inline int64_t* i64_ptr(const Tensor& t) { return t.defined() ? t.data<int64_t>() : nullptr; }

}  // namespace ft
