// Gathers, scatters and joins: embedding, index_select, index_scatter, one_hot, concat, stack.
// Backward scatter-adds run in index order (kernels/cpu/indexing.cpp), so repeated indices give
// bitwise-deterministic gradients.
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// Indices as a contiguous i64 tensor on their device, each checked against [0, limit) by the
// backend: at once on the CPU, on the device otherwise (the first bad index is reported by
// raise_deferred_errors, and the kernels that use the indices skip it meanwhile).
Tensor checked_indices(const Tensor& ids, int64_t limit, const char* op) {
  FT_CHECK(ids.dtype() == DType::i64 || ids.dtype() == DType::i32, op, ": indices must be i64 or i32, got ",
           ids.dtype());
  Tensor i = ids.to(DType::i64).contiguous();
  kern::IndexCheck c;
  c.op = op;
  backend_of(op, {&i}).check_indices(i.data<int64_t>(), i.numel(), limit, c);
  return i;
}

// Rows of `src` ([count, width]) added into a zero [rows, width] table at `idx`.
Tensor scatter_rows(const Tensor& src, const Tensor& idx, int64_t rows, int64_t skip) {
  const int64_t count = idx.numel(), width = count ? src.numel() / count : 0;
  Tensor table = zeros({rows, width}, like(src));
  Tensor s = src.contiguous();
  compute_backend("scatter_add", {&s, &idx})
      .scatter_add_rows(elem_of(s), s.raw_data(), idx.data<int64_t>(), count, width, skip, table.raw_data(), rows);
  return table;
}

// out[i] = table[idx[i]] over whole rows (any dtype).
Tensor gather(const Tensor& table, const Tensor& idx, const char* op) {
  const int64_t rows = table.size(0), width = rows ? table.numel() / rows : 0;
  Tensor t = table.contiguous();
  Tensor out = empty({idx.numel(), width}, like(table));
  backend_of(op, {&t, &idx}).gather_rows(t.raw_data(), rows, idx.data<int64_t>(), idx.numel(),
                                         width * static_cast<int64_t>(dtype_size(table.dtype())), out.raw_data());
  return out;
}

}  // namespace

Tensor embedding(const Tensor& ids, const Tensor& weight, int64_t padding_idx) {
  backend_of("embedding", {&ids, &weight});
  FT_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, dim], got ",
           shape_str(weight.shape()));
  const int64_t rows = weight.size(0), width = weight.size(1);
  Tensor idx = checked_indices(ids, rows, "embedding");
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  Tensor out = gather(weight.detach(), idx, "embedding").view(out_shape);
  return attach(out, "embedding", {Tensor(), weight}, [idx, rows, width, padding_idx](const Tensor& g, const Needs&) {
    return Grads{Tensor(), scatter_rows(g.reshape({-1, width}), idx, rows, padding_idx)};
  });
}

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  backend_of("index_select", {&a, &index});
  FT_CHECK(index.dim() <= 1, "index_select: index must be 0-D or 1-D, got ", shape_str(index.shape()));
  FT_CHECK(a.dim() >= 1, "index_select: input must have at least one dim");
  const int64_t d = wrap_dim(dim, a.dim(), "index_select");
  const int64_t size = a.size(d);
  Tensor idx = checked_indices(index, size, "index_select");
  // Bring `dim` to the front, gather whole rows, move it back.
  Tensor front = a.detach().transpose(0, d).contiguous();
  Shape front_shape = front.shape();
  front_shape[0] = idx.numel();
  Tensor out = gather(front, idx, "index_select").view(front_shape).transpose(0, d).contiguous();
  Shape fshape = front.shape();
  return attach(out, "index_select", {a}, [idx, d, fshape](const Tensor& g, const Needs&) {
    Tensor gf = g.transpose(0, d).contiguous();
    return Grads{scatter_rows(gf, idx, fshape[0], -1).view(fshape).transpose(0, d).contiguous()};
  });
}

