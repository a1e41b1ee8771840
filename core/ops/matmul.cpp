// matmul with batch broadcasting and linear (x W^T + b), through the GEMM kernel.
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// A matrix view GEMM can read directly: unit stride along one of its two dims.
struct MatArg {
  Tensor t;
  bool trans = false;
  int64_t ld = 0;
};

MatArg as_gemm_operand(const Tensor& x) {
  const int64_t nd = x.dim();
  const int64_t rows = x.shape()[nd - 2], cols = x.shape()[nd - 1];
  const int64_t rs = x.strides()[nd - 2], cs = x.strides()[nd - 1];
  if ((cs == 1 || cols == 1) && rs >= std::max<int64_t>(cols, 1)) return {x, false, rs};
  if ((rs == 1 || rows == 1) && cs >= std::max<int64_t>(rows, 1)) return {x, true, cs};
  Tensor c = x.contiguous();
  return {c, false, std::max<int64_t>(cols, 1)};
}

// Whether the leading nb (batch) dims of t step through memory with one stride (0 when broadcast),
// so that batch element i starts at i * stride.
bool batch_stride(const Tensor& t, int nb, int64_t& stride) {
  int64_t expect = -1;
  stride = 0;
  for (int d = nb - 1; d >= 0; --d) {
    const int64_t size = t.shape()[d], st = t.strides()[d];
    if (size == 1) continue;
    if (expect < 0) {
      stride = st;
      expect = st * size;
    } else {
      if (st != expect) return false;
      expect = st * size;
    }
  }
  return true;
}

