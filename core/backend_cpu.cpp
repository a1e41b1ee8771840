// The CPU backend: f32 (fast path: OpenMP, oneDNN) and f64 (the precise path) kernels from
// kernels/cpu. bf16 and f16 compute in f32 here, as PyTorch's CPU kernels do ("opmath"): GEMMs run
// oneDNN's bf16 kernels (f32 accumulation); elementwise ops, reductions, dropout and scatters widen
// their operands into f32 scratch, run the f32 kernel and round the result once. Ops without that
// path (LayerNorm, softmax, losses: f32 under the mixed-precision policy) accept f32 and f64 only.
#include "core/backend.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/error.h"
#include "kernels/common/convert.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/conv_onednn.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/indexing.h"
#include "kernels/cpu/unfold.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/simd/kernels.h"
#include "kernels/cpu/softmax.h"

namespace ft {
namespace {

// Calls f(T{}) with T = float or double.
template <class F>
decltype(auto) on_float(Elem t, const char* op, F&& f) {
  switch (t) {
    case Elem::f32: return f(float{});
    case Elem::f64: return f(double{});
    default: throw Error(cat(op, ": unsupported dtype ", kern::elem_name(t), " on cpu (supported: f32, f64)"));
  }
}

bool is_low(Elem t) { return t == Elem::bf16 || t == Elem::f16; }

Strided flat(int64_t n) {
  Strided v;
  v.ndim = 1, v.shape[0] = n, v.stride[0] = 1;
  return v;
}
Strided contiguous_view(const Strided& s) {
  Strided c = s;
  int64_t stride = 1;
  for (int i = s.ndim - 1; i >= 0; --i) c.stride[i] = stride, stride *= s.shape[i];
  return c;
}

// Uninitialised f32 scratch (a std::vector would zero it first).
struct Scratch {
  std::unique_ptr<float[]> p;
  explicit Scratch(int64_t n) : p(new float[static_cast<size_t>(std::max<int64_t>(n, 1))]) {}
  float* data() { return p.get(); }
};

// A bf16/f16 operand widened to contiguous f32 of its view's shape (broadcast dims materialised).
struct Wide {
  Scratch v;
  Strided view;
  Wide(const void* x, Elem t, const Strided& xv) : v(xv.numel()), view(contiguous_view(xv)) {
    kern::copy_cast(x, t, xv, v.data(), Elem::f32, view);
  }
  Wide(const void* x, Elem t, int64_t n) : Wide(x, t, flat(n)) {}
  float* data() { return v.data(); }
};
// Rounds contiguous f32 to n elements of t at dst.
void narrow(const float* src, int64_t n, void* dst, Elem t) { kern::copy_cast(src, Elem::f32, flat(n), dst, t, flat(n)); }

template <class T>
const T* c(const void* p) {
  return static_cast<const T*>(p);
}
template <class T>
T* m(void* p) {
  return static_cast<T*>(p);
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void require(const char* op, Elem t) const override {
    if (!is_low(t)) on_float(t, op, [](auto) {});
  }
  void copy_cast(const void* src, Elem st, const Strided& sv, void* dst, Elem dt, const Strided& dv) override {
    kern::copy_cast(src, st, sv, dst, dt, dv);
  }
  void fill(void* dst, Elem t, const Strided& dv, double value) override { kern::fill(dst, t, dv, value); }
  // The CPU checks indices before it uses them (check_indices throws), so rows bound nothing here.
  void gather_rows(const void* table, int64_t /*rows*/, const int64_t* idx, int64_t count, int64_t row_bytes,
                   void* out) override {
    kern::gather_rows(table, idx, count, row_bytes, out);
  }
  void unary(kern::UnaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, void* out) override {
    if (is_low(t)) {
      Wide wx(x, t, xv);
      Scratch o(xv.numel());
      kern::unary<float>(op, a, b, wx.data(), wx.view, o.data());
      return narrow(o.data(), xv.numel(), out, t);
    }
    on_float(t, "unary", [&](auto tag) {
      using T = decltype(tag);
      kern::unary<T>(op, a, b, c<T>(x), xv, m<T>(out));
    });
  }
  void binary(kern::BinaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, const void* y,
              const Strided& yv, void* out) override {
    if (is_low(t)) {
      Wide wx(x, t, xv), wy(y, t, yv);
      Scratch o(xv.numel());
      kern::binary<float>(op, a, b, wx.data(), wx.view, wy.data(), wy.view, o.data());
      return narrow(o.data(), xv.numel(), out, t);
    }
    on_float(t, "binary", [&](auto tag) {
      using T = decltype(tag);
      kern::binary<T>(op, a, b, c<T>(x), xv, c<T>(y), yv, m<T>(out));
    });
  }
  void where(const void* cond, const Strided& cv, Elem t, const void* x, const Strided& xv, const void* y,
             const Strided& yv, void* out) override {
    if (is_low(t)) {
      Wide wx(x, t, xv), wy(y, t, yv);
      Scratch o(xv.numel());
      kern::where<float>(c<uint8_t>(cond), cv, wx.data(), wx.view, wy.data(), wy.view, o.data());
      return narrow(o.data(), xv.numel(), out, t);
    }
    on_float(t, "where", [&](auto tag) {
      using T = decltype(tag);
      kern::where<T>(c<uint8_t>(cond), cv, c<T>(x), xv, c<T>(y), yv, m<T>(out));
    });
  }
  void reduce_sum(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out) override {
    if (is_low(t)) {
      Wide w(in, t, outer * r * inner);
      Scratch o(outer * inner);
      kern::reduce_sum<float>(w.data(), outer, r, inner, o.data());
      return narrow(o.data(), outer * inner, out, t);
    }
    on_float(t, "sum", [&](auto tag) {
      using T = decltype(tag);
      kern::reduce_sum<T>(c<T>(in), outer, r, inner, m<T>(out));
    });
  }
  void reduce_var(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, int64_t correction,
                  void* out) override {
    on_float(t, "var", [&](auto tag) {
      using T = decltype(tag);
      kern::reduce_var<T>(c<T>(in), outer, r, inner, correction, m<T>(out));
    });
  }
  void reduce_max(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out, int64_t* idx) override {
    if (is_low(t)) {
      Wide w(in, t, outer * r * inner);
      Scratch o(outer * inner);
      kern::reduce_max<float>(w.data(), outer, r, inner, o.data(), idx);
      return narrow(o.data(), outer * inner, out, t);
    }
    on_float(t, "max", [&](auto tag) {
      using T = decltype(tag);
      kern::reduce_max<T>(c<T>(in), outer, r, inner, m<T>(out), idx);
    });
  }
  void scatter_max_grad(Elem t, const void* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner,
                        void* dx) override {
    on_float(t, "max_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::scatter_max_grad<T>(c<T>(g), idx, outer, r, inner, m<T>(dx));
    });
  }
  void gemm(Elem t, bool ta, bool tb, int64_t mm, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
            const void* b, int64_t ldb, double beta, void* cc, int64_t ldc) override {
    if (is_low(t))
      return kern::gemm_low(t, ta, tb, mm, n, k, static_cast<float>(alpha), a, lda, b, ldb, static_cast<float>(beta),
                            cc, ldc);
    on_float(t, "matmul", [&](auto tag) {
      using T = decltype(tag);
      kern::gemm<T>(ta, tb, mm, n, k, static_cast<T>(alpha), c<T>(a), lda, c<T>(b), ldb, static_cast<T>(beta),
                    m<T>(cc), ldc);
    });
  }
  void gemm_batched(Elem t, bool ta, bool tb, int64_t mm, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
                    int64_t sa, const void* b, int64_t ldb, int64_t sb, double beta, void* cc, int64_t ldc, int64_t sc,
                    int64_t batch) override {
    if (is_low(t)) {
      const int64_t bytes = kern::elem_bytes(t);
      for (int64_t i = 0; i < batch; ++i)
        kern::gemm_low(t, ta, tb, mm, n, k, static_cast<float>(alpha), c<char>(a) + i * sa * bytes, lda,
                       c<char>(b) + i * sb * bytes, ldb, static_cast<float>(beta), m<char>(cc) + i * sc * bytes, ldc);
      return;
    }
    on_float(t, "matmul", [&](auto tag) {
      using T = decltype(tag);
      for (int64_t i = 0; i < batch; ++i)
        kern::gemm<T>(ta, tb, mm, n, k, static_cast<T>(alpha), c<T>(a) + i * sa, lda, c<T>(b) + i * sb, ldb,
                      static_cast<T>(beta), m<T>(cc) + i * sc, ldc);
    });
  }
  void softmax_fwd(Elem t, const void* x, int64_t rows, int64_t n, bool log, void* y) override {
    on_float(t, "softmax", [&](auto tag) {
      using T = decltype(tag);
      kern::softmax_fwd<T>(c<T>(x), rows, n, log, m<T>(y));
    });
  }
  void softmax_bwd(Elem t, const void* g, const void* y, int64_t rows, int64_t n, bool log, void* dx) override {
    on_float(t, "softmax_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::softmax_bwd<T>(c<T>(g), c<T>(y), rows, n, log, m<T>(dx));
    });
  }
  void layer_norm_fwd(Elem t, const void* x, const void* w, const void* b, int64_t rows, int64_t n, double eps, void* y,
                      void* mean, void* rstd, const void* residual, void* sum_out) override {
    on_float(t, "layer_norm", [&](auto tag) {
      using T = decltype(tag);
      kern::layer_norm_fwd<T>(c<T>(x), c<T>(w), c<T>(b), rows, n, eps, m<T>(y), m<T>(mean), m<T>(rstd), c<T>(residual),
                              m<T>(sum_out));
    });
  }
  void layer_norm_bwd(Elem t, const void* g, const void* x, const void* mean, const void* rstd, const void* w,
                      int64_t rows, int64_t n, void* dx, void* dw, void* db) override {
    on_float(t, "layer_norm_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::layer_norm_bwd<T>(c<T>(g), c<T>(x), c<T>(mean), c<T>(rstd), c<T>(w), rows, n, m<T>(dx), m<T>(dw),
                              m<T>(db));
    });
  }
  void cross_entropy_fwd(Elem t, const void* logits, const int64_t* target, int64_t rows, int64_t classes,
                         int64_t ignore_index, double smoothing, void* loss, void* lse, void* valid) override {
    on_float(t, "cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      kern::cross_entropy_fwd<T>(c<T>(logits), target, rows, classes, ignore_index, smoothing, m<T>(loss), m<T>(lse));
      for (int64_t r = 0; r < rows; ++r) m<T>(valid)[r] = target[r] == ignore_index ? T(0) : T(1);
    });
  }
  void cross_entropy_bwd(Elem t, const void* logits, const int64_t* target, const void* lse, int64_t rows,
                         int64_t classes, int64_t ignore_index, double smoothing, const void* scale,
                         void* dlogits) override {
    on_float(t, "cross_entropy_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::cross_entropy_bwd<T>(c<T>(logits), target, c<T>(lse), rows, classes, ignore_index, smoothing,
                                 static_cast<double>(*c<T>(scale)), m<T>(dlogits));
    });
  }
  const char* implementation(kern::OptionalOp op, Elem t) const override {
    if (op == kern::OptionalOp::bias_gelu && is_low(t)) return "cpu";  // f32 math on widened rows
    if (op == kern::OptionalOp::conv2d) return kern::onednn_conv_native(t) ? "onednn" : nullptr;  // f32, bf16
    if (t != Elem::f32 && t != Elem::f64) return nullptr;
    switch (op) {
      case kern::OptionalOp::linear_bias: return nullptr;  // the bias is broadcast, then the GEMM accumulates
      case kern::OptionalOp::linear_bias_gelu: return nullptr;  // a bias-free GEMM, then bias_gelu
      case kern::OptionalOp::batch_norm: return "cpu";  // kernels/cpu/batch_norm.h says why not oneDNN's
      default: return "cpu";
    }
  }
  void conv2d_fwd(Elem t, const kern::ConvGeom& g, const void* x, const void* w, void* y) override {
    kern::onednn_conv2d_fwd(t, g, x, w, y);
  }
  void conv2d_bwd_data(Elem t, const kern::ConvGeom& g, const void* w, const void* dy, void* dx) override {
    kern::onednn_conv2d_bwd_data(t, g, w, dy, dx);
  }
  void conv2d_bwd_weight(Elem t, const kern::ConvGeom& g, const void* x, const void* dy, void* dw) override {
    kern::onednn_conv2d_bwd_weight(t, g, x, dy, dw);
  }
  void batch_norm_fwd_train(Elem t, const kern::BatchNormArgs& a) override {
    on_float(t, "batch_norm", [&](auto tag) { kern::batch_norm_fwd_train<decltype(tag)>(a); });
  }
  void max_pool2d_fwd(Elem t, const kern::UnfoldGeom& g, const void* x, void* y, int64_t* idx) override {
    on_float(t, "max_pool2d", [&](auto tag) {
      using T = decltype(tag);
      kern::max_pool2d_fwd<T>(g, c<T>(x), m<T>(y), idx);
    });
  }
  void max_pool2d_bwd(Elem t, const kern::UnfoldGeom& g, const void* dy, const int64_t* idx, void* dx) override {
    on_float(t, "max_pool2d_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::max_pool2d_bwd<T>(g, c<T>(dy), idx, m<T>(dx));
    });
  }
  void batch_norm_bwd(Elem t, const kern::BatchNormArgs& a) override {
    on_float(t, "batch_norm_backward", [&](auto tag) { kern::batch_norm_bwd<decltype(tag)>(a); });
  }
  void bias_gelu_fwd(Elem t, bool exact, const void* x, const void* bias, int64_t rows, int64_t n, void* y) override {
    if (is_low(t)) {  // f32 math on widened rows, rounded once (GELU's f32 kernel)
      Wide wx(x, t, rows * n), wb(bias, t, n);
      Scratch o(rows * n);
      kern::simd::kernels().bias_gelu(exact, wx.data(), wb.data(), rows, n, o.data());
      return narrow(o.data(), rows * n, y, t);
    }
    on_float(t, "bias_gelu", [&](auto tag) {
      using T = decltype(tag);
      kern::bias_gelu_fwd<T>(exact, c<T>(x), c<T>(bias), rows, n, m<T>(y));
    });
  }
  void bias_gelu_bwd(Elem t, bool exact, const void* g, const void* x, const void* bias, int64_t rows, int64_t n,
                     void* dx) override {
    if (is_low(t)) {
      Wide wg(g, t, rows * n), wx(x, t, rows * n), wb(bias, t, n);
      Scratch o(rows * n);
      kern::bias_gelu_bwd<float>(exact, wg.data(), wx.data(), wb.data(), rows, n, o.data());
      return narrow(o.data(), rows * n, dx, t);
    }
    on_float(t, "bias_gelu_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::bias_gelu_bwd<T>(exact, c<T>(g), c<T>(x), c<T>(bias), rows, n, m<T>(dx));
    });
  }
  void bias_dropout_layer_norm_fwd(Elem t, const kern::BiasDropoutLayerNormArgs& a) override {
    on_float(t, "bias_dropout_add_layer_norm", [&](auto tag) { kern::bias_dropout_layer_norm_fwd<decltype(tag)>(a); });
  }
  void attention_fwd(const kern::AttentionArgs& a) override {
    if (a.dtype == Elem::f32) return kern::simd::kernels().attention_fwd(a);
    on_float(a.dtype, "scaled_dot_product_attention", [&](auto tag) { kern::attention_fwd<decltype(tag)>(a); });
  }
  void attention_bwd(const kern::AttentionArgs& a) override {
    if (a.dtype == Elem::f32) return kern::simd::kernels().attention_bwd(a);
    on_float(a.dtype, "scaled_dot_product_attention_backward", [&](auto tag) { kern::attention_bwd<decltype(tag)>(a); });
  }
  void im2col(Elem t, const void* x, const kern::UnfoldGeom& g, double pad, void* cols) override {
    if (is_low(t)) {
      Wide wx(x, t, g.input_numel());
      Scratch o(g.cols_numel());
      kern::im2col<float>(wx.data(), g, static_cast<float>(pad), o.data());
      return narrow(o.data(), g.cols_numel(), cols, t);
    }
    on_float(t, "im2col", [&](auto tag) {
      using T = decltype(tag);
      kern::im2col<T>(c<T>(x), g, static_cast<T>(pad), m<T>(cols));
    });
  }
  void col2im(Elem t, const void* cols, const kern::UnfoldGeom& g, void* dx) override {
    if (is_low(t)) {
      Wide wc(cols, t, g.cols_numel());
      Scratch o(g.input_numel());
      kern::col2im<float>(wc.data(), g, o.data());
      return narrow(o.data(), g.input_numel(), dx, t);
    }
    on_float(t, "col2im", [&](auto tag) {
      using T = decltype(tag);
      kern::col2im<T>(c<T>(cols), g, m<T>(dx));
    });
  }
  void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                        void* table, int64_t rows) override {
    if (is_low(t)) {  // the table too: repeated indices accumulate in f32, rounded once
      Wide ws(src, t, count * width), wt(table, t, rows * width);
      kern::scatter_add_rows<float>(ws.data(), idx, count, width, skip, wt.data());
      return narrow(wt.data(), rows * width, table, t);
    }
    on_float(t, "scatter_add", [&](auto tag) {
      using T = decltype(tag);
      kern::scatter_add_rows<T>(c<T>(src), idx, count, width, skip, m<T>(table));
    });
  }
  void check_indices(const int64_t* idx, int64_t n, int64_t limit, const kern::IndexCheck& c) override {
    for (int64_t k = 0; k < n; ++k)
      if ((idx[k] < 0 || idx[k] >= limit) && !(c.has_skip && idx[k] == c.skip))
        throw Error(index_error(c, idx[k], k, limit));
  }
  void deferred_error_flag(double* out) override { *out = 0; }  // the CPU throws at once
  void philox_fill(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out) override {
    if (normal)
      kern::philox_normal(seed, offset, n, out);
    else
      kern::philox_uniform(seed, offset, n, out);
  }
  void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) override {
    kern::dropout_mask(seed, offset, p, n, keep);
  }
  void apply_mask(Elem t, const void* x, const uint8_t* keep, double scale, int64_t n, void* out) override {
    if (is_low(t)) {
      Wide w(x, t, n);
      kern::apply_mask<float>(w.data(), keep, scale, n, w.data());
      return narrow(w.data(), n, out, t);
    }
    on_float(t, "dropout", [&](auto tag) {
      using T = decltype(tag);
      kern::apply_mask<T>(c<T>(x), keep, scale, n, m<T>(out));
    });
  }
  void adamw_multi(Elem t, const kern::AdamWTensor* ts, int count, double beta1, double beta2, double eps,
                   const uint8_t* ok) override {
    if (ok && !*ok) return;
    on_float(t, "AdamW", [&](auto tag) {
      using T = decltype(tag);
      for (int i = 0; i < count; ++i) {
        const kern::AdamWTensor& e = ts[i];
        kern::adamw_step<T>(m<T>(e.p), c<T>(e.g), m<T>(e.m), m<T>(e.v), e.n,
                            kern::AdamWArgs{e.lr, beta1, beta2, eps, e.weight_decay, e.step});
        if (e.copy_bf16) {
          Strided v;
          v.ndim = 1, v.shape[0] = e.n, v.stride[0] = 1;
          kern::copy_cast(e.p, t, v, e.copy_bf16, Elem::bf16, v);
        }
      }
    });
  }
  void sgd_step(Elem t, void* p, const void* g, void* buf, int64_t n, const kern::SgdArgs& a) override {
    on_float(t, "SGD", [&](auto tag) {
      using T = decltype(tag);
      kern::sgd_step<T>(m<T>(p), c<T>(g), m<T>(buf), n, a);
    });
  }
  double sum_squares(Elem t, const void* x, int64_t n) override {
    return on_float(t, "clip_grad_norm", [&](auto tag) {
      using T = decltype(tag);
      return kern::sum_squares<T>(c<T>(x), n);
    });
  }
  void scale_inplace(Elem t, void* x, int64_t n, double s) override {
    on_float(t, "clip_grad_norm", [&](auto tag) {
      using T = decltype(tag);
      kern::scale_inplace<T>(m<T>(x), n, s);
    });
  }
  void sum_squares_multi(Elem t, const kern::TensorRef* ts, int count, double*, double* out) override {
    double sq = 0;
    for (int i = 0; i < count; ++i) sq += sum_squares(t, ts[i].p, ts[i].n);
    *out = sq;
  }
  void clip_multi(Elem t, const kern::TensorRef* ts, int count, const double* sq, double max_norm) override {
    const double coef = max_norm / (std::sqrt(*sq) + 1e-6);
    if (!(coef < 1.0)) return;
    for (int i = 0; i < count; ++i) scale_inplace(t, ts[i].p, ts[i].n, coef);
  }
};

Backend* g_backends[2] = {&cpu_backend(), nullptr};

}  // namespace

std::string index_error(const kern::IndexCheck& c, int64_t value, int64_t position, int64_t limit) {
  if (c.classes) return cat(c.op, ": target ", value, " at position ", position, " is out of range for ", limit, " classes");
  return cat(c.op, ": index ", value, " at position ", position, " is out of range for size ", limit);
}

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

Backend& backend_for(Device d) {
  Backend* b = g_backends[static_cast<int>(d.type)];
  FT_CHECK(b != nullptr, "no backend for device ", d, ": this build has no CUDA backend");
  return *b;
}

Backend* set_backend(DeviceType type, Backend* b) {
  Backend* prev = g_backends[static_cast<int>(type)];
  g_backends[static_cast<int>(type)] = b;
  return prev;
}

}  // namespace ft
