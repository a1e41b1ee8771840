// Data parallelism's gradient all-reduce (PyTorch DDP's Reducer): the trainable parameters are laid
// out in buckets of about 25 MB, in reverse registration order (the order backward produces their
// gradients: the last layers first). A bucket's all-reduce starts as soon as backward has produced
// the last gradient in it (autograd's grad_ready hook), so communication overlaps the rest of the
// backward. Buckets are launched strictly in order, so every rank issues the same collectives in the
// same order whatever the timing. The sum is what is reduced: the Trainer weights each micro-batch's
// loss by its share of the global step's examples, so the sum is the gradient of the global mean.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dist/dist.h"
#include "core/tensor.h"

namespace ft::dist {

class GradientReducer {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;  // DDP's bucket_cap_mb = 25
  // params: the trainable parameters in registration order, all on one device.
  GradientReducer(const std::vector<Tensor>& params, Group& group, int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward pass is the step's last (gradient accumulation: earlier micro-batches only
  // accumulate locally, as DDP's no_sync); its gradients are all-reduced as they become ready.
  void arm();
  // After the armed backward (or instead of it, on a rank with no examples this step): launches the
  // buckets not launched yet (a gradient no pass produced counts as zeros), waits for all of them and
  // makes each parameter's gradient a view of its bucket, summed over the ranks.
  void finish();
  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  // Bucket sizes in elements, in launch order (for tests and the log).
  std::vector<int64_t> bucket_sizes() const;

 private:
  struct Slot {
    Tensor param;
    int64_t bucket = 0, offset = 0;
    bool ready = false;
  };
  struct Bucket {
    Tensor flat;
    std::vector<size_t> slots;
    int64_t waiting = 0;
    std::unique_ptr<Pending> pending;
  };
  void on_ready(size_t slot);
  void copy_in(Slot& s);
  void launch_ready();

  Communicator* comm_ = nullptr;  // the group's, for the parameters' device
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool armed_ = false;
};

}  // namespace ft::dist