Tensor index_scatter(const Tensor& src, int64_t rows, const Tensor& index) {
  backend_of("index_scatter", {&src, &index});
  FT_CHECK(index.dim() == 1, "index_scatter: index must be 1-D, got ", shape_str(index.shape()));
  FT_CHECK(src.dim() >= 1 && src.size(0) == index.numel(), "index_scatter: src ", shape_str(src.shape()),
           " must have one row per index (", index.numel(), ")");
  FT_CHECK(rows >= 0, "index_scatter: the row count must not be negative, got ", rows);
  Tensor idx = checked_indices(index, rows, "index_scatter");
  Shape shape = src.shape();
  shape[0] = rows;
  // On the CPU, distinct indices (BERT's attended rows) only place rows: a gather from src with one
  // zero row appended, by the inverse index, copies bytes in any dtype. Repeated indices add. A
  // device adds always: the indices stay there (reading them would make the host wait).
  const bool host_side = idx.device().type == DeviceType::cpu;
  const std::vector<int64_t> host = host_side ? idx.to_vector<int64_t>() : std::vector<int64_t>{};
  std::vector<int64_t> inverse(static_cast<size_t>(host_side ? rows : 0), static_cast<int64_t>(host.size()));
  bool distinct = host_side;
  for (size_t i = 0; i < host.size() && distinct; ++i) {
    distinct = inverse[static_cast<size_t>(host[i])] == static_cast<int64_t>(host.size());
    inverse[static_cast<size_t>(host[i])] = static_cast<int64_t>(i);
  }
  Tensor out;
  if (!idx.numel()) {
    out = zeros(shape, like(src));
  } else if (distinct) {
    const int64_t width = src.numel() / src.size(0);
    Tensor padded = concat({src.detach().reshape({src.size(0), width}), zeros({1, width}, like(src))}, 0);
    out = gather(padded, from_vector_i64(inverse, {rows}).to(src.device()), "index_scatter").view(shape);
  } else {
    out = scatter_rows(src.detach(), idx, rows, -1).view(shape);
  }
  return attach(out, "index_scatter", {src}, [idx](const Tensor& g, const Needs&) {
    return Grads{index_select(g, 0, idx)};
  });
}

Tensor one_hot(const Tensor& ids, int64_t num_classes) {
  backend_of("one_hot", {&ids});
  FT_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  const Tensor checked = checked_indices(ids, num_classes, "one_hot");
  Shape shape = ids.shape();
  shape.push_back(num_classes);
  if (checked.device().type != DeviceType::cpu) {  // on the device: ids == [0, 1, ..., n)
    const Tensor classes = arange(0, static_cast<double>(num_classes), 1, DType::i64).to(ids.device());
    return eq(checked.reshape(ids.shape()).unsqueeze(-1), classes).to(DType::i64);
  }
  const std::vector<int64_t> idx = checked.to_vector<int64_t>();
  std::vector<int64_t> host(static_cast<size_t>(shape_numel(shape)), 0);
  for (size_t k = 0; k < idx.size(); ++k) host[k * num_classes + idx[k]] = 1;
  return from_vector_i64(host, shape).to(ids.device());
}

Tensor concat(const std::vector<Tensor>& ts, int64_t dim) {
  FT_CHECK(!ts.empty(), "concat: expects at least one tensor");
  const Tensor& first = ts[0];
  const int64_t d = wrap_dim(dim, first.dim(), "concat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    backend_of("concat", {&first, &ts[i]});
    check_same_dtype("concat", first, ts[i]);
    FT_CHECK(ts[i].dim() == first.dim(), "concat: tensor ", i, " has shape ", shape_str(ts[i].shape()),
             ", expected rank ", first.dim());
    for (int64_t k = 0; k < first.dim(); ++k)
      FT_CHECK(k == d || ts[i].shape()[k] == first.shape()[k], "concat: tensor ", i, " has shape ",
               shape_str(ts[i].shape()), ", which does not match ", shape_str(first.shape()),
               " outside dim ", d);
    shape[d] += ts[i].shape()[d];
  }
  Tensor out = empty(shape, like(first));
  std::vector<int64_t> offsets;
  int64_t off = 0;
  {
    NoGradGuard ng;
    for (const Tensor& t : ts) {
      offsets.push_back(off);
      out.narrow(d, off, t.shape()[d]).copy_(t);
      off += t.shape()[d];
    }
  }
  std::vector<int64_t> lengths;
  for (const Tensor& t : ts) lengths.push_back(t.shape()[d]);
  return attach(out, "concat", ts, [d, offsets, lengths](const Tensor& g, const Needs& need) {
    Grads grads(offsets.size());
    for (size_t i = 0; i < offsets.size(); ++i)
      if (need[i]) grads[i] = g.narrow(d, offsets[i], lengths[i]);
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  FT_CHECK(!ts.empty(), "stack: expects at least one tensor");
  const int64_t d = wrap_dim(dim, ts[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < ts.size(); ++i) {
    FT_CHECK(ts[i].shape() == ts[0].shape(), "stack: tensor ", i, " has shape ", shape_str(ts[i].shape()),
             ", expected ", shape_str(ts[0].shape()));
    parts.push_back(ts[i].unsqueeze(d));
  }
  return concat(parts, d);
}

}  // namespace ft
