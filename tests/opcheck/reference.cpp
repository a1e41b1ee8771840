// Reference helpers of the op harness: plain row-major loops over doubles.
#include <stdexcept>

#include "tests/opcheck/harness.h"

namespace ft::opcheck {

Host host_zeros(const Shape& s) { return Host{s, std::vector<double>(static_cast<size_t>(shape_numel(s)), 0.0)}; }

void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& f) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    f(idx);
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

int64_t flat_index(const Shape& shape, const std::vector<int64_t>& idx) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + idx[d];
  return f;
}

Host map1(const Host& a, const std::function<double(double)>& f) {
  Host out = a;
  for (double& x : out.v) x = f(x);
  return out;
}

Host map_n(const std::vector<Host>& xs, const std::function<double(const std::vector<double>&)>& f) {
  // NumPy broadcasting, written out independently of the engine's implementation.
  size_t nd = 0;
  for (const Host& x : xs) nd = std::max(nd, x.shape.size());
  Shape out_shape(nd, 1);
  for (const Host& x : xs)
    for (size_t i = 0; i < x.shape.size(); ++i) {
      int64_t& o = out_shape[nd - x.shape.size() + i];
      const int64_t s = x.shape[i];
      if (o == 1) o = s;
      else if (s != 1 && s != o) throw std::runtime_error("reference: shapes do not broadcast");
    }
  Host out = host_zeros(out_shape);
  std::vector<double> vals(xs.size());
  for_each_index(out_shape, [&](const std::vector<int64_t>& idx) {
    for (size_t k = 0; k < xs.size(); ++k) {
      const Host& x = xs[k];
      std::vector<int64_t> xi(x.shape.size());
      for (size_t i = 0; i < x.shape.size(); ++i) {
        const int64_t o = idx[nd - x.shape.size() + i];
        xi[i] = x.shape[i] == 1 ? 0 : o;
      }
      vals[k] = x.v[flat_index(x.shape, xi)];
    }
    out.v[flat_index(out_shape, idx)] = f(vals);
  });
  return out;
}

}  // namespace ft::opcheck
