// scaled_dot_product_attention: one op, two implementations. The composite (matmul, scale, mask,
// softmax, dropout, matmul) is the definition and runs on every device; a backend with a fused
// kernel (the CPU: kernels/cpu/simd for f32, kernels/cpu/attention.cpp for f64; CUDA:
// kernels/cuda/attention.cu for f32, bf16 and f16) computes the same thing, dropout included,
// without materialising the score matrix, and has its own backward. The fused kernel draws the
// composite's dropout mask: one generator advance of b*h*tq*tk values, value
// ((b*h + head)*tq + i)*tk + j for probability (i, j). q, k and v are read in place whenever their
// last dim is contiguous (BERT's per-head views of [b, t, h*d] projections), and the output and the
// gradients are laid out as [b, t, h, d] viewed as [b, h, t, d], so that merging the heads back is
// a view: no copy on either side of the kernel. Optional per-sequence lengths let the kernel skip
// the keys and query rows after each sequence (BERT's padding); the composite masks and zeroes
// them. bf16/f16 inputs without a low-precision kernel run the f32 path on widened inputs; with one
// (CUDA), the mask and the saved log-sum-exp are f32.
#include <cmath>
#include <limits>
#include <vector>

#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

Tensor attention_composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                           bool training, Generator* gen, const std::vector<int64_t>& lengths) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = mul(matmul(q, k.transpose(-1, -2)), scale);
  if (mask.defined()) scores = add(scores, mask.to(scores.dtype()));
  if (lengths.empty()) return matmul(dropout(softmax(scores, -1), dropout_p, training, gen), v);
  // lengths: keys from lengths[b] on get -inf, query rows from lengths[b] on are zeroed.
  const int64_t b = q.size(0), tq = q.size(2), tk = k.size(2);
  std::vector<double> key_mask(static_cast<size_t>(b * tk)), rows(static_cast<size_t>(b * tq));
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < tk; ++j)
      key_mask[i * tk + j] = j < lengths[i] ? 0.0 : -std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < tq; ++r) rows[i * tq + r] = r < lengths[i] ? 1.0 : 0.0;
  }
  const TensorOptions opts = TensorOptions(scores.dtype()).with_device(q.device());
  scores = add(scores, from_vector(key_mask, {b, 1, 1, tk}, opts));
  Tensor out = matmul(dropout(softmax(scores, -1), dropout_p, training, gen), v);
  return mul(out, from_vector(rows, {b, 1, tq, 1}, TensorOptions(out.dtype()).with_device(q.device())));
}

