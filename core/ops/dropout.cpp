// Dropout with the Philox stream: keep element i when uniform value (offset + i) > p, scale kept
// elements by 1 / (1 - p). The mask is saved (one byte per element) for the backward.
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  FT_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  Backend& be = compute_backend("dropout", {&x});
  if (p == 1) return mul(x, 0.0);
  Generator& g = gen ? *gen : default_generator();
  Tensor xc = x.detach().contiguous();
  const int64_t n = x.numel();
  Tensor keep = empty(x.shape(), TensorOptions(DType::boolean).with_device(x.device()));
  be.dropout_mask(g.seed(), g.advance(static_cast<uint64_t>(n)), p, n, static_cast<uint8_t*>(keep.raw_data()));
  const double scale = 1.0 / (1.0 - p);
  Tensor out = empty(x.shape(), like(x));
  be.apply_mask(elem_of(x), xc.raw_data(), static_cast<const uint8_t*>(keep.raw_data()), scale, n, out.raw_data());
  return attach(out, "dropout", {x}, [keep, scale, n](const Tensor& gr, const std::vector<bool>&) {
    Tensor gc = gr.contiguous();
    Tensor dx = empty(gr.shape(), like(gr));
    backend_of("dropout_backward", {&gr}).apply_mask(elem_of(gr), gc.raw_data(),
                                                     static_cast<const uint8_t*>(keep.raw_data()), scale, n,
                                                     dx.raw_data());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace ft
