#include "io/transforms.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/config.h"
#include "kernels/common/philox.h"

namespace ft::io {
namespace {

double bilinear(double x) {
  x = std::abs(x);
  return x < 1 ? 1 - x : 0;
}

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

struct Taps {
  std::vector<int64_t> start, count;
  std::vector<double> weights;  // count entries per output, padded to max_count
  int64_t max_count = 0;
};

// Pillow's precompute_coeffs: each output pixel centre maps into the input; the filter widens by the
// scale factor when shrinking; weights are normalised to sum to one.
Taps taps(int64_t in, int64_t out, Resample r) {
  const double support_1 = r == Resample::bicubic ? 2.0 : 1.0;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filterscale = std::max(scale, 1.0);
  const double support = support_1 * filterscale;
  Taps t;
  t.max_count = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.weights.assign(static_cast<size_t>(out * t.max_count), 0.0);
  for (int64_t xx = 0; xx < out; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in) - xmin;
    double sum = 0;
    double* w = &t.weights[static_cast<size_t>(xx * t.max_count)];
    for (int64_t x = 0; x < xmax; ++x) {
      const double arg = (static_cast<double>(x + xmin) - center + 0.5) * ss;
      w[x] = r == Resample::bicubic ? bicubic(arg) : bilinear(arg);
      sum += w[x];
    }
    for (int64_t x = 0; x < xmax; ++x) w[x] = sum != 0 ? w[x] / sum : 0;
    t.start.push_back(xmin);
    t.count.push_back(xmax);
  }
  return t;
}

// Pillow's 8-bit path in fixed point: coefficients scaled by 2^22 and rounded half away from zero,
// sums started at one half, shifted back, clipped.
constexpr int kPrecisionBits = 32 - 8 - 2;

std::vector<int32_t> fixed_point(const std::vector<double>& w) {
  std::vector<int32_t> k(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    k[i] = static_cast<int32_t>(w[i] * (1 << kPrecisionBits) + (w[i] < 0 ? -0.5 : 0.5));
  return k;
}

uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

Image resize(const Image& img, int64_t height, int64_t width, Resample filter) {
  FT_CHECK(height > 0 && width > 0, "resize: target size ", height, "x", width, " must be positive");
  const int64_t c = img.channels;
  Image cur = img;
  if (width != img.width) {  // horizontal pass first, as Pillow does
    const Taps t = taps(img.width, width, filter);
    const std::vector<int32_t> kw = fixed_point(t.weights);
    Image out{img.height, width, c, std::vector<uint8_t>(static_cast<size_t>(img.height * width * c))};
    for (int64_t y = 0; y < img.height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (int64_t ch = 0; ch < c; ++ch) {
          int64_t acc = int64_t(1) << (kPrecisionBits - 1);
          for (int64_t k = 0; k < t.count[x]; ++k)
            acc += int64_t(kw[x * t.max_count + k]) * cur.pixels[(y * img.width + t.start[x] + k) * c + ch];
          out.pixels[(y * width + x) * c + ch] = clip8(acc);
        }
    cur = std::move(out);
  }
  if (height != img.height) {
    const Taps t = taps(img.height, height, filter);
    const std::vector<int32_t> kw = fixed_point(t.weights);
    Image out{height, cur.width, c, std::vector<uint8_t>(static_cast<size_t>(height * cur.width * c))};
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < cur.width; ++x)
        for (int64_t ch = 0; ch < c; ++ch) {
          int64_t acc = int64_t(1) << (kPrecisionBits - 1);
          for (int64_t k = 0; k < t.count[y]; ++k)
            acc += int64_t(kw[y * t.max_count + k]) * cur.pixels[((t.start[y] + k) * cur.width + x) * c + ch];
          out.pixels[(y * cur.width + x) * c + ch] = clip8(acc);
        }
    cur = std::move(out);
  }
  return cur;
}

Image crop(const Image& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  FT_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= img.height && left + width <= img.width,
           "crop: box (", top, ", ", left, ") ", height, "x", width, " does not fit a ", img.height, "x", img.width,
           " image");
  Image out{height, width, img.channels, {}};
  out.pixels.reserve(static_cast<size_t>(height * width * img.channels));
  for (int64_t y = top; y < top + height; ++y)
    out.pixels.insert(out.pixels.end(), img.pixels.begin() + (y * img.width + left) * img.channels,
                      img.pixels.begin() + (y * img.width + left + width) * img.channels);
  return out;
}

Image center_crop(const Image& img, int64_t height, int64_t width) {
  FT_CHECK(height <= img.height && width <= img.width, "center_crop: ", height, "x", width, " is larger than the ",
           img.height, "x", img.width, " image");
  return crop(img, (img.height - height) / 2, (img.width - width) / 2, height, width);
}

Image hflip(const Image& img) {
  Image out = img;
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x)
      for (int64_t ch = 0; ch < img.channels; ++ch)
        out.pixels[(y * img.width + x) * img.channels + ch] =
            img.pixels[(y * img.width + (img.width - 1 - x)) * img.channels + ch];
  return out;
}

