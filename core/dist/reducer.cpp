#include "core/dist/reducer.h"

#include "core/autograd.h"
#include "core/error.h"

namespace ft::dist {

GradientReducer::GradientReducer(const std::vector<Tensor>& params, Group& group, int64_t bucket_bytes) {
  FT_CHECK(!params.empty(), "GradientReducer: no parameters");
  const Device dev = params.front().device();
  comm_ = &group.communicator(dev);
  // Reverse registration order; a bucket holds one dtype and closes when the next tensor would take
  // it past bucket_bytes (a tensor larger than that is a bucket of its own).
  int64_t bytes = 0;
  for (size_t k = params.size(); k-- > 0;) {
    const Tensor& p = params[k];
    FT_CHECK(p.device() == dev, "GradientReducer: parameters on ", dev.str(), " and ", p.device().str());
    const int64_t b = static_cast<int64_t>(p.nbytes());
    const bool fits = !buckets_.empty() && buckets_.back().flat.dtype() == p.dtype() && bytes + b <= bucket_bytes;
    if (!fits) {
      buckets_.push_back(Bucket{empty({0}, TensorOptions(p.dtype())), {}, 0, nullptr});
      bytes = 0;
    }
    Bucket& bk = buckets_.back();
    slots_.push_back(Slot{p, static_cast<int64_t>(buckets_.size()) - 1, bytes / static_cast<int64_t>(dtype_size(p.dtype())),
                          false});
    bk.slots.push_back(slots_.size() - 1);
    bytes += b;
  }
  for (Bucket& bk : buckets_) {
    int64_t n = 0;
    for (size_t s : bk.slots) n += slots_[s].param.numel();
    bk.flat = zeros({n}, TensorOptions(bk.flat.dtype()).with_device(dev));
  }
  for (size_t s = 0; s < slots_.size(); ++s) slots_[s].param.impl()->grad_ready = [this, s] { on_ready(s); };
}

GradientReducer::~GradientReducer() {
  for (Slot& s : slots_) s.param.impl()->grad_ready = nullptr;
}

std::vector<int64_t> GradientReducer::bucket_sizes() const {
  std::vector<int64_t> out;
  for (const Bucket& b : buckets_) out.push_back(b.flat.numel());
  return out;
}

void GradientReducer::arm() {
  FT_CHECK(!armed_, "GradientReducer: arm() twice without finish()");
  armed_ = true;
  next_launch_ = 0;
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) b.waiting = static_cast<int64_t>(b.slots.size());
}

void GradientReducer::copy_in(Slot& s) {
  Tensor dst = buckets_[s.bucket].flat.narrow(0, s.offset, s.param.numel());
  const Tensor g = s.param.grad();
  if (g.defined())
    dst.copy_(g.reshape({-1}));
  else
    dst.fill_(0.0);
}

void GradientReducer::on_ready(size_t slot) {
  if (!armed_) return;  // an earlier micro-batch of the step: the gradient only accumulates
  Slot& s = slots_[slot];
  if (s.ready) return;
  s.ready = true;
  copy_in(s);
  --buckets_[s.bucket].waiting;
  launch_ready();
  for (size_t b = 0; b < next_launch_; ++b) buckets_[b].pending->poke();
}

void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.pending = comm_->all_reduce_start(b.flat);
  }
}

void GradientReducer::finish() {
  FT_CHECK(armed_, "GradientReducer: finish() without arm()");
  NoGradGuard ng;
  for (size_t b = next_launch_; b < buckets_.size(); ++b)
    for (size_t s : buckets_[b].slots)
      if (!slots_[s].ready) slots_[s].ready = true, copy_in(slots_[s]), --buckets_[b].waiting;
  launch_ready();
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
  }
  for (Slot& s : slots_)
    s.param.set_grad(buckets_[s.bucket].flat.narrow(0, s.offset, s.param.numel()).view(s.param.shape()));
  armed_ = false;
}

}  // namespace ft::dist
