// Tensor = Storage + layout (shape, strides in elements, offset) + dtype + autograd metadata.
// A Tensor is a handle: copies share the same TensorImpl (as torch.Tensor objects share a tensor).
// Views (view/reshape, permute, transpose, narrow/slice, select, expand, squeeze, unsqueeze) share
// the storage; contiguous() copies only when the layout is not already row-major dense.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random.h"
#include "core/storage.h"

namespace ft {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

class Node;
struct TensorImpl {
  StoragePtr storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // Autograd metadata.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // leaf gradients accumulate here
  std::shared_ptr<Node> grad_fn;     // null for leaves and for tensors that need no gradient
  // A leaf's post-accumulate hook: runs once per backward pass, when the pass has added its last
  // contribution to `grad` (PyTorch's register_post_accumulate_grad_hook; data parallelism's buckets).
  std::function<void()> grad_ready;
};

struct TensorOptions {
  DType dtype = DType::f32;
  Device device = kCPU;
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}  // NOLINT: implicit, so zeros(shape, DType::f64) reads well
  TensorOptions& with_device(Device d) { device = d; return *this; }
  TensorOptions& with_requires_grad(bool r = true) { requires_grad = r; return *this; }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // Layout.
  const Shape& shape() const { return checked().shape; }
  const Shape& strides() const { return checked().strides; }
  int64_t offset() const { return checked().offset; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Element pointers (at the tensor's offset). data<T>() checks that T matches the dtype.
  void* raw_data() const;
  template <class T>
  T* data() const {
    FT_CHECK(DTypeOf<T>::value == dtype(), "data<", dtype_name(DTypeOf<T>::value), ">() on a ",
             dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
  }

  // Autograd.
  bool requires_grad() const { return checked().requires_grad; }
  Tensor& requires_grad_(bool r = true);  // leaves only
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // sets .grad to undefined, as PyTorch's set_to_none
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  // Back-propagates from this tensor: a scalar, or any shape with `grad` given (same shape).
  void backward(const Tensor& grad = Tensor()) const;
  Tensor detach() const;  // same storage and layout, no autograd history

  // Views (differentiable).
  Tensor view(const Shape& shape) const;     // must be expressible over the current strides
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor flatten() const { return reshape({-1}); }
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size; new leading dims allowed
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;

  // Copies and conversions (differentiable for floating types).
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  // In-place copy with broadcasting and dtype conversion; not recorded by autograd, so it refuses
  // to write into a tensor that requires a gradient while grad mode is on.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);

  // Host access (copies for non-CPU tensors).
  double item() const;  // one element
  template <class T>
  std::vector<T> to_vector() const;  // row-major, converted to T

  std::string str() const;  // printing, PyTorch-like, truncated

 private:
  TensorImpl& checked() const {
    FT_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Normalises a possibly negative dim against a rank; names the op in the error.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// Factories.
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor arange(double start, double end, double step = 1, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// From host values (converted to opts.dtype); values.size() must equal the shape's element count.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions opts = {});
Tensor from_vector_i64(const std::vector<int64_t>& values, const Shape& shape);
Tensor from_bytes(const void* data, DType dtype, const Shape& shape);  // copies raw little-endian bytes
Tensor scalar_tensor(double value, TensorOptions opts = {});
// Uniform in (0, 1] and standard normal, from the Philox stream of `gen` (the default generator when
// none is given). Values are generated in f32 and converted, so every dtype sees the same draw.
Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);

}  // namespace ft
