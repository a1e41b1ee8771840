// Every op of the engine, forward and backward. Each family lives in one file under core/ops/,
// where the shape/dtype rules, the dispatch to the device kernel and the backward formula sit
// together. Floating ops run in f32 and f64 on the CPU; another dtype or device is a clear error.
#pragma once
#include <array>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "core/autograd.h"
#include "core/tensor.h"

namespace ft {

// ---- elementwise (core/ops/elementwise.cpp), NumPy broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor rsub(const Tensor& a, double s);  // s - a
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor rdiv(const Tensor& a, double s);  // s / a
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
enum class GeluApprox { none, tanh };  // "none" is the exact erf form (torch's default)
Tensor gelu(const Tensor& a, GeluApprox approx = GeluApprox::none);
Tensor silu(const Tensor& a);  // a * sigmoid(a) (composite)
Tensor clamp(const Tensor& a, std::optional<double> lo, std::optional<double> hi);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond: bool
Tensor where(const Tensor& cond, double a, const Tensor& b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
// Comparisons (not differentiable) -> bool.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums `g` down to `shape` (the inverse of broadcasting `shape` up to g's shape).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- reductions (core/ops/reduce.cpp); an empty dims list reduces over every dim ----
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor var(const Tensor& a, const std::vector<int64_t>& dims = {}, int64_t correction = 1,
           bool keepdim = false);
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);  // values, i64 indices
Tensor max(const Tensor& a);  // over all elements
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);

// ---- matmul and linear (core/ops/matmul.cpp) ----
Tensor matmul(const Tensor& a, const Tensor& b);  // batch broadcasting; 1-D operands as in NumPy
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());  // x W^T + b

// ---- normalisation and activations over the last dim ----
Tensor softmax(const Tensor& a, int64_t dim = -1);      // core/ops/softmax.cpp; dim must be the last
Tensor log_softmax(const Tensor& a, int64_t dim = -1);
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// Llama's RMSNorm: weight * x / sqrt(mean(x^2) + eps) over the last dim, computed in f32 (as
// transformers upcasts) and returned in x's dtype (composite, core/ops/layer_norm.cpp).
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-6);
// layer_norm(x + residual) in one pass (core/ops/layer_norm.cpp).
Tensor add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& weight, const Tensor& bias,
                      double eps = 1e-5);
// Fused ops (core/ops/fused.cpp), each with its composite definition:
// bias_gelu(x, b) = gelu(x + b); bias_dropout_add_layer_norm = layer_norm(dropout(x + x_bias) +
// residual, weight, bias); x_bias, residual, weight and bias may be undefined.
Tensor bias_gelu(const Tensor& x, const Tensor& bias, GeluApprox approx = GeluApprox::none);
Tensor bias_gelu_composite(const Tensor& x, const Tensor& bias, GeluApprox approx = GeluApprox::none);
// gelu(linear(x, w, b)): one cuBLASLt call on CUDA for the tanh approximation (core/ops/fused.cpp).
Tensor linear_bias_gelu(const Tensor& x, const Tensor& w, const Tensor& b, GeluApprox approx = GeluApprox::none);
Tensor linear_bias_gelu_composite(const Tensor& x, const Tensor& w, const Tensor& b,
                                  GeluApprox approx = GeluApprox::none);
Tensor bias_dropout_add_layer_norm(const Tensor& x, const Tensor& x_bias, const Tensor& residual, const Tensor& weight,
                                   const Tensor& bias, double eps, double p, bool training, Generator* gen = nullptr);
Tensor bias_dropout_add_layer_norm_composite(const Tensor& x, const Tensor& x_bias, const Tensor& residual,
                                             const Tensor& weight, const Tensor& bias, double eps, double p,
                                             bool training, Generator* gen = nullptr);
// Dropout with the Philox stream of `gen`; identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- attention (core/ops/attention.cpp) ----
// softmax(q k^T / sqrt(d) + mask) v for q [b, h, tq, d], k and v [b, h, tk, d]; mask additive and
// broadcastable to [b, h, tq, tk] (or undefined); dropout on the probabilities when training. The
// composite definition is attention_composite; a backend with a fused kernel runs that instead.
// lengths (empty, or one per batch element, each >= 1): keys j >= lengths[b] are left out, as a mask
// of -inf would leave them, and query rows i >= lengths[b] are not computed: their outputs (and
// gradients) are zero. Padding after each sequence then costs no attention work.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    double dropout_p = 0, bool training = false, Generator* gen = nullptr,
                                    const std::vector<int64_t>& lengths = {});
Tensor attention_composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p = 0,
                           bool training = false, Generator* gen = nullptr, const std::vector<int64_t>& lengths = {});

// ---- indexing (core/ops/indexing.cpp) ----
Tensor embedding(const Tensor& ids, const Tensor& weight, int64_t padding_idx = -1);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// The adjoint of index_select along dim 0: a zero tensor of `rows` rows (src's other dims) with row
// index[i] += src[i] (torch.zeros(...).index_add_(0, index, src)); repeated indices add in index order.
Tensor index_scatter(const Tensor& src, int64_t rows, const Tensor& index);
Tensor one_hot(const Tensor& ids, int64_t num_classes);  // i64 result
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);

// ---- sliding windows over NCHW tensors (core/ops/conv.cpp) ----
using Pair2 = std::array<int64_t, 2>;
struct Window2d {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
};
// [n, c*kh*kw, oh*ow] (torch.nn.functional.unfold), positions outside the image read pad_value.
Tensor im2col(const Tensor& x, const Window2d& w, double pad_value = 0);
// torch.nn.functional.conv2d: weight [out, in / groups, kh, kw], bias [out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Pair2 stride = {1, 1},
              Pair2 padding = {0, 0}, Pair2 dilation = {1, 1}, int64_t groups = 1);
// Pooling; a zero stride means the kernel size (torch's default).
Tensor max_pool2d(const Tensor& x, Pair2 kernel, Pair2 stride = {0, 0}, Pair2 padding = {0, 0});
Tensor avg_pool2d(const Tensor& x, Pair2 kernel, Pair2 stride = {0, 0}, Pair2 padding = {0, 0},
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair2 output_size);
// conv2d and training-mode batch_norm on CUDA: "auto" (cuDNN where the backend has it, the default),
// "cudnn" (an error where it has not) or "native" (our im2col + GEMM kernels and composites).
void set_conv_implementation(const std::string& name);
// torch.nn.functional.batch_norm over dim 1 of [N, C, ...]: batch statistics in training (running_mean
// and running_var, when defined, updated in place with momentum and the unbiased variance), the
// running statistics in evaluation.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- losses (core/ops/loss.cpp), mean reduction ----
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target);
Tensor mse_loss(const Tensor& input, const Tensor& target);

// Operators.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(double s, const Tensor& a) { return rdiv(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace ft
