// Host launchers of the CUDA kernels (kernels/cuda/*.cu): plain C++ declarations, so engine code
// calls the same functions whether the kernels were compiled by nvcc or run by the SIMT emulator.
// Arguments mirror core/backend.h; element types f32, f64, bf16 and f16 (computed in f32 for the
// half types). Launches go to the default stream. Errors throw ft::Error.
#pragma once
#include <cstdint>

#include "kernels/common/attention.h"
#include "kernels/common/ops.h"
#include "kernels/common/strided.h"
#include "kernels/common/unfold.h"

namespace ft::cuda {

using kern::Elem;
using kern::Strided;

// elementwise.cu
void copy_cast(const void* src, Elem st, const Strided& sv, void* dst, Elem dt, const Strided& dv);
void fill(void* dst, Elem t, const Strided& dv, double value);
void unary(kern::UnaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, void* out);
void binary(kern::BinaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, const void* y,
            const Strided& yv, void* out);
void where(const void* cond, const Strided& cv, Elem t, const void* x, const Strided& xv, const void* y,
           const Strided& yv, void* out);
void philox_fill(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out);
void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep);
void apply_mask(Elem t, const void* x, const uint8_t* keep, double scale, int64_t n, void* out);

// reduce.cu
void reduce_sum(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out);
void reduce_var(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, int64_t correction, void* out);
void reduce_max(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out, int64_t* idx);
void scatter_max_grad(Elem t, const void* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner, void* dx);
// Sum of squares in f64 of n elements (for the global gradient norm) and in-place scaling.
double sum_squares(Elem t, const void* x, int64_t n);
void scale_inplace(Elem t, void* x, int64_t n, double s);
// Multi-tensor passes, no host wait: the sum of squares of every listed tensor into *out (f64, device
// memory) in a fixed order (per-chunk partials in `partials`, multi_chunks(ts, count) of them, then
// one block adds them), and clipping: every tensor times min(max_norm / (sqrt(*sq) + 1e-6), 1), the
// coefficient read on the device.
int64_t multi_chunks(const kern::TensorRef* ts, int count);
void sum_squares_multi(Elem t, const kern::TensorRef* ts, int count, double* partials, double* out);
void clip_multi(Elem t, const kern::TensorRef* ts, int count, const double* sq, double max_norm);

// softmax.cu
void softmax_fwd(Elem t, const void* x, int64_t rows, int64_t n, bool log, void* y);
void softmax_bwd(Elem t, const void* g, const void* y, int64_t rows, int64_t n, bool log, void* dx);
// loss/lse are f32 (f64 for f64 logits).
// valid[row] = 1 for rows whose target is not ignore_index, else 0. The backward's scale is one
// value in device memory (f32, f64 for f64 logits): the upstream gradient over the valid count.
void cross_entropy_fwd(Elem t, const void* logits, const int64_t* target, int64_t rows, int64_t classes,
                       int64_t ignore_index, double smoothing, void* loss, void* lse, void* valid);
void cross_entropy_bwd(Elem t, const void* logits, const int64_t* target, const void* lse, int64_t rows,
                       int64_t classes, int64_t ignore_index, double smoothing, const void* scale, void* dlogits);

// layer_norm.cu: mean/rstd are f32 (f64 for f64 data); w, b, dx, dw, db may be null.
// With a residual, normalises x + residual and writes the sum to sum_out.
void layer_norm_fwd(Elem t, const void* x, const void* w, const void* b, int64_t rows, int64_t n, double eps, void* y,
                    void* mean, void* rstd, const void* residual = nullptr, void* sum_out = nullptr);
void layer_norm_bwd(Elem t, const void* g, const void* x, const void* mean, const void* rstd, const void* w,
                    int64_t rows, int64_t n, void* dx, void* dw, void* db);

// indexing.cu: indices outside [0, rows) of the table are skipped (gathers write zeros).
void gather_rows(const void* table, int64_t rows, const int64_t* idx, int64_t count, int64_t row_bytes, void* out);
void scatter_add_rows(Elem t, const void* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip,
                      void* table, int64_t rows);
// Checks idx against [0, limit) on the device; the first failure goes to the device's error record,
// which take_device_error reads (one device-to-host copy) and clears: true when there was one.
void check_indices(const int64_t* idx, int64_t n, int64_t limit, const kern::IndexCheck& c);
bool take_device_error(kern::IndexCheck* c, int64_t* value, int64_t* position, int64_t* limit);
// *out (f64, device memory) = 1 when the error record holds a failure, else 0: a step's report
// carries it, so reading the record costs a wait only when there was an error.
void error_flag(double* out);

// unfold.cu: cols [n, c*kh*kw, oh*ow] from NCHW x (pad outside the image), and its adjoint (dx overwritten).
void im2col(Elem t, const void* x, const kern::UnfoldGeom& g, double pad, void* cols);
void col2im(Elem t, const void* cols, const kern::UnfoldGeom& g, void* dx);

// optim.cu
void adamw_step(Elem t, void* p, const void* g, void* m, void* v, int64_t n, const kern::AdamWArgs& a);
// Every tensor in one launch: a block per chunk of 4096 elements, over a device-side table.
// `ok` (device memory, or null): the update is skipped when *ok == 0, decided on the device.
void adamw_multi(Elem t, const kern::AdamWTensor* ts, int count, double beta1, double beta2, double eps,
                 const uint8_t* ok = nullptr);
void sgd_step(Elem t, void* p, const void* g, void* buf, int64_t n, const kern::SgdArgs& a);

// attention.cu: flash attention (kernels/common/attention.h) in f32, bf16 and f16, head dims up to
// 128. The mask and lse are f32; lengths, when given, lie in device memory. The backward reads the
// forward's output (a.out) and needs attention_bwd_workspace_bytes(a) of device memory.
void attention_fwd(const kern::AttentionArgs& a);
void attention_bwd(const kern::AttentionArgs& a, void* workspace);
size_t attention_bwd_workspace_bytes(const kern::AttentionArgs& a);

// blas.cpp: row-major GEMM through cuBLAS (the emulated build links a checking stand-in).
void gemm(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
          const void* b, int64_t ldb, double beta, void* c, int64_t ldc);
// Strided-batched (cublasGemmStridedBatchedEx); strides in elements.
void gemm_batched(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
                  int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b, double beta, void* c,
                  int64_t ldc, int64_t stride_c, int64_t batch);
// Linear layers through cuBLASLt epilogues (f32, bf16, f16), row-major: y[m, n] = x[m, k] w[n, k]^T
// + bias[n] in one call (BIAS), and dw[n, k] = g[m, n]^T x[m, k] with db[n] = column sums of g in
// one call (BGRADB).
void linear_bias_fwd(Elem t, const void* x, const void* w, const void* bias, int64_t m, int64_t n, int64_t k, void* y);
void linear_wgrad_bgrad(Elem t, const void* g, const void* x, int64_t m, int64_t n, int64_t k, void* dw, void* db);
// y = gelu_tanh(x w^T + bias) in one call (GELU_AUX_BIAS), aux[m, n] = the pre-activation; n % 8 == 0.
void linear_bias_gelu_fwd(Elem t, const void* x, const void* w, const void* bias, int64_t m, int64_t n, int64_t k,
                          void* y, void* aux);
// f32 GEMMs may use TF32 tensor cores (10-bit mantissa inputs, f32 accumulation). Off by default,
// as in PyTorch.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace ft::cuda
