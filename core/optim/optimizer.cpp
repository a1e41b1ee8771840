#include "core/optim/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "core/dispatch.h"
#include "core/ops.h"

namespace ft::optim {
namespace {

void check_param(const Tensor& p, const char* op) {
  FT_CHECK(p.is_contiguous(), op, ": parameters must be contiguous");
  compute_backend(op, {&p});
  const Tensor g = p.grad();
  if (g.defined()) {
    FT_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), op, ": gradient ", shape_str(g.shape()), " ",
             g.dtype(), " does not match parameter ", shape_str(p.shape()), " ", p.dtype());
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : Optimizer(std::move(groups)), opts_(opts) {
  FT_CHECK(opts.beta1 >= 0 && opts.beta1 < 1 && opts.beta2 >= 0 && opts.beta2 < 1, "AdamW: betas must be in [0, 1), got ",
           opts.beta1, ", ", opts.beta2);
  FT_CHECK(opts.eps >= 0, "AdamW: eps must be non-negative, got ", opts.eps);
}

const AdamW::State* AdamW::state_of(const Tensor& p) const {
  auto it = state_.find(p.impl());
  return it == state_.end() ? nullptr : &it->second;
}

void AdamW::set_state(const Tensor& p, State s) {
  FT_CHECK(s.exp_avg.shape() == p.shape() && s.exp_avg_sq.shape() == p.shape(), "AdamW: state of shape ",
           shape_str(s.exp_avg.shape()), " does not match parameter ", shape_str(p.shape()));
  state_[p.impl()] = std::move(s);
}

void AdamW::undo_step_counts() {
  for (State* s : last_stepped_) --s->step;
  last_stepped_.clear();
}

void AdamW::step(const Tensor& ok) {
  last_stepped_.clear();
  // One multi-tensor update per (device, dtype): on CUDA a single launch for the whole model.
  std::map<std::pair<Device, DType>, std::vector<kern::AdamWTensor>, bool (*)(const std::pair<Device, DType>&,
                                                                               const std::pair<Device, DType>&)>
      batches([](const std::pair<Device, DType>& a, const std::pair<Device, DType>& b) {
        return std::make_tuple(a.first.type, a.first.index, a.second) < std::make_tuple(b.first.type, b.first.index, b.second);
      });
  std::vector<Tensor> keep_alive;  // contiguous gradient copies used by the update
  for (auto& group : groups_) {
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      check_param(p, "AdamW");
      State& s = state_[p.impl()];
      if (!s.exp_avg.defined()) {
        s.exp_avg = zeros(p.shape(), like(p));
        s.exp_avg_sq = zeros(p.shape(), like(p));
        if (opts_.bf16_copy) s.bf16_copy = empty(p.shape(), TensorOptions(DType::bf16).with_device(p.device()));
      }
      s.step++;
      last_stepped_.push_back(&s);
      Tensor gc = g.contiguous();
      keep_alive.push_back(gc);
      batches[{p.device(), p.dtype()}].push_back(kern::AdamWTensor{p.raw_data(), gc.raw_data(), s.exp_avg.raw_data(),
                                                                   s.exp_avg_sq.raw_data(), ptr(s.bf16_copy), p.numel(),
                                                                   group.lr, group.weight_decay, s.step});
    }
  }
  for (auto& [key, list] : batches) {
    Tensor flag;
    if (ok.defined()) {
      FT_CHECK(ok.numel() == 1 && ok.dtype() == DType::boolean && ok.device() == key.first,
               "AdamW: the ok flag must be one bool on the parameters' device, got ", shape_str(ok.shape()), " ",
               ok.dtype(), " on ", ok.device().str());
      flag = ok.contiguous();
    }
    backend_for(key.first).adamw_multi(elem_of(key.second), list.data(), static_cast<int>(list.size()), opts_.beta1,
                                       opts_.beta2, opts_.eps, flag.defined() ? reinterpret_cast<const uint8_t*>(flag.data<bool>()) : nullptr);
  }
}

SGD::SGD(std::vector<ParamGroup> groups, SgdOptions opts) : Optimizer(std::move(groups)), opts_(opts) {
  FT_CHECK(!opts.nesterov || (opts.momentum > 0 && opts.dampening == 0),
           "SGD: nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  for (auto& group : groups_) {
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      check_param(p, "SGD");
      bool first = false;
      Tensor buf;
      if (opts_.momentum != 0) {
        Tensor& b = momentum_[p.impl()];
        if (!b.defined()) {
          b = zeros(p.shape(), like(p));
          first = true;
        }
        buf = b;
      }
      const kern::SgdArgs args{group.lr, opts_.momentum, opts_.dampening, group.weight_decay, opts_.nesterov, first};
      Tensor gc = g.contiguous();
      backend_of("SGD", {&p, &gc}).sgd_step(elem_of(p), p.raw_data(), gc.raw_data(), ptr(buf), p.numel(), args);
    }
  }
}

