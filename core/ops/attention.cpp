// scaled_dot_product_attention: one op, two implementations. The composite (matmul, scale, mask,
// softmax, dropout, matmul) is the definition and runs on every device; the fused CPU kernel
// (kernels/cpu/attention.cpp) computes the same thing without materialising the score matrix and
// has its own backward. The op harness checks both against the reference, forward and backward.
#include <cmath>

#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

Tensor attention_composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                           bool training, Generator* gen) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = mul(matmul(q, k.transpose(-1, -2)), scale);
  if (mask.defined()) scores = add(scores, mask);
  return matmul(dropout(softmax(scores, -1), dropout_p, training, gen), v);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    double dropout_p, bool training, Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  Backend& be = compute_backend(op, {&q, &k, &v, &mask});
  FT_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op, ": q, k, v must be [batch, heads, seq, dim], got ",
           shape_str(q.shape()), ", ", shape_str(k.shape()), ", ", shape_str(v.shape()));
  const int64_t b = q.size(0), h = q.size(1), tq = q.size(2), d = q.size(3), tk = k.size(2);
  FT_CHECK(k.size(0) == b && k.size(1) == h && k.size(3) == d && v.shape() == k.shape(), op, ": k ",
           shape_str(k.shape()), " and v ", shape_str(v.shape()), " do not match q ", shape_str(q.shape()));
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  if (!be.has_fused_attention() || (training && dropout_p > 0)) return attention_composite(q, k, v, mask, dropout_p, training, gen);
  Shape full{b, h, tq, tk};
  kern::Strided mv;
  Tensor m;
  if (mask.defined()) {
    check_same_dtype(op, q, mask);
    FT_CHECK(broadcast_shapes(mask.shape(), full, op) == full, op, ": mask ", shape_str(mask.shape()),
             " does not broadcast to ", shape_str(full));
    m = mask.detach();
    mv = strided_as(m, full);
  }
  Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
  Tensor out = empty({b, h, tq, d}, like(q)), lse = empty({b * h * tq}, like(q));
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  be.attention_fwd(elem_of(q), qc.raw_data(), kc.raw_data(), vc.raw_data(), ptr(m), mv, b * h, h, tq, tk, d, scale,
                   out.raw_data(), lse.raw_data());
  Tensor o = out.detach();
  return attach(out, op, {q, k, v, Tensor()},
                [qc, kc, vc, m, mv, o, lse, b, h, tq, tk, d, scale](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    std::vector<Tensor> grads(4);
    if (need[0]) grads[0] = empty(qc.shape(), like(qc));
    if (need[1]) grads[1] = empty(kc.shape(), like(kc));
    if (need[2]) grads[2] = empty(vc.shape(), like(vc));
    backend_of("scaled_dot_product_attention_backward", {&qc})
        .attention_bwd(elem_of(qc), qc.raw_data(), kc.raw_data(), vc.raw_data(), ptr(m), mv, o.raw_data(), gc.raw_data(),
                       lse.raw_data(), b * h, h, tq, tk, d, scale, ptr(grads[0]), ptr(grads[1]), ptr(grads[2]));
    return grads;
  });
}

}  // namespace ft
