// Losses with mean reduction, as torch.nn.functional defines them:
// cross_entropy (class indices, ignore_index, label smoothing), binary_cross_entropy_with_logits,
// mse_loss.
#include <cmath>

#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double smoothing) {
  if (autocast::enabled()) {  // losses are on autocast's f32 list
    const Tensor fl = autocast::to_f32(logits);
    autocast::Disable off;
    return cross_entropy(fl, target, ignore_index, smoothing);
  }
  Backend& be = compute_backend("cross_entropy", {&logits, &target});
  FT_CHECK(logits.dim() == 2, "cross_entropy: logits must be [batch, classes], got ", shape_str(logits.shape()));
  FT_CHECK(target.dim() == 1 && target.size(0) == logits.size(0), "cross_entropy: target ",
           shape_str(target.shape()), " does not match logits ", shape_str(logits.shape()));
  FT_CHECK(target.dtype() == DType::i64 || target.dtype() == DType::i32,
           "cross_entropy: target must hold class indices (i64 or i32), got ", target.dtype());
  FT_CHECK(smoothing >= 0 && smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ", smoothing);
  const int64_t rows = logits.size(0), classes = logits.size(1);
  Tensor tgt = target.to(DType::i64).contiguous();
  kern::IndexCheck check;
  check.op = "cross_entropy", check.has_skip = true, check.skip = ignore_index, check.classes = true;
  be.check_indices(tgt.data<int64_t>(), rows, classes, check);  // on a device: reported once per step
  Tensor z = logits.detach().contiguous();
  // Per-row losses, log-sum-exps and valid flags in f32 (f64 for f64 logits); the mean over the
  // valid rows is computed where the logits are, so nothing waits for the device. With every row
  // ignored it is 0/0 = NaN, as in PyTorch.
  const TensorOptions acc = TensorOptions(logits.dtype() == DType::f64 ? DType::f64 : DType::f32).with_device(logits.device());
  Tensor row_loss = empty({rows}, acc), lse = empty({rows}, acc), valid_rows = empty({rows}, acc);
  be.cross_entropy_fwd(elem_of(z), z.raw_data(), tgt.data<int64_t>(), rows, classes, ignore_index, smoothing,
                       row_loss.raw_data(), lse.raw_data(), valid_rows.raw_data());
  Tensor out, valid;
  {
    NoGradGuard ng;
    valid = sum(valid_rows);
    out = div(sum(row_loss), valid).to(logits.dtype());
  }
  return attach(out, "cross_entropy", {logits, Tensor()},
                [z, tgt, lse, rows, classes, ignore_index, smoothing, valid](const Tensor& g, const Needs&) {
    Tensor dz = empty(z.shape(), like(z));
    const Tensor scale = div(g.to(valid.dtype()), valid).contiguous();  // on the device: one value
    backend_of("cross_entropy_backward", {&z}).cross_entropy_bwd(elem_of(z), z.raw_data(), tgt.data<int64_t>(),
                                                                 lse.raw_data(), rows, classes, ignore_index,
                                                                 smoothing, scale.raw_data(), dz.raw_data());
    return Grads{dz, Tensor()};
  });
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target) {
  if (autocast::enabled()) {
    const Tensor fl = autocast::to_f32(logits), ft = autocast::to_f32(target);
    autocast::Disable off;
    return binary_cross_entropy_with_logits(fl, ft);
  }
  const char* op = "binary_cross_entropy_with_logits";
  Backend& be = compute_backend(op, {&logits, &target});
  check_same_dtype(op, logits, target);
  FT_CHECK(logits.shape() == target.shape(), op, ": target ", shape_str(target.shape()),
           " must have the shape of the logits ", shape_str(logits.shape()));
  Tensor x = logits.detach(), y = target.detach();
  Tensor elems = empty(x.shape(), like(x));
  be.binary(kern::BinaryOp::bce_logits, 0, 0, elem_of(x), x.raw_data(), strided_of(x), y.raw_data(), strided_of(y),
            elems.raw_data());
  Tensor out;
  {
    NoGradGuard ng;
    out = mean(elems);
  }
  const double n = static_cast<double>(x.numel());
  return attach(out, op, {logits, target}, [x, y, n](const Tensor& g, const Needs& need) {
    const Tensor s = div(g, n);  // 0-d, where the logits are: nothing waits for the device
    Grads grads(2);
    if (need[0]) {  // (sigmoid(x) - y) / n
      Tensor d = empty(x.shape(), like(x));
      backend_of("bce_backward", {&x}).binary(kern::BinaryOp::bce_logits_grad, 0, 0, elem_of(x), x.raw_data(),
                                              strided_of(x), y.raw_data(), strided_of(y), d.raw_data());
      grads[0] = mul(d, s);
    }
    if (need[1]) grads[1] = mul(x, neg(s));  // d/dy = -x / n
    return grads;
  });
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  if (autocast::enabled()) {
    const Tensor fi = autocast::to_f32(input), ft = autocast::to_f32(target);
    autocast::Disable off;
    return mse_loss(fi, ft);
  }
  FT_CHECK(input.shape() == target.shape(), "mse_loss: target ", shape_str(target.shape()),
           " must have the shape of the input ", shape_str(input.shape()));
  // Composite: autograd differentiates it through sub, mul and mean.
  Tensor d = sub(input, target);
  return mean(mul(d, d));
}

}  // namespace ft