std::vector<ParamGroup> hf_parameter_groups(const nn::Module& model, double lr, double weight_decay) {
  // Parameters owned directly by LayerNorm modules never decay.
  std::vector<std::string> no_decay;
  for (auto& [path, m] : model.named_modules())
    if (m->type_name() == "LayerNorm")
      for (auto& [name, t] : m->named_parameters()) no_decay.push_back(path.empty() ? name : path + "." + name);
  ParamGroup decay{{}, lr, weight_decay, {}}, plain{{}, lr, 0.0, {}};
  for (auto& [name, t] : model.named_parameters()) {
    const std::string l = lower(name);
    const bool skip = std::find(no_decay.begin(), no_decay.end(), name) != no_decay.end() ||
                      l.find("bias") != std::string::npos || l.find("layernorm") != std::string::npos ||
                      l.find("layer_norm") != std::string::npos;
    ParamGroup& g = skip ? plain : decay;
    g.params.push_back(t);
    g.names.push_back(name);
  }
  return {decay, plain};
}

GradGroups grad_groups(const std::vector<Tensor>& params, const char* who) {
  GradGroups gg;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    FT_CHECK(g.is_contiguous(), who, ": gradients must be contiguous");
    FT_CHECK(!gg.device || *gg.device == g.device(), who, ": gradients on ", gg.device->str(), " and ",
             g.device().str(), "; handle each device's parameters apart");
    gg.device = g.device();
    gg.by_dtype[g.dtype()].push_back(kern::TensorRef{g.raw_data(), g.numel()});
  }
  return gg;
}

Tensor sum_of_squares(const GradGroups& gg) {
  const TensorOptions f64 = TensorOptions(DType::f64).with_device(gg.device.value_or(kCPU));
  Tensor sq = zeros({}, f64);
  if (!gg.device) return sq;
  Backend& be = backend_for(*gg.device);
  NoGradGuard ng;
  for (auto& [dt, refs] : gg.by_dtype) {
    const int count = static_cast<int>(refs.size());
    Tensor part = empty({}, f64), workspace = empty({std::max<int64_t>(1, be.sum_squares_workspace(refs.data(), count))}, f64);
    be.sum_squares_multi(elem_of(dt), refs.data(), count, workspace.data<double>(), part.data<double>());
    sq = add(sq, part);
  }
  return sq;
}

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  const GradGroups gg = grad_groups(params, "clip_grad_norm");
  const Tensor sq = sum_of_squares(gg);
  if (gg.device && std::isfinite(max_norm))
    for (auto& [dt, refs] : gg.by_dtype)
      backend_for(*gg.device).clip_multi(elem_of(dt), refs.data(), static_cast<int>(refs.size()), sq.data<double>(),
                                         max_norm);
  NoGradGuard ng;
  return sqrt(sq);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  return clip_grad_norm_(params, max_norm).item();
}

}  // namespace ft::optim
