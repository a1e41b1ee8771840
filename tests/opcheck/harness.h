// The op check harness (DESIGN.md, Testing, point 2): a table of op cases, each with the op as the
// engine runs it and a plain f64 reference written here with loops, independent of the kernels.
// For every case and device: the op in f32 (the fast path) and f64 is compared with the reference
// by normalised squared error; guard bytes around every buffer are checked; for differentiable ops
// a central finite-difference gradient check runs in f64, and the f32 gradients are compared with
// the f64 ones.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"

namespace ft::opcheck {

// Row-major host array of doubles: the reference's data type.
struct Host {
  Shape shape;
  std::vector<double> v;
  int64_t numel() const { return static_cast<int64_t>(v.size()); }
  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t size(int64_t d) const { return shape[d < 0 ? d + dim() : d]; }
};
Host host_zeros(const Shape& s);

enum class Kind {
  real,      // uniform in [-2, 2]
  positive,  // uniform in [0.5, 2.5]
  nonzero,   // |x| in [0.1, 2], random sign (away from kinks at 0)
  index,     // integers in [0, limit)
  target,    // class indices in [0, limit) with one -100 (ignored) entry
  boolean,   // 0/1
  prob,      // uniform in [0, 1] (binary targets)
  distinct,  // distinct multiples of 1/16, exact in bf16 and f16: no ties (max pooling in low precision)
};

struct Input {
  Shape shape;
  Kind kind = Kind::real;
  int64_t limit = 0;        // for index and target
  bool noncontig = false;   // passed to the op as a transposed (or strided) view
  bool grad = true;         // floating inputs only: included in the gradient check
};

struct Case {
  std::string op;     // the op it covers (for the coverage check), e.g. "add"
  std::string label;  // distinguishes cases of one op, e.g. "bcast_3x1x5_4x5"
  std::vector<Input> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> run;    // the op under test
  std::function<Host(const std::vector<Host>&)> reference;  // plain loops in f64
  bool differentiable = true;
  double f32_nmse = 1e-9;  // forward threshold for f32 (f64 uses 1e-20)
};

const std::vector<Case>& all_cases();
void conv_cases(std::vector<Case>& cases);  // cases_conv.cpp
// The ops the engine-core issue lists; every one must appear in all_cases().
const std::vector<std::string>& required_ops();

// Reference helpers.
Host map1(const Host& a, const std::function<double(double)>& f);
Host map_n(const std::vector<Host>& xs, const std::function<double(const std::vector<double>&)>& f);
// Visits every multi-index of `shape` in row-major order.
void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& f);
int64_t flat_index(const Shape& shape, const std::vector<int64_t>& idx);

}  // namespace ft::opcheck
