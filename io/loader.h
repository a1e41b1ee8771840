// The data loader: a seeded shuffle per epoch that is deterministic and resumable from (epoch, step),
// batching with drop_last, and background workers with bounded prefetch that deliver batches in
// order. Distributed (world > 1): every rank draws the same epoch order, which is cut into global
// batches of batch_size x world; rank r takes the r-th batch_size slice of each (so the step's
// examples are the ones one process with batch batch_size x world would take, disjoint across
// ranks). A short last global batch leaves later ranks fewer examples, or none (an empty batch):
// the Trainer weights by the global count, so the update is still that of the whole batch. What a batch is (token ids with dynamic padding, image tensors) is the collate function's
// business: it receives the example indices of one batch.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace ft::io {

struct LoaderOptions {
  int64_t batch_size = 8;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 42;
  int workers = 0;   // background threads collating batches (0: on the caller's thread)
  int prefetch = 2;  // batches queued ahead per worker
  // group_by_length: example lengths; batches then hold examples of similar length (less padding).
  std::vector<int64_t> lengths;
  int rank = 0, world = 1;  // data parallelism: this process's share of every global batch
};

// The order of one epoch: a Philox-keyed permutation of [0, n) (identity without shuffle).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

// The Hugging Face LengthGroupedSampler's order: the epoch's random permutation cut into mega-batches
// of 50 batches, each sorted by length, longest first; consecutive batches then need little padding.
std::vector<int64_t> length_grouped_order(const std::vector<int64_t>& lengths, int64_t batch_size, uint64_t seed,
                                          int64_t epoch);

template <class Batch>
class Loader {
 public:
  using Collate = std::function<Batch(const std::vector<int64_t>& indices)>;

  Loader(int64_t size, LoaderOptions opts, Collate collate) : n_(size), opts_(opts), collate_(std::move(collate)) {}
  ~Loader() { stop(); }

  // Global batches (batch_size x world examples; this rank's share of each is one next()).
  int64_t batches_per_epoch() const {
    const int64_t g = global_batch();
    return opts_.drop_last ? n_ / g : (n_ + g - 1) / g;
  }
  // Examples in global batch `step` of an epoch, over all ranks.
  int64_t global_examples(int64_t step) const {
    const int64_t begin = step * global_batch();
    return std::max<int64_t>(0, std::min<int64_t>(n_, begin + global_batch()) - begin);
  }
  // Positions the loader at batch `step` of `epoch` (0-based): what a resumed run continues from.
  void seek(int64_t epoch, int64_t step) {
    stop();
    epoch_ = epoch;
    step_ = step;
    order_ = opts_.lengths.empty() ? epoch_order(n_, opts_.seed, epoch_, opts_.shuffle)
                                   : length_grouped_order(opts_.lengths, global_batch(), opts_.seed, epoch_);
    queued_ = step_;
  }
  // The next batch of the current epoch; false at the epoch's end (then seek(epoch + 1, 0)).
  bool next(Batch& out) {
    if (order_.empty() && n_ > 0) seek(epoch_, step_);
    if (step_ >= batches_per_epoch()) return false;
    if (opts_.workers == 0 || count(step_) == 0) {
      const std::vector<int64_t> idx = indices(step_++);
      out = idx.empty() ? Batch() : collate_(idx);  // a rank with no examples in a short last batch
      return true;
    }
    fill_queue();
    std::future<Batch> f = std::move(queue_.front());
    queue_.pop_front();
    ++step_;
    fill_queue();
    out = f.get();
    return true;
  }
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }

 private:
  int64_t global_batch() const { return opts_.batch_size * opts_.world; }
  // This rank's positions [first, first + count) of the epoch order in global batch `step`.
  int64_t first(int64_t step) const { return std::min<int64_t>(n_, step * global_batch() + opts_.rank * opts_.batch_size); }
  int64_t count(int64_t step) const {
    return std::min<int64_t>({n_, first(step) + opts_.batch_size, (step + 1) * global_batch()}) - first(step);
  }
  std::vector<int64_t> indices(int64_t step) const {
    std::vector<int64_t> out(static_cast<size_t>(count(step)));
    std::copy_n(order_.begin() + first(step), out.size(), out.begin());
    return out;
  }
  // Keeps workers * prefetch batches in flight, each collated by std::async on its own thread;
  // futures are consumed in step order, so the output order never depends on timing.
  void fill_queue() {
    const size_t depth = static_cast<size_t>(std::max(1, opts_.workers * opts_.prefetch));
    while (queue_.size() < depth && queued_ < batches_per_epoch() && count(queued_) > 0) {
      std::vector<int64_t> idx = indices(queued_++);
      queue_.push_back(std::async(std::launch::async, [this, idx = std::move(idx)] { return collate_(idx); }));
    }
  }
  void stop() {
    for (auto& f : queue_) f.wait();
    queue_.clear();
  }

  int64_t n_;
  LoaderOptions opts_;
  Collate collate_;
  int64_t epoch_ = 0, step_ = 0, queued_ = 0;
  std::vector<int64_t> order_;
  std::deque<std::future<Batch>> queue_;
};

}  // namespace ft::io
