#include "core/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ft::optim {

LrLambda constant_schedule() {
  return [](int64_t) { return 1.0; };
}

LrLambda constant_schedule_with_warmup(int64_t warmup) {
  return [warmup](int64_t s) {
    return s < warmup ? static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, warmup)) : 1.0;
  };
}

LrLambda linear_schedule_with_warmup(int64_t warmup, int64_t total) {
  return [warmup, total](int64_t s) {
    if (s < warmup) return static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, warmup));
    return std::max(0.0, static_cast<double>(total - s) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  };
}

LrLambda cosine_schedule_with_warmup(int64_t warmup, int64_t total, double cycles) {
  return [warmup, total, cycles](int64_t s) {
    if (s < warmup) return static_cast<double>(s) / static_cast<double>(std::max<int64_t>(1, warmup));
    const double progress = static_cast<double>(s - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress)));
  };
}

LrLambda schedule_by_name(const std::string& name, int64_t warmup, int64_t total) {
  if (name == "constant") return constant_schedule();
  if (name == "constant_with_warmup") return constant_schedule_with_warmup(warmup);
  if (name == "linear") return linear_schedule_with_warmup(warmup, total);
  if (name == "cosine") return cosine_schedule_with_warmup(warmup, total);
  throw Error(cat("unknown lr_scheduler_type '", name, "' (expected constant, constant_with_warmup, linear or cosine)"));
}

int64_t warmup_steps_for(int64_t total, double ratio, int64_t steps) {
  if (steps > 0) return steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total) * ratio));
}

LrScheduler::LrScheduler(Optimizer& opt, LrLambda lambda) : opt_(opt), lambda_(std::move(lambda)) {
  for (auto& g : opt_.groups()) base_lrs_.push_back(g.lr);
  apply();
}

void LrScheduler::apply() {
  const double m = lambda_(step_);
  for (size_t i = 0; i < base_lrs_.size(); ++i) opt_.groups()[i].lr = base_lrs_[i] * m;
}

void LrScheduler::step() {
  ++step_;
  apply();
}

void LrScheduler::set_last_step(int64_t s) {
  step_ = s;
  apply();
}

std::vector<double> LrScheduler::last_lr() const {
  std::vector<double> out;
  for (auto& g : opt_.groups()) out.push_back(g.lr);
  return out;
}

}  // namespace ft::optim