// out[batch, m, n] = a[batch, m, k] @ b[batch, k, n] with broadcast batch dims (no autograd).
Tensor batched_matmul(const Tensor& a_in, const Tensor& b_in) {
  const int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  FT_CHECK(b_in.size(-2) == k, "matmul: shape mismatch: ", shape_str(a_in.shape()), " @ ",
           shape_str(b_in.shape()), " (inner dims ", k, " and ", b_in.size(-2), ")");
  const Shape ba(a_in.shape().begin(), a_in.shape().end() - 2);
  const Shape bb(b_in.shape().begin(), b_in.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  so.insert(so.end(), {m, n});
  MatArg A = as_gemm_operand(a_in.detach().expand(sa));
  MatArg B = as_gemm_operand(b_in.detach().expand(sb));
  Tensor out = empty(so, like(a_in));
  Backend& be = backend_of("matmul", {&a_in});
  const int64_t nbatch = shape_numel(batch);
  const int nb = static_cast<int>(batch.size());
  int64_t stride_a = 0, stride_b = 0;
  if (batch_stride(A.t, nb, stride_a) && batch_stride(B.t, nb, stride_b)) {
    // One strided-batched GEMM for the whole batch (cublasGemmStridedBatchedEx on CUDA).
    be.gemm_batched(elem_of(a_in), A.trans, B.trans, m, n, k, 1.0, A.t.raw_data(), A.ld, stride_a, B.t.raw_data(), B.ld,
                    stride_b, 0.0, out.raw_data(), n, m * n, nbatch);
    return out;
  }
  const int64_t es = static_cast<int64_t>(dtype_size(a_in.dtype()));
  auto* pa = static_cast<const char*>(A.t.raw_data());
  auto* pb = static_cast<const char*>(B.t.raw_data());
  auto* po = static_cast<char*>(out.raw_data());
  for (int64_t bi = 0; bi < nbatch; ++bi) {
    int64_t offa = 0, offb = 0, rem = bi;
    for (int64_t d = nb - 1; d >= 0; --d) {
      const int64_t i = rem % batch[d];
      rem /= batch[d];
      offa += i * A.t.strides()[d];
      offb += i * B.t.strides()[d];
    }
    be.gemm(elem_of(a_in), A.trans, B.trans, m, n, k, 1.0, pa + offa * es, A.ld, pb + offb * es, B.ld, 0.0,
            po + bi * m * n * es, n);
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast::enabled()) {  // autocast's low-precision list
    const Tensor la = autocast::to_low(a), lb = autocast::to_low(b);
    autocast::Disable off;
    return matmul(la, lb);
  }
  compute_backend("matmul", {&a, &b});
  check_same_dtype("matmul", a, b);
  FT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: operands must have at least one dim, got ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  // 1-D operands become matrices for the product and lose that dim after, as in NumPy.
  if (a.dim() == 1 && b.dim() == 1) return matmul(a.unsqueeze(0), b.unsqueeze(-1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  Tensor out = batched_matmul(a, b);
  if (!any_requires_grad({&a, &b})) return out;
  Tensor sa = a.detach(), sb = b.detach();
  return attach(out, "matmul", {a, b}, [sa, sb](const Tensor& g, const Needs& n) {
    return Grads{n[0] ? sum_to(batched_matmul(g, sb.transpose(-1, -2)), sa.shape()) : Tensor(),
                 n[1] ? sum_to(batched_matmul(sa.transpose(-1, -2), g), sb.shape()) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (autocast::enabled()) {  // autocast's low-precision list
    const Tensor lx = autocast::to_low(x), lw = autocast::to_low(weight), lb = autocast::to_low(bias);
    autocast::Disable off;
    return linear(lx, lw, lb);
  }
  Backend& be = compute_backend("linear", {&x, &weight, &bias});
  check_same_dtype("linear", x, weight);
  FT_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out, in], got ", shape_str(weight.shape()));
  FT_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()),
           " does not match weight ", shape_str(weight.shape()), " (in_features ", weight.size(1), ")");
  const int64_t k = weight.size(1), n = weight.size(0);
  if (bias.defined()) {
    check_same_dtype("linear", x, bias);
    FT_CHECK(bias.dim() == 1 && bias.size(0) == n, "linear: bias ", shape_str(bias.shape()),
             " does not match out_features ", n);
  }
  Tensor x2 = x.detach().reshape({-1, k}).contiguous();
  Tensor w = weight.detach().contiguous();
  const int64_t m = x2.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = n;
  Tensor out = empty({m, n}, like(x));
  // With a bias, a backend's linear_bias (cuBLASLt's BIAS epilogue) adds it inside the GEMM, else the
  // bias is broadcast into the output and the product accumulated on top.
  const bool fused_bias = bias.defined() && be.implements(kern::OptionalOp::linear_bias, elem_of(x));
  if (fused_bias) {
    const Tensor b = bias.detach().contiguous();
    be.linear_bias_fwd(elem_of(x), x2.raw_data(), w.raw_data(), b.raw_data(), m, n, k, out.raw_data());
  } else {
    double beta = 0;
    if (bias.defined()) {
      NoGradGuard ng;
      out.copy_(bias.detach());
      beta = 1;
    }
    be.gemm(elem_of(x), false, true, m, n, k, 1.0, x2.raw_data(), k, w.raw_data(), k, beta, out.raw_data(), n);
  }
  out = out.view(out_shape);
  if (!any_requires_grad({&x, &weight, &bias})) return out;
  Shape x_shape = x.shape();
  return attach(out, "linear", {x, weight, bias}, [x2, w, x_shape, m, n, k, fused_bias](const Tensor& g,
                                                                                      const Needs& need) {
    Tensor g2 = g.reshape({m, n}).contiguous();
    Backend& be = backend_of("linear_backward", {&g2});
    const Elem t = elem_of(g2);
    Grads grads(3);
    if (need[0]) {  // dx = g W
      Tensor dx = empty({m, k}, like(g2));
      be.gemm(t, false, false, m, k, n, 1.0, g2.raw_data(), n, w.raw_data(), k, 0.0, dx.raw_data(), k);
      grads[0] = dx.view(x_shape);
    }
    if (need[1] && need[2] && fused_bias) {  // dW = g^T x and db in one GEMM (cuBLASLt's BGRADB)
      Tensor dw = empty({n, k}, like(g2)), db = empty({n}, like(g2));
      be.linear_wgrad_bgrad(t, g2.raw_data(), x2.raw_data(), m, n, k, dw.raw_data(), db.raw_data());
      grads[1] = dw, grads[2] = db;
      return grads;
    }
    if (need[1]) {  // dW = g^T x
      Tensor dw = empty({n, k}, like(g2));
      be.gemm(t, true, false, n, k, m, 1.0, g2.raw_data(), n, x2.raw_data(), k, 0.0, dw.raw_data(), k);
      grads[1] = dw;
    }
    if (need[2]) {  // db = column sums of g
      Tensor db = empty({n}, like(g2));
      be.reduce_sum(t, g2.raw_data(), 1, m, n, db.raw_data());
      grads[2] = db;
    }
    return grads;
  });
}

}  // namespace ft
