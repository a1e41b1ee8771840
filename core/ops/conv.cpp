// Convolution, pooling and batch normalisation over NCHW tensors, built on one sliding-window op:
// im2col (torch.nn.functional.unfold, with a pad value) whose backward is col2im.
// - conv2d = im2col, then one GEMM per group over all images at once: the columns are laid out
//   [group, K, N * P], so the weight gradient is a single GEMM reduction over N * P (no per-image
//   weight gradients to sum), and the column gradient flows back through col2im.
// - max_pool2d / avg_pool2d = im2col of each channel plane (pad -inf / 0) and max / mean over the
//   window rows; adaptive_avg_pool2d = avg_pool2d when the sizes divide, else a mean per window.
// - batch_norm = the composite of mean, biased variance, normalise and affine; in training the
//   running statistics move by `momentum` with the unbiased variance, as torch.nn.BatchNorm2d does.
// Every op's backward comes from the ops it is made of (matmul, max, mean, ...) plus col2im.
// These definitions are the reference. A backend may implement conv2d, training-mode batch_norm and
// max_pool2d itself (Backend::implementation: cuDNN on CUDA; on the CPU oneDNN's f32 convolution and
// our own batch-norm and max-pool kernels); the ops use that, forward and backward, unless
// set_conv_implementation("native") asks for the composite. The emulated device has no cuDNN, so it
// runs the composite; tests compare the CPU implementations with it, and a GPU test cuDNN.
#include <cmath>
#include <limits>
#include <string>

#include "core/autograd.h"
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

kern::UnfoldGeom geometry(const char* op, const Tensor& x, const Window2d& w) {
  FT_CHECK(x.dim() == 4, op, ": expects an NCHW input, got ", shape_str(x.shape()));
  FT_CHECK(w.kh > 0 && w.kw > 0 && w.sh > 0 && w.sw > 0 && w.dh > 0 && w.dw > 0 && w.ph >= 0 && w.pw >= 0, op,
           ": kernel, stride and dilation must be positive and padding non-negative");
  kern::UnfoldGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.kh = w.kh, g.kw = w.kw, g.sh = w.sh, g.sw = w.sw, g.ph = w.ph, g.pw = w.pw, g.dh = w.dh, g.dw = w.dw;
  g.oh = kern::window_out(g.h, w.kh, w.sh, w.ph, w.dh);
  g.ow = kern::window_out(g.w, w.kw, w.sw, w.pw, w.dw);
  FT_CHECK(g.oh > 0 && g.ow > 0, op, ": a ", w.kh, "x", w.kw, " window (dilation ", w.dh, "x", w.dw, ", padding ", w.ph,
           "x", w.pw, ") does not fit the input ", shape_str(x.shape()));
  return g;
}

Window2d pool_window(Pair2 kernel, Pair2 stride, Pair2 padding) {
  // stride defaults to the kernel size, as in torch (pass {0, 0}).
  return Window2d{kernel[0], kernel[1], stride[0] ? stride[0] : kernel[0], stride[1] ? stride[1] : kernel[1],
                  padding[0], padding[1], 1, 1};
}

std::string g_conv_impl = "auto";

// Whether conv2d / batch_norm / max_pool2d of x goes to the backend's implementation rather than
// the composite: "auto" takes it wherever the backend has one, "native" never, and a library's name
// requires that library for conv2d (the other two use it, or the backend's own kernel, "cpu").
bool use_backend(const char* op, kern::OptionalOp which, const Backend& be, const Tensor& x) {
  if (g_conv_impl == "native") return false;
  const char* impl = be.implementation(which, elem_of(x));
  if (g_conv_impl == "auto") return impl != nullptr;
  if (which == kern::OptionalOp::conv2d)
    FT_CHECK(impl && g_conv_impl == impl, op, ": --conv_implementation ", g_conv_impl, " was asked for, but the ",
             be.name(), " backend ", impl ? std::string("implements it with ") + impl : std::string("has no library for it"),
             " in ", x.dtype());
  // Batch norm, max pool: the library asked for, or the backend's own kernel ("cpu").
  return impl && (g_conv_impl == impl || std::string(impl) == "cpu");
}

