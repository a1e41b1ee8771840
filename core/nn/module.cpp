#include "core/nn/module.h"

namespace ft::nn {

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  for (auto& p : params_) FT_CHECK(p.first != name, type_name(), ": parameter '", name, "' registered twice");
  if (!t.requires_grad()) t.requires_grad_(true);
  params_.emplace_back(name, std::move(t));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  for (auto& b : buffers_) FT_CHECK(b.first != name, type_name(), ": buffer '", name, "' registered twice");
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out = named_parameters();
  for (auto& b : named_buffers()) out.push_back(std::move(b));
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

void Module::unregister_module(const std::string& name) {
  for (auto it = children_.begin(); it != children_.end(); ++it)
    if (it->first == name) {
      children_.erase(it);
      return;
    }
  throw Error(cat(type_name(), ": no submodule named '", name, "'"));
}

Tensor Module::parameter(const std::string& dotted_name) const {
  for (auto& [name, t] : named_parameters())
    if (name == dotted_name) return t;
  throw Error(cat(type_name(), ": no parameter named '", dotted_name, "'"));
}

void replace_data(const Tensor& p, const Tensor& data) {
  TensorImpl& impl = *p.impl();
  impl.storage = data.impl()->storage;
  impl.shape = data.shape();
  impl.strides = data.strides();
  impl.offset = data.offset();
  impl.dtype = data.dtype();
  impl.grad = nullptr;
}

void Module::to(Device device) {
  for (auto& [name, p] : state_dict()) replace_data(p, p.detach().contiguous().to(device));
}

void Module::to(DType dtype) {
  FT_CHECK(is_floating(dtype), type_name(), ".to: parameters must stay floating, not ", dtype);
  for (auto& [name, p] : named_parameters()) replace_data(p, p.detach().to(dtype).contiguous());
  for (auto& [name, b] : named_buffers())  // integer buffers (counters) keep their type
    if (is_floating(b.dtype())) replace_data(b, b.detach().to(dtype).contiguous());
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() const {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

}  // namespace ft::nn
