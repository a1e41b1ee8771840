#include "core/optim/grad_scaler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "core/dispatch.h"
#include "core/ops.h"

namespace ft::optim {

GradScaler::GradScaler(GradScalerOptions opts) : opts_(opts), scale_(static_cast<float>(opts.init_scale)) {
  FT_CHECK(opts.growth_factor > 1, "GradScaler: growth_factor must be > 1, got ", opts.growth_factor);
  FT_CHECK(opts.backoff_factor < 1, "GradScaler: backoff_factor must be < 1, got ", opts.backoff_factor);
  FT_CHECK(opts.growth_interval > 0, "GradScaler: growth_interval must be positive, got ", opts.growth_interval);
  FT_CHECK(opts.init_scale > 0 && std::isfinite(static_cast<float>(opts.init_scale)),
           "GradScaler: init_scale must be a positive f32 value, got ", opts.init_scale);
}

Tensor GradScaler::scale(const Tensor& loss) const { return mul(loss, static_cast<double>(scale_)); }

Tensor GradScaler::unscale_(const std::vector<Tensor>& params) {
  const float inv = static_cast<float>(1.0 / static_cast<double>(scale_));
  // The sum of squares is inf or NaN when an element is. It would also overflow for a finite element
  // above ~1.8e19 (the CPU kernel squares in f32 lanes), which no f16 backward produces: f16's
  // largest value is 65504, and the f32 sums of such values stay far below that.
  std::map<DType, std::vector<kern::TensorRef>> groups;
  std::optional<Device> device;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    FT_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, "GradScaler: gradients must be f32 master "
             "gradients (as torch's 'Attempting to unscale FP16 gradients'), got ", g.dtype());
    FT_CHECK(g.is_contiguous(), "GradScaler: gradients must be contiguous");
    FT_CHECK(!device || *device == g.device(), "GradScaler: gradients on ", device->str(), " and ", g.device().str());
    device = g.device();
    groups[g.dtype()].push_back(kern::TensorRef{g.raw_data(), g.numel()});
  }
  const TensorOptions f64 = TensorOptions(DType::f64).with_device(device.value_or(kCPU));
  Tensor sq = zeros({}, f64);
  if (device) {
    Backend& be = backend_for(*device);
    NoGradGuard ng;
    for (auto& [dt, refs] : groups) {
      const int count = static_cast<int>(refs.size());
      Tensor part = empty({}, f64);
      Tensor workspace = empty({std::max<int64_t>(1, be.sum_squares_workspace(refs.data(), count))}, f64);
      be.sum_squares_multi(elem_of(dt), refs.data(), count, workspace.data<double>(), part.data<double>());
      sq = add(sq, part);
      if (inv != 1.0f)
        for (const kern::TensorRef& r : refs) be.scale_inplace(elem_of(dt), r.p, r.n, inv);
    }
  }
  NoGradGuard ng;
  return eq(mul(sq, 0.0), zeros({}, f64));  // x * 0 == 0 exactly when x is finite
}

bool GradScaler::unscale(const std::vector<Tensor>& params) { return unscale_(params).item() == 0; }

void GradScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ = scale_ * static_cast<float>(opts_.backoff_factor);
    tracker_ = 0;
    return;
  }
  if (++tracker_ == opts_.growth_interval) {
    const float grown = scale_ * static_cast<float>(opts_.growth_factor);
    if (std::isfinite(grown)) scale_ = grown;
    tracker_ = 0;
  }
}

void GradScaler::load_state(float scale, int64_t growth_tracker) {
  FT_CHECK(scale > 0 && std::isfinite(scale), "GradScaler: a saved scale must be positive and finite, got ", scale);
  FT_CHECK(growth_tracker >= 0 && growth_tracker < opts_.growth_interval, "GradScaler: a saved growth tracker must be in [0, ",
           opts_.growth_interval, "), got ", growth_tracker);
  scale_ = scale;
  tracker_ = growth_tracker;
}

}  // namespace ft::optim
