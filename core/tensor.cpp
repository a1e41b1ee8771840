#include "core/tensor.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  FT_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " out of range for a tensor of rank ", ndim);
  return dim < 0 ? dim + n : dim;
}

// ---- helpers shared with op files (core/dispatch.h) ----

Backend& backend_of(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) first = t;
    FT_CHECK(t->device() == first->device(), op, ": expected all tensors on the same device, got ",
             first->device(), " and ", t->device());
  }
  const Device d = first ? first->device() : kCPU;
  try {
    return backend_for(d);
  } catch (const Error&) {
    throw Error(cat(op, ": no backend for device ", d, " in this build"));
  }
}

Backend& compute_backend(const char* op, std::initializer_list<const Tensor*> ts) {
  Backend& b = backend_of(op, ts);
  for (const Tensor* t : ts)
    if (t->defined()) {
      b.require(op, elem_of(t->dtype()));
      break;
    }
  return b;
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  FT_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", a.dtype(), " and ", b.dtype());
}

kern::Strided strided_of(const Tensor& t) {
  kern::Strided v;
  FT_CHECK(t.dim() <= kern::kMaxDims, "tensors of rank > ", kern::kMaxDims, " are not supported");
  v.ndim = static_cast<int>(t.dim());
  for (int i = 0; i < v.ndim; ++i) v.shape[i] = t.shape()[i], v.stride[i] = t.strides()[i];
  return v;
}

kern::Strided strided_as(const Tensor& t, const Shape& as) {
  kern::Strided v;
  FT_CHECK(as.size() <= static_cast<size_t>(kern::kMaxDims), "tensors of rank > ", kern::kMaxDims,
           " are not supported");
  v.ndim = static_cast<int>(as.size());
  const int64_t lead = static_cast<int64_t>(as.size()) - t.dim();
  FT_INTERNAL(lead >= 0);
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = as[i];
    const int64_t j = i - lead;
    v.stride[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
  return v;
}

kern::Elem elem_of(DType t) {
  switch (t) {
    case DType::f32: return kern::Elem::f32;
    case DType::f64: return kern::Elem::f64;
    case DType::bf16: return kern::Elem::bf16;
    case DType::f16: return kern::Elem::f16;
    case DType::i64: return kern::Elem::i64;
    case DType::i32: return kern::Elem::i32;
    case DType::boolean: return kern::Elem::u8;
  }
  return kern::Elem::u8;
}

// ---- Tensor members ----

namespace {

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// Strides for viewing `t` as `shape` without copying, if possible: the dims of `t` split into chunks
// that are contiguous among themselves, and each chunk must map onto whole dims of the view.
bool view_strides(const Tensor& t, const Shape& shape, Shape& out) {
  const Shape& os = t.shape();
  const Shape& ost = t.strides();
  if (t.numel() == 0 || os.empty()) {
    out = contiguous_strides(shape);
    return true;
  }
  out.assign(shape.size(), 0);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_stride = ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(os.size()) - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    const bool chunk_ends = d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_stride;
      view_numel *= shape[view_d];
      view_d--;
    }
    if (view_numel != tensor_numel) return false;
    if (d > 0) {
      chunk_stride = ost[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  return view_d == -1;
}

Shape infer_shape(Shape shape, int64_t numel, const char* op) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FT_CHECK(infer < 0, op, ": only one dimension can be -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      FT_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in ", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    FT_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(shape),
             " is invalid for ", numel, " elements");
    shape[infer] = numel / known;
  }
  FT_CHECK(shape_numel(shape) == numel, op, ": shape ", shape_str(shape), " is invalid for ", numel,
           " elements");
  return shape;
}

}  // namespace

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(checked().storage->data()) + offset() * static_cast<int64_t>(dtype_size(dtype()));
}

Tensor& Tensor::requires_grad_(bool r) {
  FT_CHECK(is_leaf(), "requires_grad_() can only change leaf tensors");
  FT_CHECK(!r || is_floating(dtype()), "only floating tensors can require gradients, not ",
           dtype_name(dtype()));
  checked().requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return checked().grad ? Tensor(checked().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  FT_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient shape ", shape_str(g.shape()),
           " does not match tensor shape ", shape_str(shape()));
  checked().grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::zero_grad() const { checked().grad = nullptr; }

void Tensor::backward(const Tensor& grad) const { run_backward(*this, grad); }

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

Tensor Tensor::view(const Shape& shape_in) const {
  Shape shape = infer_shape(shape_in, numel(), "view");
  Shape st;
  FT_CHECK(view_strides(*this, shape, st), "view: cannot view a tensor of shape ", shape_str(this->shape()),
           " and strides ", shape_str(strides()), " as ", shape_str(shape), "; use reshape()");
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  return attach(out, "view", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(in_shape)};
  });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  Shape shape = infer_shape(shape_in, numel(), "reshape");
  Shape st;
  if (view_strides(*this, shape, st)) return view(shape);
  return contiguous().view(shape);
}

