// Optimizers with parameter groups, as torch.optim: AdamW (decoupled weight decay) and SGD.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "core/tensor.h"
#include "kernels/common/ops.h"

namespace ft::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0.0;
  std::vector<std::string> names;  // optional, parallel to params (for state dicts and logs)
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  // Updates every parameter that has a gradient; parameters without one are skipped, as in torch.
  virtual void step() = 0;
  void zero_grad();  // sets gradients to undefined
  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

 protected:
  std::vector<ParamGroup> groups_;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Hugging Face defaults for adam_beta*/adam_epsilon
  // Keep a bf16 copy of every parameter, rewritten by the update itself (for bf16 compute with f32
  // master weights).
  bool bf16_copy = false;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts = {});
  void step() override { step(Tensor()); }
  // With `ok` (a bool scalar where the parameters are), the update happens only if it is true: the
  // decision stays on the device, so a training step need not wait to skip a non-finite update. The
  // step counts advance at once; undo_step_counts() takes them back once the host learns the update
  // was skipped.
  void step(const Tensor& ok);
  void undo_step_counts();
  // Per-parameter state (exp_avg, exp_avg_sq, step), keyed by the parameter's storage.
  struct State {
    Tensor exp_avg, exp_avg_sq;
    Tensor bf16_copy;  // when AdamWOptions::bf16_copy is set
    int64_t step = 0;
  };
  const State* state_of(const Tensor& p) const;
  void set_state(const Tensor& p, State s);  // restoring a checkpoint
  const AdamWOptions& options() const { return opts_; }

 private:
  AdamWOptions opts_;
  std::map<const TensorImpl*, State> state_;
  std::vector<State*> last_stepped_;  // the states whose count the last step() advanced
};

struct SgdOptions {
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SgdOptions opts = {});
  void step() override;

 private:
  SgdOptions opts_;
  std::map<const TensorImpl*, Tensor> momentum_;
};

// The Hugging Face Trainer's grouping: weight decay for every parameter except biases and the
// weights of LayerNorm modules (by module type, or a name containing "layernorm"/"layer_norm").
std::vector<ParamGroup> hf_parameter_groups(const nn::Module& model, double lr, double weight_decay);

// Scales all gradients so that their global L2 norm is at most max_norm, as
// torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), capped at 1).
// Returns the norm before clipping. Parameters without a gradient are ignored.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
// The gradients of params (contiguous, all on one device) by dtype, for multi-tensor passes, and the
// f64 sum of their squares as a 0-d tensor on that device: one reduction per dtype, no host wait.
struct GradGroups {
  std::map<DType, std::vector<kern::TensorRef>> by_dtype;
  std::optional<Device> device;  // none when no parameter has a gradient
};
GradGroups grad_groups(const std::vector<Tensor>& params, const char* who);
Tensor sum_of_squares(const GradGroups& groups);
// clip_grad_norm without waiting for the device: the norm is a 0-d f64 tensor where the gradients are,
// computed by one multi-tensor reduction per dtype, and the coefficient is read on the device.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

}  // namespace ft::optim
