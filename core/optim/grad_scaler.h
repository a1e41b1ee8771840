// fp16 dynamic loss scaling with torch.amp.GradScaler's semantics (defaults: initial scale 2^16,
// growth x2 after 2000 clean steps, backoff x0.5). The loss is multiplied by the scale before the
// backward; unscale() multiplies every gradient by float(1 / scale) (the reciprocal taken in f64, as
// PyTorch does) and reports whether any gradient holds an inf or NaN; the caller then skips that
// step (parameters, moments and the optimizer's step count untouched); update() backs the scale off
// and resets the growth tracker after an overflow, else counts the clean step and grows the scale
// once growth_interval of them have passed in a row (never to inf). The scale is an f32 value, as
// PyTorch's scale tensor is. bf16 needs none of this (its exponent is f32's).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ft::optim {

struct GradScalerOptions {
  double init_scale = 65536.0, growth_factor = 2.0, backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions opts = {});
  Tensor scale(const Tensor& loss) const;               // loss * scale
  bool unscale(const std::vector<Tensor>& params);      // true: an inf/NaN gradient (skip the step)
  // The same without waiting for the device: a bool scalar where the gradients are, true when every
  // gradient is finite.
  Tensor unscale_(const std::vector<Tensor>& params);
  void update(bool found_inf);
  float get_scale() const { return scale_; }
  int64_t growth_tracker() const { return tracker_; }
  // The state a checkpoint keeps (PyTorch's scaler.state_dict(): scale and _growth_tracker).
  void load_state(float scale, int64_t growth_tracker);

 private:
  GradScalerOptions opts_;
  float scale_;
  int64_t tracker_ = 0;
};

}  // namespace ft::optim