Tensor conv2d_backend(Backend& be, const Tensor& x, const Tensor& weight, const kern::ConvGeom& cg) {
  Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor y = empty({cg.g.n, cg.out_channels, cg.g.oh, cg.g.ow}, like(x));
  be.conv2d_fwd(elem_of(x), cg, xc.raw_data(), wc.raw_data(), y.raw_data());
  return attach(y, "conv2d", {x, weight}, [xc, wc, cg](const Tensor& grad, const std::vector<bool>& need) {
    Tensor gc = grad.contiguous();
    Backend& b = backend_of("conv2d_backward", {&gc});
    std::vector<Tensor> grads(2);
    if (need[0]) {
      grads[0] = empty(xc.shape(), like(xc));
      b.conv2d_bwd_data(elem_of(gc), cg, wc.raw_data(), gc.raw_data(), grads[0].raw_data());
    }
    if (need[1]) {
      grads[1] = empty(wc.shape(), like(wc));
      b.conv2d_bwd_weight(elem_of(gc), cg, xc.raw_data(), gc.raw_data(), grads[1].raw_data());
    }
    return grads;
  });
}

// Training-mode batch norm of NCHW data through the backend (batch statistics, running statistics
// updated in place, saved mean and inverse std for the backward).
Tensor batch_norm_backend(Backend& be, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& rm,
                          const Tensor& rv, double momentum, double eps) {
  const int64_t n = x.size(0), c = x.size(1), hw = x.numel() / (n * c);
  Tensor xc = x.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : ones({c}, like(x));
  Tensor b = bias.defined() ? bias.detach().contiguous() : zeros({c}, like(x));
  for (const Tensor* r : {&rm, &rv})
    if (r->defined()) FT_CHECK(r->is_contiguous() && r->dtype() == x.dtype(), "batch_norm: running statistics must be contiguous ", x.dtype());
  Tensor y = empty(x.shape(), like(x)), mean = empty({c}, like(x)), spread = empty({c}, like(x));
  kern::BatchNormArgs a;
  a.n = n, a.c = c, a.hw = hw, a.momentum = momentum, a.eps = eps;
  a.x = xc.raw_data(), a.scale = w.raw_data(), a.bias = b.raw_data(), a.running_mean = ptr(rm), a.running_var = ptr(rv);
  a.y = y.raw_data(), a.save_mean = mean.raw_data(), a.save_spread = spread.raw_data();
  be.batch_norm_fwd_train(elem_of(x), a);
  return attach(y, "batch_norm", {x, weight, bias}, [xc, w, b, mean, spread, a](const Tensor& grad, const std::vector<bool>& need) {
    Tensor gc = grad.contiguous();
    Tensor dx = empty(xc.shape(), like(xc)), dw = empty({a.c}, like(xc)), db = empty({a.c}, like(xc));
    kern::BatchNormArgs ab = a;
    ab.dy = gc.raw_data(), ab.dx = dx.raw_data(), ab.dscale = dw.raw_data(), ab.dbias = db.raw_data();
    backend_of("batch_norm_backward", {&gc}).batch_norm_bwd(elem_of(gc), ab);
    return std::vector<Tensor>{need[0] ? dx : Tensor(), need[1] ? dw : Tensor(), need[2] ? db : Tensor()};
  });
}

}  // namespace

void set_conv_implementation(const std::string& name) {
  FT_CHECK(name == "auto" || name == "cudnn" || name == "onednn" || name == "native", "conv implementation '", name,
           "' is not one of auto, cudnn, onednn, native");
  g_conv_impl = name;
}