namespace {

// A [b, h, t, d] operand the kernel reads in place (unit stride along d), else a contiguous copy.
Tensor in_place_operand(const Tensor& t) {
  Tensor x = t.detach();
  return x.strides()[3] == 1 || x.size(3) == 1 ? x : x.contiguous();
}
kern::AttnStrides strides_of(const Tensor& t) { return {t.strides()[0], t.strides()[1], t.strides()[2]}; }
// An uninitialised [b, h, t, d] tensor stored as [b, t, h, d].
Tensor empty_heads_last(int64_t b, int64_t h, int64_t t, int64_t d, const Tensor& like_t) {
  return empty({b, t, h, d}, like(like_t)).permute({0, 2, 1, 3});
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    double dropout_p, bool training, Generator* gen,
                                    const std::vector<int64_t>& lengths) {
  if (autocast::enabled()) {  // autocast's low-precision list (the additive mask keeps its dtype)
    const Tensor lq = autocast::to_low(q), lk = autocast::to_low(k), lv = autocast::to_low(v);
    autocast::Disable off;
    return scaled_dot_product_attention(lq, lk, lv, mask, dropout_p, training, gen, lengths);
  }
  const char* op = "scaled_dot_product_attention";
  Backend& be = compute_backend(op, {&q, &k, &v, &mask});
  FT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op, ": q, k, v must be [batch, heads, seq, dim], got ",
           shape_str(q.shape()), ", ", shape_str(k.shape()), ", ", shape_str(v.shape()));
  const int64_t b = q.size(0), h = q.size(1), tq = q.size(2), d = q.size(3), tk = k.size(2);
  FT_CHECK(k.size(0) == b && k.size(1) == h && k.size(3) == d && v.shape() == k.shape(), op, ": k ",
           shape_str(k.shape()), " and v ", shape_str(v.shape()), " do not match q ", shape_str(q.shape()));
  FT_CHECK(dropout_p >= 0 && dropout_p <= 1, op, ": dropout probability must be in [0, 1], got ", dropout_p);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  FT_CHECK(lengths.empty() || static_cast<int64_t>(lengths.size()) == b, op, ": ", lengths.size(),
           " lengths for a batch of ", b);
  for (size_t i = 0; i < lengths.size(); ++i)
    FT_CHECK(lengths[i] >= 1, op, ": lengths[", i, "] is ", lengths[i], " (each must be at least 1)");
  const bool drop = training && dropout_p > 0;
  const bool low = q.dtype() == DType::bf16 || q.dtype() == DType::f16;
  if (low && !be.implements(kern::OptionalOp::attention, elem_of(q))) {
    // No low-precision kernel here (the CPU's is f32; CUDA's flash kernel is to come): f32 math on
    // widened inputs (the fused f32 kernel where there is one), rounded once. A bf16 composite would
    // round the scores to bf16 before the softmax, where flash kernels keep f32 statistics.
    const Tensor fmask = mask.defined() ? mask.to(DType::f32) : mask;
    return scaled_dot_product_attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32), fmask, dropout_p,
                                        training, gen, lengths)
        .to(q.dtype());
  }
  if (!be.implements(kern::OptionalOp::attention, elem_of(q)) || (drop && dropout_p == 1))
    return attention_composite(q, k, v, mask, dropout_p, training, gen, lengths);
  kern::AttentionArgs a;
  a.dtype = elem_of(q);
  a.batch = b, a.heads = h, a.tq = tq, a.tk = tk, a.d = d;
  a.scale = 1.0 / std::sqrt(static_cast<double>(d));
  // The mask and lse are in the accumulation dtype: f32 for f32, bf16 and f16 inputs, f64 for f64.
  const DType acc = q.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor m;
  if (mask.defined()) {
    if (!low) check_same_dtype(op, q, mask);
    m = mask.detach().to(acc);
    const Shape full{b, h, tq, tk};
    FT_CHECK(broadcast_shapes(mask.shape(), full, op) == full, op, ": mask ", shape_str(mask.shape()),
             " does not broadcast to ", shape_str(full));
    const kern::Strided mv = strided_as(m, full);
    for (int i = 0; i < 4; ++i) a.mask_stride[i] = mv.stride[i];
    a.mask = m.raw_data();
  }
  if (drop) {
    Generator& g = gen ? *gen : default_generator();
    a.dropout_p = dropout_p;
    a.seed = g.seed();
    a.offset = g.advance(static_cast<uint64_t>(b * h * tq * tk));
  }
  // The kernels read the lengths through a pointer into the memory of their device (a host-to-device
  // copy on CUDA); the backward's copy of the arguments keeps the tensor alive with it.
  Tensor lens;
  if (!lengths.empty()) {
    lens = from_vector_i64(lengths, {b}).to(q.device());
    a.lengths = lens.data<int64_t>();
  }
  Tensor qc = in_place_operand(q), kc = in_place_operand(k), vc = in_place_operand(v);
  a.q = qc.raw_data(), a.k = kc.raw_data(), a.v = vc.raw_data();
  a.qs = strides_of(qc), a.ks = strides_of(kc), a.vs = strides_of(vc);
  Tensor out = empty_heads_last(b, h, tq, d, q), lse = empty({b * h * tq}, TensorOptions(acc).with_device(q.device()));
  a.out = out.raw_data(), a.os = strides_of(out), a.lse = lse.raw_data();
  be.attention_fwd(a);
  const Tensor saved_out = out.detach();  // read by backwards that take delta = dO . O from it (CUDA)
  return attach(out, op, {q, k, v, Tensor()}, [qc, kc, vc, m, lse, a, lens, saved_out](const Tensor& g,
                                                                                      const std::vector<bool>& need) {
    Tensor go = in_place_operand(g);
    std::vector<Tensor> grads(4);
    if (need[0]) grads[0] = empty_heads_last(a.batch, a.heads, a.tq, a.d, qc);
    if (need[1]) grads[1] = empty_heads_last(a.batch, a.heads, a.tk, a.d, kc);
    if (need[2]) grads[2] = empty_heads_last(a.batch, a.heads, a.tk, a.d, vc);
    kern::AttentionArgs ab = a;
    ab.dout = go.raw_data(), ab.dos = strides_of(go);
    ab.dq = ptr(grads[0]), ab.dk = ptr(grads[1]), ab.dv = ptr(grads[2]);
    if (need[0]) ab.dqs = strides_of(grads[0]);
    if (need[1]) ab.dks = strides_of(grads[1]);
    if (need[2]) ab.dvs = strides_of(grads[2]);
    Backend& bwd = backend_of("scaled_dot_product_attention_backward", {&qc});
    Tensor workspace;
    if (const size_t bytes = bwd.attention_bwd_workspace(ab)) {
      workspace = empty({static_cast<int64_t>(bytes)}, TensorOptions(DType::boolean).with_device(qc.device()));
      ab.workspace = workspace.raw_data();
    }
    bwd.attention_bwd(ab);
    return grads;
  });
}

}  // namespace ft
