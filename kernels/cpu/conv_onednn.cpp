#include "kernels/cpu/conv_onednn.h"

#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include "core/error.h"

namespace ft::kern {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

auto key_of(const ConvGeom& cg) {
  const UnfoldGeom& g = cg.g;
  return std::make_tuple(g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, cg.out_channels, cg.groups);
}

// The primitives of one geometry: the forward is built at once, the backward ones when first used.
struct Conv {
  memory::desc src, wei, dst;  // the engine's layouts: NCHW, (G)OIHW, NCHW
  memory::dims strides, dilates, pad_l, pad_r;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::optional<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  std::optional<dnnl::convolution_backward_data> bwd_data;
  std::optional<dnnl::convolution_backward_weights::primitive_desc> bwd_weights_pd;
  std::optional<dnnl::convolution_backward_weights> bwd_weights;
  std::mutex mu;  // one call at a time per geometry: the primitives' scratch memory is shared

  explicit Conv(const ConvGeom& cg) {
    const UnfoldGeom& g = cg.g;
    const int64_t o = cg.out_channels, grp = cg.groups;
    src = memory::desc({g.n, g.c, g.h, g.w}, kF32, Tag::nchw);
    dst = memory::desc({g.n, o, g.oh, g.ow}, kF32, Tag::nchw);
    wei = grp == 1 ? memory::desc({o, g.c, g.kh, g.kw}, kF32, Tag::oihw)
                   : memory::desc({grp, o / grp, g.c / grp, g.kh, g.kw}, kF32, Tag::goihw);
    strides = {g.sh, g.sw};
    dilates = {g.dh - 1, g.dw - 1};  // oneDNN counts dilation from 0
    pad_l = {g.ph, g.pw};
    // The right padding that makes the output oh x ow (negative when the last rows are not read).
    pad_r = {(g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.h - g.ph, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.w - g.pw};
    fwd_pd = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        any(src), any(wei), any(dst), strides, dilates, pad_l, pad_r),
        engine());
    fwd = dnnl::convolution_forward(fwd_pd);
  }
  static memory::desc any(const memory::desc& d) { return memory::desc(d.dims(), kF32, Tag::any); }

  const dnnl::convolution_backward_data::primitive_desc& data_pd() {
    if (!bwd_data_pd) {
      bwd_data_pd.emplace(dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, any(src), any(wei),
                                                                any(dst), strides, dilates, pad_l, pad_r),
                          engine(), fwd_pd);
      bwd_data.emplace(*bwd_data_pd);
    }
    return *bwd_data_pd;
  }
  const dnnl::convolution_backward_weights::primitive_desc& weights_pd() {
    if (!bwd_weights_pd) {
      bwd_weights_pd.emplace(dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, any(src),
                                                                      any(wei), any(dst), strides, dilates, pad_l, pad_r),
                             engine(), fwd_pd);
      bwd_weights.emplace(*bwd_weights_pd);
    }
    return *bwd_weights_pd;
  }
};

Conv& conv_for(const ConvGeom& cg) {
  static std::mutex mu;
  static std::map<decltype(key_of(cg)), std::unique_ptr<Conv>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[key_of(cg)];
  if (!slot) slot = std::make_unique<Conv>(cg);
  return *slot;
}

// A primitive's input in its own layout: the caller's buffer when the layouts agree, else a reorder.
memory input(const memory::desc& want, const memory::desc& have, const float* data) {
  memory user(have, engine(), const_cast<float*>(data));
  if (want == have) return user;
  memory m(want, engine());
  dnnl::reorder(user, m).execute(stream(), user, m);
  return m;
}
// A primitive's output: the caller's buffer, or a scratch buffer that finish() reorders into it.
struct Output {
  memory prim, user;
  Output(const memory::desc& want, const memory::desc& have, float* data)
      : prim(want == have ? memory(have, engine(), data) : memory(want, engine())), user(have, engine(), data) {}
  void finish() {
    if (prim.get_data_handle() != user.get_data_handle()) dnnl::reorder(prim, user).execute(stream(), prim, user);
    stream().wait();
  }
};

template <class F>
void guarded(const char* what, const ConvGeom& cg, F f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    const UnfoldGeom& g = cg.g;
    throw Error(cat(what, ": oneDNN failed on input ", g.n, "x", g.c, "x", g.h, "x", g.w, ", ", cg.out_channels,
                    " filters ", g.kh, "x", g.kw, ": ", e.what()));
  }
}

}  // namespace

bool onednn_conv_available() {
  static const bool ok = [] {
    try {
      engine();
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
}

void onednn_conv2d_fwd(const ConvGeom& cg, const float* x, const float* w, float* y) {
  guarded("conv2d", cg, [&] {
    Conv& c = conv_for(cg);
    std::lock_guard<std::mutex> lock(c.mu);
    memory src = input(c.fwd_pd.src_desc(), c.src, x), wei = input(c.fwd_pd.weights_desc(), c.wei, w);
    Output dst(c.fwd_pd.dst_desc(), c.dst, y);
    c.fwd.execute(stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst.prim}});
    dst.finish();
  });
}

void onednn_conv2d_bwd_data(const ConvGeom& cg, const float* w, const float* dy, float* dx) {
  guarded("conv2d_backward", cg, [&] {
    Conv& c = conv_for(cg);
    std::lock_guard<std::mutex> lock(c.mu);
    const auto& pd = c.data_pd();
    memory ddst = input(pd.diff_dst_desc(), c.dst, dy), wei = input(pd.weights_desc(), c.wei, w);
    Output dsrc(pd.diff_src_desc(), c.src, dx);
    c.bwd_data->execute(
        stream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc.prim}});
    dsrc.finish();
  });
}

void onednn_conv2d_bwd_weight(const ConvGeom& cg, const float* x, const float* dy, float* dw) {
  guarded("conv2d_backward", cg, [&] {
    Conv& c = conv_for(cg);
    std::lock_guard<std::mutex> lock(c.mu);
    const auto& pd = c.weights_pd();
    memory src = input(pd.src_desc(), c.src, x), ddst = input(pd.diff_dst_desc(), c.dst, dy);
    Output dwei(pd.diff_weights_desc(), c.wei, dw);
    c.bwd_weights->execute(
        stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei.prim}});
    dwei.finish();
  });
}

const char* onednn_conv_impl_name(const ConvGeom& cg) {
  const char* name = "?";
  guarded("conv2d", cg, [&] { name = conv_for(cg).fwd_pd.impl_info_str(); });
  return name;
}

}  // namespace ft::kern
