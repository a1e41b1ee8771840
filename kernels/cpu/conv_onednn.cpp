#include "kernels/cpu/conv_onednn.h"

#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "core/error.h"
#include "kernels/cpu/onednn_engine.h"

namespace ft::kern {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& engine() { return onednn_engine(); }
dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

memory::data_type data_type(Elem t) {
  FT_CHECK(t == Elem::f32 || t == Elem::bf16, "conv2d: oneDNN runs f32 or bf16 here, got ", elem_name(t));
  return t == Elem::f32 ? memory::data_type::f32 : memory::data_type::bf16;
}

auto key_of(const ConvGeom& cg, Elem t) {
  const UnfoldGeom& g = cg.g;
  return std::make_tuple(g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, cg.out_channels, cg.groups,
                         static_cast<int>(t));
}

// The primitives of one geometry and data type (all operands f32, or all bf16 with f32
// accumulation): the forward is built at once, the backward ones when first used.
struct Conv {
  memory::data_type dt;
  memory::desc src, wei, dst;  // the engine's layouts: NCHW, (G)OIHW, NCHW
  memory::dims strides, dilates, pad_l, pad_r;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::optional<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  std::optional<dnnl::convolution_backward_data> bwd_data;
  std::optional<dnnl::convolution_backward_weights::primitive_desc> bwd_weights_pd;
  std::optional<dnnl::convolution_backward_weights> bwd_weights;
  std::mutex mu;  // one call at a time per geometry: the primitives' scratch memory is shared

  Conv(const ConvGeom& cg, Elem t) : dt(data_type(t)) {
    const UnfoldGeom& g = cg.g;
    const int64_t o = cg.out_channels, grp = cg.groups;
    src = memory::desc({g.n, g.c, g.h, g.w}, dt, Tag::nchw);
    dst = memory::desc({g.n, o, g.oh, g.ow}, dt, Tag::nchw);
    wei = grp == 1 ? memory::desc({o, g.c, g.kh, g.kw}, dt, Tag::oihw)
                   : memory::desc({grp, o / grp, g.c / grp, g.kh, g.kw}, dt, Tag::goihw);
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
  memory::desc any(const memory::desc& d) const { return memory::desc(d.dims(), dt, Tag::any); }

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

Conv& conv_for(const ConvGeom& cg, Elem t) {
  static std::mutex mu;
  static std::map<decltype(key_of(cg, t)), std::unique_ptr<Conv>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[key_of(cg, t)];
  if (!slot) slot = std::make_unique<Conv>(cg, t);
  return *slot;
}

// One operand of a primitive: its argument, the primitive's layout, the engine's layout, the data.
struct In {
  int arg;
  memory::desc want, have;
  const void* data;
};
struct Out {
  int arg;
  memory::desc want, have;
  void* data;
};

// An input in the primitive's layout: the caller's buffer when the layouts agree, else a reorder.
memory input(const In& in) {
  memory user(in.have, engine(), const_cast<void*>(in.data));
  if (in.want == in.have) return user;
  memory m(in.want, engine());
  dnnl::reorder(user, m).execute(stream(), user, m);
  return m;
}

// Runs prim on two inputs into one output (written through a scratch buffer and reordered when
// the layouts differ), then waits.
void run(const dnnl::primitive& prim, const In& a, const In& b, const Out& out) {
  memory ma = input(a), mb = input(b), user(out.have, engine(), out.data);
  memory mo = out.want == out.have ? user : memory(out.want, engine());
  prim.execute(stream(), {{a.arg, ma}, {b.arg, mb}, {out.arg, mo}});
  if (mo.get_data_handle() != user.get_data_handle()) dnnl::reorder(mo, user).execute(stream(), mo, user);
  stream().wait();
}

// f(conv) on the cached primitives of cg, one call at a time per geometry; oneDNN errors become
// ft::Error naming the geometry.
template <class F>
void with_conv(const char* what, const ConvGeom& cg, Elem t, F f) {
  try {
    Conv& c = conv_for(cg, t);
    std::lock_guard<std::mutex> lock(c.mu);
    f(c);
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

bool onednn_conv_native(Elem t) {
  if (t == Elem::f32) return onednn_conv_available();
  if (t != Elem::bf16) return false;
  static const bool bf16 = [] {
    try {  // a kernel of this CPU's, not oneDNN's reference ("ref:") one, which is slower than im2col
      ConvGeom cg;
      cg.g.n = 2, cg.g.c = 16, cg.g.h = cg.g.w = cg.g.oh = cg.g.ow = 8, cg.g.kh = cg.g.kw = 3, cg.g.ph = cg.g.pw = 1;
      cg.out_channels = 16, cg.groups = 1;
      Conv c(cg, Elem::bf16);
      return std::string(c.fwd_pd.impl_info_str()).rfind("ref", 0) != 0 &&
             std::string(c.data_pd().impl_info_str()).rfind("ref", 0) != 0 &&
             std::string(c.weights_pd().impl_info_str()).rfind("ref", 0) != 0;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return bf16;
}

void onednn_conv2d_fwd(Elem t, const ConvGeom& cg, const void* x, const void* w, void* y) {
  with_conv("conv2d", cg, t, [&](Conv& c) {
    const auto& pd = c.fwd_pd;
    run(c.fwd, {DNNL_ARG_SRC, pd.src_desc(), c.src, x}, {DNNL_ARG_WEIGHTS, pd.weights_desc(), c.wei, w},
        {DNNL_ARG_DST, pd.dst_desc(), c.dst, y});
  });
}

void onednn_conv2d_bwd_data(Elem t, const ConvGeom& cg, const void* w, const void* dy, void* dx) {
  with_conv("conv2d_backward", cg, t, [&](Conv& c) {
    const auto& pd = c.data_pd();
    run(*c.bwd_data, {DNNL_ARG_DIFF_DST, pd.diff_dst_desc(), c.dst, dy}, {DNNL_ARG_WEIGHTS, pd.weights_desc(), c.wei, w},
        {DNNL_ARG_DIFF_SRC, pd.diff_src_desc(), c.src, dx});
  });
}

void onednn_conv2d_bwd_weight(Elem t, const ConvGeom& cg, const void* x, const void* dy, void* dw) {
  with_conv("conv2d_backward", cg, t, [&](Conv& c) {
    const auto& pd = c.weights_pd();
    run(*c.bwd_weights, {DNNL_ARG_SRC, pd.src_desc(), c.src, x}, {DNNL_ARG_DIFF_DST, pd.diff_dst_desc(), c.dst, dy},
        {DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc(), c.wei, dw});
  });
}

}  // namespace ft::kern
