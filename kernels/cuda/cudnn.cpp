#include "kernels/cuda/cudnn.h"

#include <cudnn.h>

#include <climits>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace ft::cuda {
namespace {

constexpr size_t kWorkspaceBudget = size_t{512} << 20;

void check(cudnnStatus_t s, const char* call) {
  if (s == CUDNN_STATUS_SUCCESS) return;
  char detail[512] = "";
  cudnnGetLastErrorString(detail, sizeof(detail));
  throw Error(cat(call, " failed: ", cudnnGetErrorString(s), " (", static_cast<int>(s), ") ", detail));
}
#define FT_CUDNN_CHECK(call) check(call, #call)

int as_int(int64_t v) {
  FT_CHECK(v >= 0 && v <= INT_MAX, "cuDNN: size ", v, " does not fit an int");
  return static_cast<int>(v);
}

// One handle per host thread, bound to the thread's current stream at each use.
cudnnHandle_t handle() {
  thread_local cudnnHandle_t h = [] {
    current_stream();  // binds the process's device to this thread before the handle is made on it
    cudnnHandle_t created = nullptr;
    FT_CUDNN_CHECK(cudnnCreate(&created));
    return created;
  }();
  FT_CUDNN_CHECK(cudnnSetStream(h, reinterpret_cast<cudaStream_t>(current_stream())));
  return h;
}

// A workspace per thread, grown when an algorithm needs more.
void* workspace(size_t bytes) {
  thread_local void* ptr = nullptr;
  thread_local size_t size = 0;
  if (bytes <= size) return ptr;
  if (ptr) device_free(ptr);
  ptr = device_malloc(bytes);
  FT_CHECK(ptr != nullptr, "cuDNN: cannot allocate a ", bytes, "-byte workspace");
  size = bytes;
  return ptr;
}

cudnnDataType_t data_type(Elem t) {
  switch (t) {
    case Elem::f32:
      return CUDNN_DATA_FLOAT;
    case Elem::f64:
      return CUDNN_DATA_DOUBLE;
    case Elem::f16:
      return CUDNN_DATA_HALF;
    case Elem::bf16:
      return CUDNN_DATA_BFLOAT16;
    default:
      throw Error(cat("cuDNN: unsupported dtype ", kern::elem_name(t)));
  }
}

struct Tensor4d {
  cudnnTensorDescriptor_t d = nullptr;
  Tensor4d(Elem t, int64_t n, int64_t c, int64_t h, int64_t w) {
    FT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    FT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, data_type(t), as_int(n), as_int(c), as_int(h), as_int(w)));
  }
  ~Tensor4d() { cudnnDestroyTensorDescriptor(d); }
  Tensor4d(const Tensor4d&) = delete;
  Tensor4d& operator=(const Tensor4d&) = delete;
};

// The descriptors of one convolution.
struct Conv {
  Tensor4d x, y;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Conv(Elem t, const ConvGeom& cg)
      : x(t, cg.g.n, cg.g.c, cg.g.h, cg.g.w), y(t, cg.g.n, cg.out_channels, cg.g.oh, cg.g.ow) {
    const kern::UnfoldGeom& g = cg.g;
    FT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    FT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, data_type(t), CUDNN_TENSOR_NCHW, as_int(cg.out_channels),
                                              as_int(g.c / cg.groups), as_int(g.kh), as_int(g.kw)));
    FT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    // f32 compute for f32/f16/bf16 data, f64 for f64.
    FT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, as_int(g.ph), as_int(g.pw), as_int(g.sh), as_int(g.sw),
                                                   as_int(g.dh), as_int(g.dw), CUDNN_CROSS_CORRELATION,
                                                   t == Elem::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT));
    FT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, as_int(cg.groups)));
  }
  ~Conv() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
  }
  Conv(const Conv&) = delete;
  Conv& operator=(const Conv&) = delete;
  // Tensor cores for half types; for f32, TF32 only when matmul allows it (as cuBLAS).
  void set_math(cudnnMathType_t chosen, Elem t) const {
    cudnnMathType_t m = chosen;
    if (t == Elem::f32 && !allow_tf32() && m != CUDNN_FMA_MATH) m = CUDNN_FMA_MATH;
    FT_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, m));
  }
};

using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, bool>;
Key key_of(int which, Elem t, const ConvGeom& cg) {
  const kern::UnfoldGeom& g = cg.g;
  return {which,
          static_cast<int>(t),
          g.n,
          g.c,
          g.h,
          g.w,
          g.kh,
          g.kw,
          g.sh,
          g.sw,
          g.ph,
          g.pw,
          g.dh,
          g.dw * 1000003 + cg.groups,
          cg.out_channels,
          allow_tf32()};
}

struct Choice {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
};

std::mutex g_cache_mutex;
std::map<Key, Choice> g_cache;

// The first algorithm of cuDNN's heuristic ranking that succeeds, is deterministic and fits the budget.
template <class Perf, class Query, class Size>
Choice choose(const Key& key, const char* what, Query query, Size size_of) {
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) return it->second;
  }
  std::vector<Perf> perf(16);
  int returned = 0;
  query(static_cast<int>(perf.size()), &returned, perf.data());
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[static_cast<size_t>(i)];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC) continue;
    const size_t ws = size_of(static_cast<int>(p.algo), p.mathType);
    if (ws > kWorkspaceBudget) continue;
    const Choice c{static_cast<int>(p.algo), p.mathType, ws};
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    g_cache[key] = c;
    return c;
  }
  throw Error(
      cat("cuDNN: no deterministic ", what, " algorithm within ", kWorkspaceBudget >> 20, " MiB for this shape"));
}

