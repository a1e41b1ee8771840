#include "core/optim/grad_scaler.h"

#include <cmath>

#include "core/dispatch.h"
#include "core/ops.h"
#include "core/optim/optimizer.h"

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
  const optim::GradGroups gg = optim::grad_groups(params, "GradScaler");
  for (auto& [dt, refs] : gg.by_dtype)
    FT_CHECK(dt == DType::f32 || dt == DType::f64, "GradScaler: gradients must be f32 master "
             "gradients (as torch's 'Attempting to unscale FP16 gradients'), got ", dt);
  const Tensor sq = optim::sum_of_squares(gg);
  if (gg.device && inv != 1.0f)
    for (auto& [dt, refs] : gg.by_dtype)
      for (const kern::TensorRef& r : refs) backend_for(*gg.device).scale_inplace(elem_of(dt), r.p, r.n, inv);
  NoGradGuard ng;
  return eq(mul(sq, 0.0), zeros({}, TensorOptions(DType::f64).with_device(sq.device())));  // x * 0 == 0 exactly when x is finite
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
