// ftrain-demo: a small end-to-end run of the engine core, until the ftrain CLI exists.
// Trains an MLP (Linear -> GELU -> LayerNorm -> Dropout -> Linear) with cross-entropy, AdamW (Hugging
// Face parameter groups), linear warmup and decay, and gradient clipping, on a synthetic
// three-armed spiral (2-D points, 3 classes), then reports held-out accuracy. Exits non-zero if
// the model does not learn (accuracy below 90%).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include "core/nn/layers.h"
#include "core/ops.h"
#include "core/optim/lr_schedule.h"

namespace {

using namespace ft;

// n points per class on three interleaved spiral arms with Philox noise.
std::pair<Tensor, Tensor> spiral(int64_t n, Generator& gen) {
  const int64_t classes = 3;
  Tensor noise = randn({n * classes, 2}, DType::f64, &gen);
  auto nz = noise.to_vector<double>();
  std::vector<double> xs;
  std::vector<int64_t> ys;
  for (int64_t c = 0; c < classes; ++c) {
    for (int64_t i = 0; i < n; ++i) {
      const double r = static_cast<double>(i) / static_cast<double>(n);
      const double t = 4.0 * r + 2.0 * M_PI * static_cast<double>(c) / classes;
      const int64_t k = c * n + i;
      xs.push_back(r * std::sin(t) + 0.03 * nz[2 * k]);
      xs.push_back(r * std::cos(t) + 0.03 * nz[2 * k + 1]);
      ys.push_back(c);
    }
  }
  return {from_vector(xs, {n * classes, 2}), from_vector_i64(ys, {n * classes})};
}

struct Mlp : nn::Module {
  Mlp(Generator& gen)
      : fc1(register_module("fc1", std::make_shared<nn::Linear>(2, 64, true, &gen))),
        norm(register_module("norm", std::make_shared<nn::LayerNorm>(64))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(0.1))),
        fc2(register_module("fc2", std::make_shared<nn::Linear>(64, 3, true, &gen))) {}
  std::string type_name() const override { return "Mlp"; }
  Tensor forward(const Tensor& x, Generator& gen) const {
    return fc2->forward(drop->forward(norm->forward(gelu(fc1->forward(x))), &gen));
  }
  std::shared_ptr<nn::Linear> fc1;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc2;
};

double accuracy(const Mlp& model, const Tensor& x, const Tensor& y, Generator& gen) {
  NoGradGuard ng;
  auto pred = argmax(model.forward(x, gen), -1).to_vector<int64_t>();
  auto truth = y.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

}  // namespace

int main() {
  try {
    Generator gen(42);
    auto [x_train, y_train] = spiral(1000, gen);
    auto [x_test, y_test] = spiral(300, gen);
    Mlp model(gen);
    const int64_t epochs = 30, batch = 64, n = x_train.size(0);
    const int64_t steps_per_epoch = n / batch, total = epochs * steps_per_epoch;
    optim::AdamW opt(optim::hf_parameter_groups(model, 1e-2, 0.01));
    optim::LrScheduler sched(opt, optim::linear_schedule_with_warmup(total / 10, total));
    std::printf("ftrain-demo: MLP on a 3-class spiral, %lld train / %lld test points, %lld steps\n",
                static_cast<long long>(n), static_cast<long long>(x_test.size(0)), static_cast<long long>(total));
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      model.train();
      // A seeded permutation per epoch: sort Philox keys.
      auto keys = rand({n}, DType::f64, &gen).to_vector<double>();
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
      double loss_sum = 0, norm_sum = 0;
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        Tensor idx = from_vector_i64(std::vector<int64_t>(order.begin() + s * batch, order.begin() + (s + 1) * batch), {batch});
        Tensor loss = cross_entropy(model.forward(index_select(x_train, 0, idx), gen), index_select(y_train, 0, idx));
        loss.backward();
        norm_sum += optim::clip_grad_norm(model.parameters(), 1.0);
        opt.step();
        sched.step();
        opt.zero_grad();
        loss_sum += loss.item();
      }
      if (epoch % 5 == 4 || epoch == 0) {
        model.eval();
        std::printf("epoch %2lld  loss %.4f  grad_norm %.3f  lr %.5f  test accuracy %.3f\n",
                    static_cast<long long>(epoch + 1), loss_sum / steps_per_epoch, norm_sum / steps_per_epoch,
                    sched.last_lr()[0], accuracy(model, x_test, y_test, gen));
      }
    }
    model.eval();
    const double acc = accuracy(model, x_test, y_test, gen);
    std::printf("final test accuracy %.3f (chance 0.333)\n", acc);
    return acc >= 0.9 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftrain-demo: error: %s\n", e.what());
    return 1;
  }
}