// alpha/beta are float for float, half and bf16 data, double for double data.
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  Elem t;
  const void* one() const { return t == Elem::f64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return t == Elem::f64 ? static_cast<const void*>(&d0) : &f0; }
};

}  // namespace

void cudnn_conv2d_fwd(Elem t, const ConvGeom& cg, const void* x, const void* w, void* y) {
  cudnnHandle_t h = handle();
  Conv c(t, cg);
  const Choice ch = choose<cudnnConvolutionFwdAlgoPerf_t>(
      key_of(0, t, cg), "convolution forward",
      [&](int n, int* ret, cudnnConvolutionFwdAlgoPerf_t* p) {
        FT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, c.x.d, c.w, c.conv, c.y.d, n, ret, p));
      },
      [&](int algo, cudnnMathType_t m) {
        c.set_math(m, t);
        size_t bytes = 0;
        FT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, c.x.d, c.w, c.conv, c.y.d,
                                                               static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes));
        return bytes;
      });
  c.set_math(ch.math, t);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(
      cudnnConvolutionForward(h, s.one(), c.x.d, x, c.w, w, c.conv, static_cast<cudnnConvolutionFwdAlgo_t>(ch.algo),
                              ch.workspace ? workspace(ch.workspace) : nullptr, ch.workspace, s.zero(), c.y.d, y));
}

void cudnn_conv2d_bwd_data(Elem t, const ConvGeom& cg, const void* w, const void* dy, void* dx) {
  cudnnHandle_t h = handle();
  Conv c(t, cg);
  const Choice ch = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
      key_of(1, t, cg), "convolution backward-data",
      [&](int n, int* ret, cudnnConvolutionBwdDataAlgoPerf_t* p) {
        FT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w, c.y.d, c.conv, c.x.d, n, ret, p));
      },
      [&](int algo, cudnnMathType_t m) {
        c.set_math(m, t);
        size_t bytes = 0;
        FT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, c.w, c.y.d, c.conv, c.x.d, static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes));
        return bytes;
      });
  c.set_math(ch.math, t);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(cudnnConvolutionBackwardData(
      h, s.one(), c.w, w, c.y.d, dy, c.conv, static_cast<cudnnConvolutionBwdDataAlgo_t>(ch.algo),
      ch.workspace ? workspace(ch.workspace) : nullptr, ch.workspace, s.zero(), c.x.d, dx));
}

void cudnn_conv2d_bwd_filter(Elem t, const ConvGeom& cg, const void* x, const void* dy, void* dw) {
  cudnnHandle_t h = handle();
  Conv c(t, cg);
  const Choice ch = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
      key_of(2, t, cg), "convolution backward-filter",
      [&](int n, int* ret, cudnnConvolutionBwdFilterAlgoPerf_t* p) {
        FT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x.d, c.y.d, c.conv, c.w, n, ret, p));
      },
      [&](int algo, cudnnMathType_t m) {
        c.set_math(m, t);
        size_t bytes = 0;
        FT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
            h, c.x.d, c.y.d, c.conv, c.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes));
        return bytes;
      });
  c.set_math(ch.math, t);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      h, s.one(), c.x.d, x, c.y.d, dy, c.conv, static_cast<cudnnConvolutionBwdFilterAlgo_t>(ch.algo),
      ch.workspace ? workspace(ch.workspace) : nullptr, ch.workspace, s.zero(), c.w, dw));
}

namespace {
// The [1, c, 1, 1] descriptor of the scale, bias and statistics (f32 for f32, f64 for f64 data).
struct BnDescs {
  Tensor4d x, p;
  BnDescs(Elem t, int64_t n, int64_t c, int64_t hw) : x(t, n, c, hw, 1), p(t, 1, c, 1, 1) {
    FT_CHECK(t == Elem::f32 || t == Elem::f64, "cuDNN batch norm: f32 or f64 only, got ", kern::elem_name(t));
  }
};
}  // namespace

void cudnn_batch_norm_fwd_train(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* scale,
                                const void* bias, double momentum, double eps, void* running_mean, void* running_var,
                                void* y, void* save_mean, void* save_invstd) {
  BnDescs d(t, n, c, hw);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(handle(), CUDNN_BATCHNORM_SPATIAL, s.one(), s.zero(), d.x.d, x,
                                                        d.x.d, y, d.p.d, scale, bias, momentum, running_mean,
                                                        running_var, eps, save_mean, save_invstd));
}

void cudnn_batch_norm_fwd_eval(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* scale,
                               const void* bias, const void* mean, const void* var, double eps, void* y) {
  BnDescs d(t, n, c, hw);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(handle(), CUDNN_BATCHNORM_SPATIAL, s.one(), s.zero(), d.x.d, x,
                                                         d.x.d, y, d.p.d, scale, bias, mean, var, eps));
}

void cudnn_batch_norm_bwd(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* dy, const void* scale,
                          double eps, const void* save_mean, const void* save_invstd, void* dx, void* dscale,
                          void* dbias) {
  BnDescs d(t, n, c, hw);
  const Scalars s{.t = t};
  FT_CUDNN_CHECK(cudnnBatchNormalizationBackward(handle(), CUDNN_BATCHNORM_SPATIAL, s.one(), s.zero(), s.one(),
                                                 s.zero(), d.x.d, x, d.x.d, dy, d.x.d, dx, d.p.d, scale, dscale, dbias,
                                                 eps, save_mean, save_invstd));
}

}  // namespace ft::cuda
