// Backend: everything an op needs from a device, in terms of raw pointers and plain layouts
// (kernels/common). Ops (core/ops/) check shapes, pick the backend of their operands' device and
// call it; the backend runs its kernels. The CPU backend is built in; a CUDA backend (the real one,
// or the SIMT-emulated one in test binaries) registers itself for DeviceType::cuda.
// A dtype a backend does not implement for an op is an ft::Error naming both, never a fallback.
#pragma once
#include <cstdint>
#include <string>

#include "core/device.h"
#include "core/dtype.h"
#include "kernels/common/attention.h"
#include "kernels/common/conv.h"
#include "kernels/common/ops.h"
#include "kernels/common/strided.h"
#include "kernels/common/unfold.h"

namespace ft {

using kern::Elem;
using kern::Strided;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Throws ft::Error "<op>: unsupported dtype X on <backend> (supported: ...)" unless the backend
  // computes `op` in dtype t.
  virtual void require(const char* op, Elem t) const = 0;

  // Data movement and fills (any dtype).
  virtual void copy_cast(const void* src, Elem st, const Strided& sv, void* dst, Elem dt, const Strided& dv) = 0;
  virtual void fill(void* dst, Elem t, const Strided& dv, double value) = 0;
  // Rows idx[0..count) of a table of `rows` rows; indices outside it give zero rows (they are
  // reported by check_indices).
  virtual void gather_rows(const void* table, int64_t rows, const int64_t* idx, int64_t count, int64_t row_bytes,
                           void* out) = 0;

  // Elementwise; out is contiguous with the (broadcast) shape of the views.
  virtual void unary(kern::UnaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, void* out) = 0;
  virtual void binary(kern::BinaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, const void* y,
                      const Strided& yv, void* out) = 0;
  virtual void where(const void* cond, const Strided& cv, Elem t, const void* x, const Strided& xv, const void* y,
                     const Strided& yv, void* out) = 0;

  // Reductions over the middle axis of contiguous [outer, r, inner] data.
  virtual void reduce_sum(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out) = 0;
  virtual void reduce_var(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, int64_t correction,
                          void* out) = 0;
  virtual void reduce_max(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out, int64_t* idx) = 0;
  virtual void scatter_max_grad(Elem t, const void* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner,
                                void* dx) = 0;

  // `batch` GEMMs whose operands are `stride_*` elements apart (stride 0: shared operand).
  virtual void gemm_batched(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                            const void* a, int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b,
                            double beta, void* c, int64_t ldc, int64_t stride_c, int64_t batch) = 0;
  // Row-major GEMM (see kernels/cpu/gemm.h).
  virtual void gemm(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
                    int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc) = 0;

  // Row-wise ops over contiguous [rows, n]. LayerNorm statistics are f64 for f64 data, else f32.
  virtual void softmax_fwd(Elem t, const void* x, int64_t rows, int64_t n, bool log, void* y) = 0;
  virtual void softmax_bwd(Elem t, const void* g, const void* y, int64_t rows, int64_t n, bool log, void* dx) = 0;
  // With a residual: normalises x + residual and writes that sum to sum_out (fused residual add).
  virtual void layer_norm_fwd(Elem t, const void* x, const void* w, const void* b, int64_t rows, int64_t n, double eps,
                              void* y, void* mean, void* rstd, const void* residual, void* sum_out) = 0;
  virtual void layer_norm_bwd(Elem t, const void* g, const void* x, const void* mean, const void* rstd, const void* w,
                              int64_t rows, int64_t n, void* dx, void* dw, void* db) = 0;
  // Per-row losses, log-sum-exps and valid flags (1, or 0 for ignore_index) in the accumulation dtype;
  // the backward's scale is one value of that dtype in device memory.
  virtual void cross_entropy_fwd(Elem t, const void* logits, const int64_t* target, int64_t rows, int64_t classes,
                                 int64_t ignore_index, double smoothing, void* loss, void* lse, void* valid) = 0;
  virtual void cross_entropy_bwd(Elem t, const void* logits, const int64_t* target, const void* lse, int64_t rows,
                                 int64_t classes, int64_t ignore_index, double smoothing, const void* scale,
                                 void* dlogits) = 0;

  // Optional ops (kern::OptionalOp): the name of this backend's implementation of `op` in dtype t
  // ("cpu" for its own kernels, or the library: "onednn", "cudnn"), or null, and the op runs its
  // composite definition; the entry points below are then never called.
  virtual const char* implementation(kern::OptionalOp /*op*/, Elem /*t*/) const { return nullptr; }
  bool implements(kern::OptionalOp op, Elem t) const { return implementation(op, t) != nullptr; }
  // Attention (kernels/common/attention.h: strided q, k, v, mask, dropout).
  virtual void attention_fwd(const kern::AttentionArgs&) {}
  virtual void attention_bwd(const kern::AttentionArgs&) {}
  // Bytes of scratch the backward needs in args.workspace (the op allocates them).
  virtual size_t attention_bwd_workspace(const kern::AttentionArgs&) const { return 0; }
  // Linear layers with a bias (OptionalOp::linear_bias), row-major over contiguous data: y[m, n] =
  // x[m, k] w[n, k]^T + b[n] in one GEMM, and dw[n, k] = g^T x with db[n] = the column sums of g in
  // one GEMM (CUDA: cuBLASLt's BIAS and BGRADB epilogues).
  virtual void linear_bias_fwd(Elem, const void* /*x*/, const void* /*w*/, const void* /*b*/, int64_t /*m*/,
                               int64_t /*n*/, int64_t /*k*/, void* /*y*/) {}
  virtual void linear_wgrad_bgrad(Elem, const void* /*g*/, const void* /*x*/, int64_t /*m*/, int64_t /*n*/,
                                  int64_t /*k*/, void* /*dw*/, void* /*db*/) {}
  // gelu_tanh(x w^T + b) (OptionalOp::linear_bias_gelu, the tanh approximation only) in one GEMM,
  // with the pre-activation x w^T + b written to aux [m, n] for the backward (cuBLASLt's
  // GELU_AUX_BIAS). n must be a multiple of 8 (the aux leading dimension's rule).
  virtual void linear_bias_gelu_fwd(Elem, const void* /*x*/, const void* /*w*/, const void* /*b*/, int64_t /*m*/,
                                    int64_t /*n*/, int64_t /*k*/, void* /*y*/, void* /*aux*/) {}
  // gelu(x + bias[col]) and its input gradient over contiguous [rows, n].
  virtual void bias_gelu_fwd(Elem, bool /*exact*/, const void* /*x*/, const void* /*bias*/, int64_t /*rows*/,
                             int64_t /*n*/, void* /*y*/) {}
  virtual void bias_gelu_bwd(Elem, bool /*exact*/, const void* /*g*/, const void* /*x*/, const void* /*bias*/,
                             int64_t /*rows*/, int64_t /*n*/, void* /*dx*/) {}
  // layer_norm(dropout(x + x_bias) + residual) forward; the backward is layer_norm_bwd on sum_out.
  virtual void bias_dropout_layer_norm_fwd(Elem, const kern::BiasDropoutLayerNormArgs&) {}