Image random_resized_crop(const Image& img, int64_t height, int64_t width, uint64_t seed, uint64_t counter,
                          double scale_lo, double scale_hi, double ratio_lo, double ratio_hi, Resample filter) {
  const double area = static_cast<double>(img.height * img.width);
  auto uniform = [&](uint64_t i) {
    return static_cast<double>(kern::uniform_from_u32(kern::philox_u32(seed, counter * 64 + i)));
  };
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale_lo + (scale_hi - scale_lo) * uniform(4 * attempt));
    const double log_r = std::log(ratio_lo) + (std::log(ratio_hi) - std::log(ratio_lo)) * uniform(4 * attempt + 1);
    const double ratio = std::exp(log_r);
    const int64_t w = std::lround(std::sqrt(target * ratio)), h = std::lround(std::sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= img.width && h <= img.height) {
      const int64_t top = std::min<int64_t>(img.height - h, static_cast<int64_t>(uniform(4 * attempt + 2) * (img.height - h + 1)));
      const int64_t left = std::min<int64_t>(img.width - w, static_cast<int64_t>(uniform(4 * attempt + 3) * (img.width - w + 1)));
      return resize(crop(img, top, left, h, w), height, width, filter);
    }
  }
  // Fallback: the largest centred crop with the ratio clamped into range.
  const double in_ratio = static_cast<double>(img.width) / static_cast<double>(img.height);
  int64_t w = img.width, h = img.height;
  if (in_ratio < ratio_lo) h = std::lround(static_cast<double>(w) / ratio_lo);
  else if (in_ratio > ratio_hi) w = std::lround(static_cast<double>(h) * ratio_hi);
  return resize(center_crop(img, h, w), height, width, filter);
}

std::vector<float> to_chw(const Image& img, double rescale, const std::vector<double>& mean, const std::vector<double>& sd) {
  FT_CHECK(mean.size() == static_cast<size_t>(img.channels) && sd.size() == static_cast<size_t>(img.channels),
           "to_chw: ", mean.size(), " means and ", sd.size(), " stds for ", img.channels, " channels");
  const int64_t hw = img.height * img.width;
  std::vector<float> out(static_cast<size_t>(hw * img.channels));
  for (int64_t ch = 0; ch < img.channels; ++ch)
    for (int64_t i = 0; i < hw; ++i)
      out[ch * hw + i] = static_cast<float>((img.pixels[i * img.channels + ch] * rescale - mean[ch]) / sd[ch]);
  return out;
}

static PreprocessorConfig parse_preprocessor(const Json& j, const std::string& path);

PreprocessorConfig PreprocessorConfig::from_file(const std::string& path) {
  const Json j = read_json(path);
  FT_CHECK(j.is_object(), path, ": expected a JSON object (an image processor's settings), found ", j.type_name());
  PreprocessorConfig p = read_fields(path, [&] { return parse_preprocessor(j, path); });
  // Sizes and statistics a transform can use: a resize to 10^9 pixels would exhaust the memory.
  auto size_ok = [](int64_t v) { return v >= 0 && v <= 16384; };
  FT_CHECK(size_ok(p.shortest_edge) && size_ok(p.height) && size_ok(p.width) && size_ok(p.crop_height) &&
               size_ok(p.crop_width),
           path, ": image sizes must be between 1 and 16384");
  FT_CHECK(!p.do_resize || p.shortest_edge > 0 || (p.height > 0 && p.width > 0), path,
           ": do_resize without a positive size");
  FT_CHECK(!p.do_center_crop || (p.crop_height > 0 && p.crop_width > 0), path,
           ": do_center_crop without a positive crop_size");
  FT_CHECK(p.crop_pct >= 0 && p.crop_pct <= 1 && std::isfinite(p.rescale_factor), path,
           ": crop_pct must be in (0, 1] and rescale_factor finite");
  FT_CHECK(p.mean.size() == 3 && p.std.size() == 3, path, ": image_mean and image_std need 3 values (RGB), got ",
           p.mean.size(), " and ", p.std.size());
  for (size_t c = 0; c < 3; ++c)
    FT_CHECK(std::isfinite(p.mean[c]) && std::isfinite(p.std[c]) && p.std[c] != 0, path,
             ": image_mean and image_std must be finite and image_std non-zero");
  return p;
}

