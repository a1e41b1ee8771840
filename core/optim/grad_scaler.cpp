#include "core/optim/grad_scaler.h"

#include <cmath>

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

bool GradScaler::unscale(const std::vector<Tensor>& params) {
  const float inv = static_cast<float>(1.0 / static_cast<double>(scale_));
  bool found_inf = false;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    FT_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, "GradScaler: gradients must be f32 master "
             "gradients (as torch's 'Attempting to unscale FP16 gradients'), got ", g.dtype());
    FT_CHECK(g.is_contiguous(), "GradScaler: gradients must be contiguous");
    Backend& be = compute_backend("GradScaler.unscale", {&g});
    // The sum of squares is inf or NaN when an element is. It would also overflow for a finite element
    // above ~1.8e19 (the CPU kernel squares in f32 lanes), which no f16 backward produces: f16's
    // largest value is 65504, and the f32 sums of such values stay far below that.
    if (!std::isfinite(be.sum_squares(elem_of(g), g.raw_data(), g.numel()))) found_inf = true;
    if (inv != 1.0f) be.scale_inplace(elem_of(g), g.raw_data(), g.numel(), inv);
  }
  return found_inf;
}

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