  // Sliding windows over NCHW data (kernels/common/unfold.h): im2col reads `pad` outside the image;
  // col2im is its adjoint and overwrites dx.
  virtual void im2col(Elem t, const void* x, const kern::UnfoldGeom& g, double pad, void* cols) = 0;
  virtual void col2im(Elem t, const void* cols, const kern::UnfoldGeom& g, void* dx) = 0;

  // Convolution and training-mode batch norm over NCHW data (kernels/common/conv.h).
  virtual void conv2d_fwd(Elem, const kern::ConvGeom&, const void* /*x*/, const void* /*w*/, void* /*y*/) {}
  virtual void conv2d_bwd_data(Elem, const kern::ConvGeom&, const void* /*w*/, const void* /*dy*/, void* /*dx*/) {}
  virtual void conv2d_bwd_weight(Elem, const kern::ConvGeom&, const void* /*x*/, const void* /*dy*/, void* /*dw*/) {}
  virtual void batch_norm_fwd_train(Elem, const kern::BatchNormArgs&) {}
  virtual void batch_norm_bwd(Elem, const kern::BatchNormArgs&) {}
  // Max pooling over NCHW data (kernels/cpu/pool.h): idx gets each output's input element.
  virtual void max_pool2d_fwd(Elem, const kern::UnfoldGeom&, const void* /*x*/, void* /*y*/, int64_t* /*idx*/) {}
  virtual void max_pool2d_bwd(Elem, const kern::UnfoldGeom&, const void* /*dy*/, const int64_t* /*idx*/,
                              void* /*dx*/) {}

  // Indexing and randomness. Indices outside [0, rows) of the table are skipped.
  virtual void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width,
                                int64_t skip, void* table, int64_t rows) = 0;
  // Every idx[i] in [0, limit) (or equal to c.skip when c.has_skip). The CPU throws at once; a device
  // records the first failure, and raise_deferred_errors() reads the record (one device-to-host
  // copy) and throws the same message, so that no op waits for the device to validate its input.
  virtual void check_indices(const int64_t* idx, int64_t n, int64_t limit, const kern::IndexCheck& c) = 0;
  virtual void raise_deferred_errors() {}
  // *out (one f64 in device memory) = 1 when a deferred error is recorded, else 0.
  virtual void deferred_error_flag(double* out) = 0;
  virtual void philox_fill(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out) = 0;
  virtual void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) = 0;
  virtual void apply_mask(Elem t, const void* x, const uint8_t* keep, double scale, int64_t n, void* out) = 0;

  // Optimizers.
  // Updates every listed parameter (all of dtype t); the CUDA backend does it in one launch.
  // With `ok` (one byte in device memory), the update happens only when *ok != 0: the decision to
  // skip a non-finite step stays on the device.
  virtual void adamw_multi(Elem t, const kern::AdamWTensor* ts, int count, double beta1, double beta2, double eps,
                           const uint8_t* ok) = 0;
  virtual void sgd_step(Elem t, void* p, const void* g, void* buf, int64_t n, const kern::SgdArgs& a) = 0;
  virtual double sum_squares(Elem t, const void* x, int64_t n) = 0;
  virtual void scale_inplace(Elem t, void* x, int64_t n, double s) = 0;
  // Multi-tensor passes with results in device memory (no host wait): the sum of squares (f64) of
  // every listed tensor into *out, in a fixed order, and clipping every tensor by
  // min(max_norm / (sqrt(*sq) + 1e-6), 1). sum_squares_workspace: f64 values the sum needs.
  virtual int64_t sum_squares_workspace(const kern::TensorRef*, int) const { return 0; }
  virtual void sum_squares_multi(Elem t, const kern::TensorRef* ts, int count, double* workspace, double* out) = 0;
  virtual void clip_multi(Elem t, const kern::TensorRef* ts, int count, const double* sq, double max_norm) = 0;
};

// "<op>: index 7 at position 1 is out of range for size 5" (or "target ... for 3 classes").
std::string index_error(const kern::IndexCheck& c, int64_t value, int64_t position, int64_t limit);

// The backend of a device; throws ft::Error when none is registered for its type.
Backend& backend_for(Device d);
Backend* set_backend(DeviceType type, Backend* b);  // returns the previous one
Backend& cpu_backend();

}  // namespace ft