Tensor Tensor::permute(const Shape& dims) const {
  FT_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(),
           " dims for a tensor of rank ", dim());
  Shape shape(dims.size()), st(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    FT_CHECK(!seen[d], "permute: dim ", d, " repeated in ", shape_str(dims));
    seen[d] = true;
    shape[i] = this->shape()[d];
    st[i] = strides()[d];
    inverse[d] = static_cast<int64_t>(i);
  }
  Tensor out = make_view(*this, shape, st, offset());
  return attach(out, "permute", {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.permute(inverse)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = wrap_dim(d0, dim(), "transpose");
  d1 = wrap_dim(d1, dim(), "transpose");
  Shape p(static_cast<size_t>(dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[d0], p[d1]);
  return permute(p);
}

Tensor Tensor::t() const {
  FT_CHECK(dim() == 2, "t(): expects a 2-D tensor, got shape ", shape_str(shape()));
  return transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  FT_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = this->shape(), st = strides();
  shape[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, shape, st, offset() + start * strides()[d]);
  Shape in_shape = this->shape();
  DType dt = dtype();
  Device dev = device();
  return attach(out, "slice", {*this}, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor dx = zeros(in_shape, TensorOptions(dt).with_device(dev));
    dx.slice(d, start, end, step).copy_(g);
    return std::vector<Tensor>{dx};
  });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  FT_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow: range [", start, ", ",
           start + length, ") out of bounds for dim ", d, " of size ", shape()[d]);
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  const int64_t n = shape()[d];
  FT_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d, " of size ", n);
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& target) const {
  FT_CHECK(static_cast<int64_t>(target.size()) >= dim(), "expand: target ", shape_str(target),
           " has fewer dims than ", shape_str(shape()));
  const int64_t lead = static_cast<int64_t>(target.size()) - dim();
  Shape shape(target.size()), st(target.size());
  for (int64_t i = 0; i < static_cast<int64_t>(target.size()); ++i) {
    const int64_t j = i - lead;
    if (j < 0) {
      FT_CHECK(target[i] >= 0, "expand: size -1 is not allowed for a new leading dim");
      shape[i] = target[i], st[i] = 0;
      continue;
    }
    const int64_t cur = this->shape()[j];
    const int64_t want = target[i] == -1 ? cur : target[i];
    FT_CHECK(cur == want || cur == 1, "expand: cannot expand shape ", shape_str(this->shape()), " to ",
             shape_str(target));
    shape[i] = want;
    st[i] = cur == want ? strides()[j] : 0;
  }
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  return attach(out, "expand", {*this}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{sum_to(g, in_shape)};
  });
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape()[d] != 1) return view(shape());
  Shape shape = this->shape();
  shape.erase(shape.begin() + d);
  return view(shape);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shape = this->shape();
  shape.insert(shape.begin() + d, 1);
  return view(shape);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), TensorOptions(dtype()).with_device(device()));
  {
    NoGradGuard ng;
    out.copy_(*this);
  }
  return attach(out, "clone", {*this}, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype()) return *this;
  Tensor out = empty(shape(), TensorOptions(dt).with_device(device()));
  {
    NoGradGuard ng;
    out.copy_(*this);
  }
  if (!is_floating(dt)) return out;
  DType from = dtype();
  return attach(out, "to_dtype", {*this}, [from](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), TensorOptions(dtype()).with_device(dev));
  Allocator& a = dev.is_cpu() ? src.impl()->storage->allocator() : out.impl()->storage->allocator();
  CopyKind kind = dev.is_cpu() ? CopyKind::device_to_host
                               : (device().is_cpu() ? CopyKind::host_to_device : CopyKind::device_to_device);
  a.copy(out.raw_data(), src.raw_data(), nbytes(), kind);
  Device from = device();
  return attach(out, "to_device", {*this}, [from](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Tensor& Tensor::copy_(const Tensor& src) {
  FT_CHECK(!(grad_enabled() && requires_grad()),
           "copy_: cannot write in place into a tensor that requires a gradient while grad mode is on "
           "(use a NoGradGuard)");
  FT_CHECK(src.dim() <= dim(), "copy_: cannot broadcast ", shape_str(src.shape()), " into ",
           shape_str(shape()));
  Shape bs = broadcast_shapes(src.shape(), shape(), "copy_");
  FT_CHECK(bs == shape(), "copy_: cannot broadcast ", shape_str(src.shape()), " into ", shape_str(shape()));
  // Another device's data first moves here (a contiguous byte copy), then converts in place.
  const Tensor here = src.device() == device() ? src : src.detach().to(device());
  backend_of("copy_", {this}).copy_cast(here.raw_data(), elem_of(here.dtype()), strided_as(here, shape()),
                                        raw_data(), elem_of(dtype()), strided_of(*this));
  return *this;
}

Tensor& Tensor::fill_(double value) {
  FT_CHECK(!(grad_enabled() && requires_grad()),
           "fill_: cannot write in place into a tensor that requires a gradient while grad mode is on");
  backend_of("fill_", {this}).fill(raw_data(), elem_of(dtype()), strided_of(*this), value);
  return *this;
}

double Tensor::item() const {
  FT_CHECK(numel() == 1, "item(): expects one element, got shape ", shape_str(shape()));
  return to_vector<double>()[0];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : detach().to(kCPU);
  Tensor conv = empty(shape(), TensorOptions(DTypeOf<T>::value));
  {
    NoGradGuard ng;
    conv.copy_(host);
  }
  const T* p = conv.data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> v = t.to_vector<double>();
  const Shape& s = t.shape();
  const bool integral = is_integral(t.dtype());
  // Prints one dim at a time; long dims show their first and last 3 entries.
  std::function<void(size_t, int64_t)> rec = [&](size_t d, int64_t base) {
    if (d == s.size()) {
      if (integral) os << static_cast<int64_t>(v[base]);
      else os << std::setprecision(6) << v[base];
      return;
    }
    int64_t stride = 1;
    for (size_t k = d + 1; k < s.size(); ++k) stride *= s[k];
    os << '[';
    for (int64_t i = 0; i < s[d]; ++i) {
      if (s[d] > 6 && i == 3) {
        os << "..., ";
        i = s[d] - 3;
      }
      rec(d + 1, base + i * stride);
      if (i + 1 < s[d]) os << (d + 1 == s.size() ? ", " : ",\n ");
    }
    os << ']';
  };
  os << "tensor(";
  if (t.numel() == 0) os << "[]";
  else rec(0, 0);
  os << ", shape=" << shape_str(s) << ", dtype=" << t.dtype();
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.requires_grad()) os << ", requires_grad";
  return os << ')';
}

// ---- factories ----

Tensor empty(const Shape& shape, TensorOptions opts) {
  for (int64_t d : shape) FT_CHECK(d >= 0, "empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(opts.dtype),
                                            opts.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opts.dtype;
  Tensor t(impl);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  bool rg = opts.requires_grad;
  opts.requires_grad = false;
  Tensor t = empty(shape, opts);
  t.fill_(value);
  if (rg) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), TensorOptions(t.dtype()).with_device(t.device())); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), TensorOptions(t.dtype()).with_device(t.device())); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  FT_CHECK(step != 0, "arange: step must be non-zero");
  const double span = std::ceil((end - start) / step);
  const int64_t n = span > 0 ? static_cast<int64_t>(span) : 0;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_vector(v, {n}, opts);
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions opts) {
  FT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
           " values for shape ", shape_str(shape));
  Tensor host = from_bytes(values.data(), DType::f64, shape);
  Tensor out = host.to(opts.dtype);
  if (!opts.device.is_cpu()) out = out.to(opts.device);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

Tensor from_vector_i64(const std::vector<int64_t>& values, const Shape& shape) {
  FT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector_i64: ",
           values.size(), " values for shape ", shape_str(shape));
  return from_bytes(values.data(), DType::i64, shape);
}

Tensor from_bytes(const void* data, DType dtype, const Shape& shape) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memcpy(t.raw_data(), data, t.nbytes());
  return t;
}

Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }

namespace {
Tensor random_tensor(const Shape& shape, TensorOptions opts, Generator* gen, bool normal) {
  Generator& g = gen ? *gen : default_generator();
  // Drawn on the target device in f32 (every device computes the same Philox values), then converted.
  Tensor f = empty(shape, TensorOptions(DType::f32).with_device(opts.device));
  const int64_t n = f.numel();
  const uint64_t off = g.advance(static_cast<uint64_t>(n));
  backend_for(opts.device).philox_fill(g.seed(), off, n, normal, f.data<float>());
  bool rg = opts.requires_grad;
  Tensor out = f.to(opts.dtype);
  if (rg) out.requires_grad_(true);
  return out;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) {
  return random_tensor(shape, opts, gen, false);
}
Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) {
  return random_tensor(shape, opts, gen, true);
}

}  // namespace ft
