// The CUDA backend: core's Backend interface forwarded to the kernel launchers of kernels/cuda.
// Floating ops compute in f32, f64, bf16 and f16 (the half types accumulate in f32).
#include <mutex>
#include <string>

#include "core/backend.h"
#include "core/cuda/cuda_backend.h"
#include "core/error.h"
#include "kernels/cuda/launchers.h"
#if defined(FT_CUDNN)
#include "kernels/cuda/cudnn.h"
#endif
#include "kernels/cuda/runtime.h"

namespace ft {
namespace {

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }
  void require(const char* op, Elem t) const override {
    FT_CHECK(t == Elem::f32 || t == Elem::f64 || t == Elem::bf16 || t == Elem::f16, op, ": unsupported dtype ",
             kern::elem_name(t), " on cuda (supported: f32, f64, bf16, f16)");
  }
  void copy_cast(const void* src, Elem st, const Strided& sv, void* dst, Elem dt, const Strided& dv) override {
    cuda::copy_cast(src, st, sv, dst, dt, dv);
  }
  void fill(void* dst, Elem t, const Strided& dv, double value) override { cuda::fill(dst, t, dv, value); }
  void gather_rows(const void* table, int64_t rows, const int64_t* idx, int64_t count, int64_t row_bytes,
                   void* out) override {
    cuda::gather_rows(table, rows, idx, count, row_bytes, out);
  }
  void unary(kern::UnaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, void* out) override {
    cuda::unary(op, a, b, t, x, xv, out);
  }
  void binary(kern::BinaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, const void* y,
              const Strided& yv, void* out) override {
    cuda::binary(op, a, b, t, x, xv, y, yv, out);
  }
  void where(const void* cond, const Strided& cv, Elem t, const void* x, const Strided& xv, const void* y,
             const Strided& yv, void* out) override {
    cuda::where(cond, cv, t, x, xv, y, yv, out);
  }
  void reduce_sum(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out) override {
    cuda::reduce_sum(t, in, outer, r, inner, out);
  }
  void reduce_var(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, int64_t correction,
                  void* out) override {
    cuda::reduce_var(t, in, outer, r, inner, correction, out);
  }
  void reduce_max(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out, int64_t* idx) override {
    cuda::reduce_max(t, in, outer, r, inner, out, idx);
  }
  void scatter_max_grad(Elem t, const void* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner,
                        void* dx) override {
    cuda::scatter_max_grad(t, g, idx, outer, r, inner, dx);
  }
  void gemm(Elem t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
            const void* b, int64_t ldb, double beta, void* c, int64_t ldc) override {
    cuda::gemm(t, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void gemm_batched(Elem t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
                    int64_t lda, int64_t sa, const void* b, int64_t ldb, int64_t sb, double beta, void* c, int64_t ldc,
                    int64_t sc, int64_t batch) override {
    cuda::gemm_batched(t, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
  }
  void softmax_fwd(Elem t, const void* x, int64_t rows, int64_t n, bool log, void* y) override {
    cuda::softmax_fwd(t, x, rows, n, log, y);
  }
  void softmax_bwd(Elem t, const void* g, const void* y, int64_t rows, int64_t n, bool log, void* dx) override {
    cuda::softmax_bwd(t, g, y, rows, n, log, dx);
  }
  void layer_norm_fwd(Elem t, const void* x, const void* w, const void* b, int64_t rows, int64_t n, double eps, void* y,
                      void* mean, void* rstd, const void* residual, void* sum_out) override {
    cuda::layer_norm_fwd(t, x, w, b, rows, n, eps, y, mean, rstd, residual, sum_out);
  }
  void layer_norm_bwd(Elem t, const void* g, const void* x, const void* mean, const void* rstd, const void* w,
                      int64_t rows, int64_t n, void* dx, void* dw, void* db) override {
    cuda::layer_norm_bwd(t, g, x, mean, rstd, w, rows, n, dx, dw, db);
  }
  void cross_entropy_fwd(Elem t, const void* logits, const int64_t* target, int64_t rows, int64_t classes,
                         int64_t ignore_index, double smoothing, void* loss, void* lse, void* valid) override {
    cuda::cross_entropy_fwd(t, logits, target, rows, classes, ignore_index, smoothing, loss, lse, valid);
  }
  void cross_entropy_bwd(Elem t, const void* logits, const int64_t* target, const void* lse, int64_t rows,
                         int64_t classes, int64_t ignore_index, double smoothing, const void* scale,
                         void* dlogits) override {
    cuda::cross_entropy_bwd(t, logits, target, lse, rows, classes, ignore_index, smoothing, scale, dlogits);
  }
  const char* implementation(kern::OptionalOp op, Elem t) const override {
    const bool floats = t == Elem::f32 || t == Elem::bf16 || t == Elem::f16;
    if (op == kern::OptionalOp::attention && floats) return "flash";
    if ((op == kern::OptionalOp::linear_bias || op == kern::OptionalOp::linear_bias_gelu) && floats) return "cublaslt";
#if defined(FT_CUDNN)
    if (op == kern::OptionalOp::conv2d) return "cudnn";
    if (op == kern::OptionalOp::batch_norm && (t == Elem::f32 || t == Elem::f64)) return "cudnn";
#endif
    return nullptr;
  }
  void linear_bias_fwd(Elem t, const void* x, const void* w, const void* b, int64_t m, int64_t n, int64_t k,
                       void* y) override {
    cuda::linear_bias_fwd(t, x, w, b, m, n, k, y);
  }
  void linear_wgrad_bgrad(Elem t, const void* g, const void* x, int64_t m, int64_t n, int64_t k, void* dw,
                          void* db) override {
    cuda::linear_wgrad_bgrad(t, g, x, m, n, k, dw, db);
  }
  void linear_bias_gelu_fwd(Elem t, const void* x, const void* w, const void* b, int64_t m, int64_t n, int64_t k,
                            void* y, void* aux) override {
    cuda::linear_bias_gelu_fwd(t, x, w, b, m, n, k, y, aux);
  }
  void attention_fwd(const kern::AttentionArgs& a) override { cuda::attention_fwd(a); }
  void attention_bwd(const kern::AttentionArgs& a) override { cuda::attention_bwd(a, a.workspace); }
  size_t attention_bwd_workspace(const kern::AttentionArgs& a) const override {
    return cuda::attention_bwd_workspace_bytes(a);
  }
#if defined(FT_CUDNN)
  void conv2d_fwd(Elem t, const kern::ConvGeom& g, const void* x, const void* w, void* y) override {
    cuda::cudnn_conv2d_fwd(t, g, x, w, y);
  }
  void conv2d_bwd_data(Elem t, const kern::ConvGeom& g, const void* w, const void* dy, void* dx) override {
    cuda::cudnn_conv2d_bwd_data(t, g, w, dy, dx);
  }
  void conv2d_bwd_weight(Elem t, const kern::ConvGeom& g, const void* x, const void* dy, void* dw) override {
    cuda::cudnn_conv2d_bwd_filter(t, g, x, dy, dw);
  }
  void batch_norm_fwd_train(Elem t, const kern::BatchNormArgs& a) override {
    cuda::cudnn_batch_norm_fwd_train(t, a.n, a.c, a.hw, a.x, a.scale, a.bias, a.momentum, a.eps, a.running_mean,
                                     a.running_var, a.y, a.save_mean, a.save_spread);
  }
  void batch_norm_bwd(Elem t, const kern::BatchNormArgs& a) override {
    cuda::cudnn_batch_norm_bwd(t, a.n, a.c, a.hw, a.x, a.dy, a.scale, a.eps, a.save_mean, a.save_spread, a.dx,
                               a.dscale, a.dbias);
  }
#endif
  void im2col(Elem t, const void* x, const kern::UnfoldGeom& g, double pad, void* cols) override {
    cuda::im2col(t, x, g, pad, cols);
  }
  void col2im(Elem t, const void* cols, const kern::UnfoldGeom& g, void* dx) override { cuda::col2im(t, cols, g, dx); }
  void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                        void* table, int64_t rows) override {
    cuda::scatter_add_rows(t, src, idx, count, width, skip, table, rows);
  }
  void check_indices(const int64_t* idx, int64_t n, int64_t limit, const kern::IndexCheck& c) override {
    cuda::check_indices(idx, n, limit, c);
  }
  void deferred_error_flag(double* out) override { cuda::error_flag(out); }
  void raise_deferred_errors() override {
    kern::IndexCheck c;
    int64_t value = 0, position = 0, limit = 0;
    if (cuda::take_device_error(&c, &value, &position, &limit)) throw Error(index_error(c, value, position, limit));
  }
  void philox_fill(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out) override {
    cuda::philox_fill(seed, offset, n, normal, out);
  }
  void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) override {
    cuda::dropout_mask(seed, offset, p, n, keep);
  }
  void apply_mask(Elem t, const void* x, const uint8_t* keep, double scale, int64_t n, void* out) override {
    cuda::apply_mask(t, x, keep, scale, n, out);
  }
  void adamw_multi(Elem t, const kern::AdamWTensor* ts, int count, double beta1, double beta2, double eps,
                   const uint8_t* ok) override {
    cuda::adamw_multi(t, ts, count, beta1, beta2, eps, ok);
  }
  void sgd_step(Elem t, void* p, const void* g, void* buf, int64_t n, const kern::SgdArgs& a) override {
    cuda::sgd_step(t, p, g, buf, n, a);
  }
  double sum_squares(Elem t, const void* x, int64_t n) override { return cuda::sum_squares(t, x, n); }
  void scale_inplace(Elem t, void* x, int64_t n, double s) override { cuda::scale_inplace(t, x, n, s); }
  int64_t sum_squares_workspace(const kern::TensorRef* ts, int count) const override {
    return cuda::multi_chunks(ts, count);
  }
  void sum_squares_multi(Elem t, const kern::TensorRef* ts, int count, double* workspace, double* out) override {
    cuda::sum_squares_multi(t, ts, count, workspace, out);
  }
  void clip_multi(Elem t, const kern::TensorRef* ts, int count, const double* sq, double max_norm) override {
    cuda::clip_multi(t, ts, count, sq, max_norm);
  }
};

}  // namespace

CachingAllocator& cuda_allocator() {
  static CachingAllocator* a = new CachingAllocator;  // outlives every tensor, including static ones
  return *a;
}

const char* cuda_runtime_name() { return cuda::runtime_name(); }

void use_cuda_device(int index) {
  static std::mutex m;
  static int used = -1;
  std::lock_guard<std::mutex> lock(m);
  if (index == used) return;
  const int n = cuda::device_count();
  FT_CHECK(index >= 0 && index < n, "cuda:", index, ": no such device; this machine has ", n, " CUDA device",
           n == 1 ? "" : "s", n > 0 ? cat(" (cuda:0", n > 1 ? cat(" to cuda:", n - 1) : std::string(), ")") : "");
  FT_CHECK(used < 0, "cuda:", index, ": this process already runs on cuda:", used,
           "; ftrain runs one CUDA device per process (launch one process per device)");
  cuda::select_device(index);
  used = index;
}

bool install_cuda_backend() {
  if (cuda::device_count() == 0) return false;
  static CudaBackend* backend = new CudaBackend;
  set_allocator(DeviceType::cuda, &cuda_allocator());
  set_backend(DeviceType::cuda, backend);
  install_nccl_collectives();
  return true;
}

}  // namespace ft