Tensor im2col(const Tensor& x, const Window2d& w, double pad_value) {
  const char* op = "im2col";
  Backend& be = compute_backend(op, {&x});
  const kern::UnfoldGeom g = geometry(op, x, w);
  Tensor xc = x.detach().contiguous();
  Tensor cols = empty({g.n, g.rows(), g.positions()}, like(x));
  be.im2col(elem_of(x), xc.raw_data(), g, pad_value, cols.raw_data());
  return attach(cols, op, {x}, [g](const Tensor& grad, const std::vector<bool>&) {
    Tensor gc = grad.contiguous();
    Tensor dx = empty({g.n, g.c, g.h, g.w}, like(gc));
    backend_of("im2col_backward", {&gc}).col2im(elem_of(gc), gc.raw_data(), g, dx.raw_data());
    return std::vector<Tensor>{dx};
  });
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Pair2 stride, Pair2 padding, Pair2 dilation,
              int64_t groups) {
  if (autocast::enabled()) {  // autocast's low-precision list
    const Tensor lx = autocast::to_low(x), lw = autocast::to_low(weight), lb = autocast::to_low(bias);
    autocast::Disable off;
    return conv2d(lx, lw, lb, stride, padding, dilation, groups);
  }
  const char* op = "conv2d";
  FT_CHECK(weight.dim() == 4, op, ": weight must be [out, in / groups, kh, kw], got ", shape_str(weight.shape()));
  FT_CHECK(x.dim() == 4, op, ": expects an NCHW input, got ", shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1), o = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  FT_CHECK(groups > 0 && c % groups == 0 && o % groups == 0, op, ": ", c, " input and ", o,
           " output channels are not divisible by groups ", groups);
  FT_CHECK(weight.size(1) * groups == c, op, ": weight ", shape_str(weight.shape()), " expects ", weight.size(1) * groups,
           " input channels, the input ", shape_str(x.shape()), " has ", c);
  if (bias.defined())
    FT_CHECK(bias.dim() == 1 && bias.size(0) == o, op, ": bias ", shape_str(bias.shape()), " must be [", o, "]");
  const Window2d w{kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  Backend& be = compute_backend(op, {&x, &weight, &bias});
  check_same_dtype(op, x, weight);
  if (use_backend(op, kern::OptionalOp::conv2d, be, x)) {
    Tensor out = conv2d_backend(be, x, weight, kern::ConvGeom{geometry(op, x, w), o, groups});
    return bias.defined() ? add(out, bias.view({1, o, 1, 1})) : out;
  }
  const Tensor cols = im2col(x, w, 0.0);  // [n, c*kh*kw, p]
  const int64_t p = cols.size(2), k = (c / groups) * kh * kw, og = o / groups;
  const kern::UnfoldGeom g = geometry(op, x, w);
  // [n, groups*k, p] -> [groups, k, n*p]: the GEMM then reduces over all images' positions.
  const Tensor cols_t = cols.view({n, groups, k, p}).permute({1, 2, 0, 3}).contiguous().view({groups, k, n * p});
  Tensor out = matmul(weight.reshape({groups, og, k}), cols_t);  // [groups, og, n*p]
  out = out.view({o, n, g.oh, g.ow}).permute({1, 0, 2, 3}).contiguous();
  if (bias.defined()) out = add(out, bias.view({1, o, 1, 1}));
  return out;
}

Tensor max_pool2d(const Tensor& x, Pair2 kernel, Pair2 stride, Pair2 padding) {
  const Window2d w = pool_window(kernel, stride, padding);
  FT_CHECK(w.ph * 2 <= w.kh && w.pw * 2 <= w.kw, "max_pool2d: padding ", w.ph, "x", w.pw,
           " must be at most half the kernel ", w.kh, "x", w.kw);
  FT_CHECK(x.dim() == 4, "max_pool2d: expects an NCHW input, got ", shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1);
  const kern::UnfoldGeom g = geometry("max_pool2d", x, w);
  Backend& be = compute_backend("max_pool2d", {&x});
  if (use_backend("max_pool2d", kern::OptionalOp::max_pool2d, be, x)) {
    Tensor xc = x.detach().contiguous();
    Tensor y = empty({n, c, g.oh, g.ow}, like(x));
    Tensor idx = empty({n, c, g.oh, g.ow}, TensorOptions(DType::i64).with_device(x.device()));
    be.max_pool2d_fwd(elem_of(x), g, xc.raw_data(), y.raw_data(), idx.data<int64_t>());
    return attach(y, "max_pool2d", {x}, [g, idx](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.contiguous();
      Tensor dx = empty({g.n, g.c, g.h, g.w}, like(gc));
      backend_of("max_pool2d_backward", {&gc}).max_pool2d_bwd(elem_of(gc), g, gc.raw_data(), idx.data<int64_t>(),
                                                               dx.raw_data());
      return std::vector<Tensor>{dx};
    });
  }
  const Tensor cols = im2col(x.reshape({n * c, 1, x.size(2), x.size(3)}), w, -std::numeric_limits<double>::infinity());
  return max(cols, 1).first.view({n, c, g.oh, g.ow});
}

Tensor avg_pool2d(const Tensor& x, Pair2 kernel, Pair2 stride, Pair2 padding, bool count_include_pad) {
  const Window2d w = pool_window(kernel, stride, padding);
  FT_CHECK(w.ph * 2 <= w.kh && w.pw * 2 <= w.kw, "avg_pool2d: padding ", w.ph, "x", w.pw,
           " must be at most half the kernel ", w.kh, "x", w.kw);
  FT_CHECK(x.dim() == 4, "avg_pool2d: expects an NCHW input, got ", shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const kern::UnfoldGeom g = geometry("avg_pool2d", x, w);
  const Tensor cols = im2col(x.reshape({n * c, 1, h, wd}), w, 0.0);
  if (count_include_pad || (w.ph == 0 && w.pw == 0)) return mean(cols, {1}).view({n, c, g.oh, g.ow});
  // Divide by the number of real (not padding) inputs under each window.
  Tensor count;
  {
    NoGradGuard ng;
    count = sum(im2col(ones({1, 1, h, wd}, like(x)), w, 0.0), {1});  // [1, p]
  }
  return div(sum(cols, {1}), count).view({n, c, g.oh, g.ow});
}

Tensor adaptive_avg_pool2d(const Tensor& x, Pair2 output_size) {
  FT_CHECK(x.dim() == 4, "adaptive_avg_pool2d: expects an NCHW input, got ", shape_str(x.shape()));
  const int64_t h = x.size(2), w = x.size(3), oh = output_size[0], ow = output_size[1];
  FT_CHECK(oh > 0 && ow > 0, "adaptive_avg_pool2d: output size must be positive");
  if (oh == 1 && ow == 1) return mean(x, {2, 3}, true);
  if (h % oh == 0 && w % ow == 0) return avg_pool2d(x, {h / oh, w / ow}, {h / oh, w / ow}, {0, 0});
  // Window i covers [floor(i * h / oh), ceil((i + 1) * h / oh)), as torch computes it.
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < oh; ++i) {
    const int64_t y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh;
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
      cells.push_back(mean(x.slice(2, y0, y1).slice(3, x0, x1), {2, 3}));  // [n, c]
    }
    rows.push_back(stack(cells, 2));  // [n, c, ow]
  }
  return stack(rows, 2);  // [n, c, oh, ow]
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  if (autocast::enabled()) {  // normalisation runs in f32 under the mixed-precision policy
    const Tensor fx = autocast::to_f32(x), fw = autocast::to_f32(weight), fb = autocast::to_f32(bias);
    autocast::Disable off;
    return batch_norm(fx, fw, fb, running_mean, running_var, training, momentum, eps);
  }
  FT_CHECK(x.dim() >= 2, "batch_norm: expects [N, C, ...], got ", shape_str(x.shape()));
  const int64_t c = x.size(1);
  std::vector<int64_t> dims{0};
  Shape stat_shape{1, c};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d), stat_shape.push_back(1);
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    if (t->defined())
      FT_CHECK(t->dim() == 1 && t->size(0) == c, "batch_norm: parameters and running statistics must be [", c,
               "], got ", shape_str(t->shape()), " for input ", shape_str(x.shape()));
  Tensor mu, var_b;
  Backend& be = compute_backend("batch_norm", {&x, &weight, &bias});
  if (training) {
    FT_CHECK(x.numel() / c > 1, "batch_norm: training needs more than one value per channel, got input ",
             shape_str(x.shape()));
  }
  if (training && x.dim() == 4 && use_backend("batch_norm", kern::OptionalOp::batch_norm, be, x))
    return batch_norm_backend(be, x, weight, bias, running_mean, running_var, momentum, eps);
  if (training) {
    const int64_t count = x.numel() / c;
    mu = mean(x, dims, true);
    var_b = var(x, dims, 0, true);
    if (running_mean.defined() && running_var.defined()) {
      NoGradGuard ng;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor rm = running_mean, rv = running_var;
      rm.copy_(add(mul(running_mean, 1.0 - momentum), mul(mu.detach().view({c}), momentum)));
      rv.copy_(add(mul(running_var, 1.0 - momentum), mul(var_b.detach().view({c}), momentum * unbias)));
    }
  } else {
    FT_CHECK(running_mean.defined() && running_var.defined(), "batch_norm: evaluation needs running statistics");
    mu = running_mean.view(stat_shape);
    var_b = running_var.view(stat_shape);
  }
  Tensor y = mul(sub(x, mu), rsqrt(add(var_b, eps)));
  if (weight.defined()) y = mul(y, weight.view(stat_shape));
  if (bias.defined()) y = add(y, bias.view(stat_shape));
  return y;
}

}  // namespace ft
