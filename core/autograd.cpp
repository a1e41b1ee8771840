#include "core/autograd.h"

#include "core/autocast.h"

#include <unordered_map>

#include "core/ops.h"

namespace ft {
namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::vector<Tensor> Node::apply(const Tensor& grad_out) {
  FT_CHECK(fn_ != nullptr, "backward through ", name_,
           " a second time: its saved tensors were freed by the first backward");
  std::vector<bool> needs(edges_.size());
  for (size_t i = 0; i < edges_.size(); ++i) needs[i] = edges_[i].active();
  std::vector<Tensor> grads = fn_(grad_out, needs);
  fn_ = nullptr;  // frees the saved tensors
  FT_INTERNAL(grads.size() == edges_.size());
  return grads;
}

Tensor attach(Tensor out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return out;
  std::vector<Edge> edges(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad()) continue;
    if (in.grad_fn())
      edges[i].node = in.grad_fn();
    else
      edges[i].leaf = in.impl_ptr();
  }
  out.impl()->grad_fn =
      std::make_shared<Node>(name, std::move(edges), std::move(fn), out.shape(), out.dtype());
  out.impl()->requires_grad = true;
  return out;
}

namespace {

void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  FT_INTERNAL(g.shape() == leaf.shape);
  if (!leaf.grad) {
    // The gradient must own its memory: optimizers and clipping modify it in place. A gradient no
    // one else can see (this call holds the only reference to it and to its storage, as for most
    // backward results) is taken as it is; anything else is copied.
    Tensor own = g.to(leaf.dtype);
    const bool alone = own.impl_ptr().use_count() <= 2 && own.impl()->storage.use_count() == 1 &&
                       own.is_contiguous() && own.offset() == 0 && !own.requires_grad();
    leaf.grad = (alone ? own : own.clone()).impl_ptr();
  } else {
    Tensor acc(leaf.grad);
    leaf.grad = add(acc, g.to(leaf.dtype)).impl_ptr();
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_in) {
  FT_CHECK(root.requires_grad(), "backward(): the tensor does not require a gradient");
  // Each op's backward runs in the dtypes its forward ran in, never re-cast (PyTorch runs the
  // backward on threads without autocast for the same reason).
  autocast::Disable no_autocast;
  Tensor grad = grad_in;
  if (!grad.defined()) {
    FT_CHECK(root.numel() == 1, "backward(): a gradient must be given for a non-scalar output of shape ",
             shape_str(root.shape()));
    grad = ones(root.shape(), TensorOptions(root.dtype()).with_device(root.device()));
  }
  FT_CHECK(grad.shape() == root.shape(), "backward(): gradient shape ", shape_str(grad.shape()),
           " does not match output shape ", shape_str(root.shape()));
  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    accumulate_leaf(*root.impl(), grad);
    if (root.impl()->grad_ready) root.impl()->grad_ready();
    return;
  }
  // Dependency counts over the graph reachable from the root (iterative DFS: deep graphs are fine).
  // Leaves count their incoming edges too, for their grad_ready hooks.
  std::unordered_map<Node*, int> deps;
  std::unordered_map<TensorImpl*, int> leaf_edges;
  std::vector<Node*> stack{root.grad_fn().get()};
  deps[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->edges()) {
      if (e.leaf && e.leaf->grad_ready) ++leaf_edges[e.leaf.get()];
      if (!e.node) continue;
      auto it = deps.find(e.node.get());
      if (it == deps.end()) {
        deps[e.node.get()] = 1;
        stack.push_back(e.node.get());
      } else {
        it->second++;
      }
    }
  }
  // Kahn's order: a node runs once every consumer has added its gradient contribution.
  std::unordered_map<Node*, Tensor> pending;
  pending[root.grad_fn().get()] = grad;
  std::vector<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    Tensor g = pending[node.get()];
    pending.erase(node.get());
    std::vector<Tensor> grads = node->apply(g);
    const auto& edges = node->edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.active()) continue;
      const Tensor& gi = grads[i];
      if (e.leaf) {
        if (gi.defined()) accumulate_leaf(*e.leaf, gi);
        if (e.leaf->grad_ready && --leaf_edges[e.leaf.get()] == 0) e.leaf->grad_ready();
        continue;
      }
      Node* next = e.node.get();
      if (gi.defined()) {
        auto it = pending.find(next);
        if (it == pending.end() || !it->second.defined())
          pending[next] = gi;
        else
          it->second = add(it->second, gi);
      }
      if (--deps[next] == 0) {
        auto it = pending.find(next);
        if (it != pending.end() && it->second.defined()) {
          ready.push_back(e.node);
        } else {
          // No gradient reached this node (every path gave zero): nothing flows further from it,
          // but its own inputs' counters must still be released.
          pending.erase(next);
          std::vector<Node*> release{next};
          while (!release.empty()) {
            Node* r = release.back();
            release.pop_back();
            for (const Edge& re : r->edges()) {
              if (re.leaf && re.leaf->grad_ready && --leaf_edges[re.leaf.get()] == 0) re.leaf->grad_ready();
              if (re.node && --deps[re.node.get()] == 0) {
                auto pit = pending.find(re.node.get());
                if (pit != pending.end() && pit->second.defined())
                  ready.push_back(re.node);
                else
                  release.push_back(re.node.get());
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace ft