static PreprocessorConfig parse_preprocessor(const Json& j, const std::string& path) {
  PreprocessorConfig p;
  auto get_bool = [&](const char* k, bool& v) {
    if (j.contains(k) && j[k].is_boolean()) v = j[k].get<bool>();
  };
  get_bool("do_resize", p.do_resize);
  get_bool("do_center_crop", p.do_center_crop);
  get_bool("do_rescale", p.do_rescale);
  get_bool("do_normalize", p.do_normalize);
  if (j.contains("size")) {
    const Json& s = j["size"];
    if (s.is_number_integer()) {
      p.shortest_edge = s.get<int64_t>();
    } else if (s.is_object() && s.contains("shortest_edge")) {
      p.shortest_edge = s["shortest_edge"].get<int64_t>();
    } else if (s.is_object() && s.contains("height") && s.contains("width")) {
      p.height = s["height"].get<int64_t>();
      p.width = s["width"].get<int64_t>();
    } else {
      throw Error(cat(path, ": unsupported 'size' ", s.dump()));
    }
  }
  if (j.contains("crop_pct") && j["crop_pct"].is_number()) p.crop_pct = j["crop_pct"].get<double>();
  if (j.contains("crop_size")) {
    const Json& c = j["crop_size"];
    if (c.is_number_integer()) p.crop_height = p.crop_width = c.get<int64_t>();
    else if (c.is_object() && c.contains("height")) p.crop_height = c["height"], p.crop_width = c["width"];
  }
  if (j.contains("resample") && j["resample"].is_number_integer()) {
    const int r = j["resample"].get<int>();  // PIL codes: 2 bilinear, 3 bicubic
    FT_CHECK(r == 2 || r == 3, path, ": resample ", r, " is not supported (2 bilinear, 3 bicubic)");
    p.resample = r == 3 ? Resample::bicubic : Resample::bilinear;
  }
  if (j.contains("rescale_factor") && j["rescale_factor"].is_number()) p.rescale_factor = j["rescale_factor"].get<double>();
  if (j.contains("image_mean")) p.mean = j["image_mean"].get<std::vector<double>>();
  if (j.contains("image_std")) p.std = j["image_std"].get<std::vector<double>>();
  return p;
}

std::vector<float> PreprocessorConfig::apply(const Image& img, int64_t* out_h, int64_t* out_w) const {
  Image cur = img;
  if (do_resize) {
    if (shortest_edge > 0) {
      // ConvNext-style with crop_pct (below 384): resize the short side to edge / crop_pct, then crop
      // edge x edge; otherwise resize the short side to edge keeping the aspect ratio.
      const bool pct = crop_pct > 0 && shortest_edge < 384;
      const double target = pct ? static_cast<double>(shortest_edge) / crop_pct : static_cast<double>(shortest_edge);
      const double s = target / static_cast<double>(std::min(cur.height, cur.width));
      const int64_t h = cur.height <= cur.width ? static_cast<int64_t>(target) : static_cast<int64_t>(cur.height * s);
      const int64_t w = cur.width <= cur.height ? static_cast<int64_t>(target) : static_cast<int64_t>(cur.width * s);
      cur = resize(cur, h, w, resample);
      if (pct) cur = center_crop(cur, shortest_edge, shortest_edge);
    } else {
      cur = resize(cur, height, width, resample);
    }
  }
  if (do_center_crop) cur = center_crop(cur, crop_height, crop_width);
  if (out_h) *out_h = cur.height;
  if (out_w) *out_w = cur.width;
  const std::vector<double> zero(static_cast<size_t>(cur.channels), 0.0), one(static_cast<size_t>(cur.channels), 1.0);
  return to_chw(cur, do_rescale ? rescale_factor : 1.0, do_normalize ? mean : zero, do_normalize ? std : one);
}

}  // namespace ft::io
