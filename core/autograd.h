// Eager, define-by-run autograd. An op whose result needs a gradient attaches a Node holding its
// backward function (a lambda written beside the forward, derivatives.yaml style), the tensors it
// saved (always detached, so the graph holds no cycles) and one Edge per input. The needs-grad mask
// tells the backward function which input gradients to compute: a frozen weight costs nothing.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ft {

// Where an input's gradient goes: the node that produced it, or the leaf it accumulates into.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool active() const { return node != nullptr || leaf != nullptr; }
};

// grad_out -> one gradient per input (undefined where needs[i] is false or the gradient is zero).
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_out, const std::vector<bool>& needs)>;

class Node {
 public:
  Node(const char* name, std::vector<Edge> edges, BackwardFn fn, Shape out_shape, DType out_dtype)
      : name_(name), edges_(std::move(edges)), fn_(std::move(fn)), out_shape_(std::move(out_shape)),
        out_dtype_(out_dtype) {}
  const char* name() const { return name_; }
  const std::vector<Edge>& edges() const { return edges_; }
  const Shape& out_shape() const { return out_shape_; }
  DType out_dtype() const { return out_dtype_; }
  // Runs the backward function once, then frees what it saved.
  std::vector<Tensor> apply(const Tensor& grad_out);

 private:
  const char* name_;
  std::vector<Edge> edges_;
  BackwardFn fn_;
  Shape out_shape_;
  DType out_dtype_;
};

// Grad mode: thread-local switch; NoGradGuard turns recording off for a scope.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and any of the inputs requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Makes `out` the differentiable result of `inputs` through `fn`, if any input requires a gradient
// and grad mode is on; otherwise returns `out` unchanged.
Tensor attach(Tensor out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

// The backward pass (Tensor::backward calls this).
void run_backward(const Tensor& root, const Tensor& grad);

}  // namespace ft
