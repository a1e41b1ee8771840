// Module: parameters and submodules registered under names, so named_parameters() yields the
// dotted names of a PyTorch state dict ("encoder.layer.0.attention.self.query.weight").
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ft::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string type_name() const = 0;  // "Linear", "LayerNorm", ...

  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Buffers: state saved and moved with the module but not trained (BatchNorm's running statistics).
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Parameters, then buffers: what a PyTorch state_dict holds.
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  // This module and every submodule, with dotted paths ("" for this one).
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  std::vector<std::pair<std::string, Module*>> named_modules();
  // The parameter with this dotted name; throws ft::Error naming it when absent.
  Tensor parameter(const std::string& dotted_name) const;

  // Moves (or converts) every parameter in place, as torch's module.to(): the parameter tensors keep
  // their identity, so handles held by submodules and optimizers built afterwards see the new data.
  // Gradients are dropped.
  void to(Device device);
  void to(DType dtype);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad() const;

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  void unregister_module(const std::string& name);

 private:
  void collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Replaces a parameter's (or buffer's) data in place with `data`'s (its storage, shape, strides and
// dtype), keeping the tensor's identity, so the handles modules and optimizers hold see the new data;
// its gradient is dropped. What Module::to does for every tensor.
void replace_data(const Tensor& p, const Tensor& data);

}  // namespace ft::nn
