// Learning-rate schedules as Hugging Face's get_scheduler builds them (a LambdaLR multiplier of the
// base learning rate, evaluated at the number of optimizer steps taken so far).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/optim/optimizer.h"

namespace ft::optim {

using LrLambda = std::function<double(int64_t step)>;

LrLambda constant_schedule();
LrLambda constant_schedule_with_warmup(int64_t warmup_steps);
// step/warmup during warmup, then linear decay to 0 at total_steps.
LrLambda linear_schedule_with_warmup(int64_t warmup_steps, int64_t total_steps);
// step/warmup during warmup, then 0.5 * (1 + cos(pi * 2 * cycles * progress)).
LrLambda cosine_schedule_with_warmup(int64_t warmup_steps, int64_t total_steps, double num_cycles = 0.5);
// By Hugging Face's name: "constant", "constant_with_warmup", "linear", "cosine".
LrLambda schedule_by_name(const std::string& name, int64_t warmup_steps, int64_t total_steps);
// Hugging Face's rule: warmup_steps if > 0, else ceil(total * warmup_ratio).
int64_t warmup_steps_for(int64_t total_steps, double warmup_ratio, int64_t warmup_steps);

class LrScheduler {
 public:
  // Sets every group's lr to base_lr * lambda(0) at once, as LambdaLR does.
  LrScheduler(Optimizer& opt, LrLambda lambda);
  void step();  // after each optimizer step
  int64_t last_step() const { return step_; }
  void set_last_step(int64_t step);  // for resuming
  std::vector<double> last_lr() const;

 private:
  void apply();
  Optimizer& opt_;
  LrLambda lambda_;
  std::vector<double> base_lrs_;
  int64_t step_ = 0;
};

}  // namespace ft::optim
