// Image transforms, and the evaluation pipeline a preprocessor_config.json describes. Resizing
// follows Pillow's resampling (the library transformers' image processors call for uint8 images):
// separable filters widened by the scale factor when shrinking (antialiasing), horizontal pass then
// vertical, each in Pillow's 22-bit fixed point and rounded to 8 bits; bilinear (support 1) and
// bicubic (a = -0.5, support 2). Bit for bit equal to Pillow 13 (tested on a CIFAR-10 image, up- and
// downscaling).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace ft::io {

enum class Resample { bilinear, bicubic };

Image resize(const Image& img, int64_t height, int64_t width, Resample filter);
Image crop(const Image& img, int64_t top, int64_t left, int64_t height, int64_t width);
// transformers' center_crop: top = (H - h) / 2, left = (W - w) / 2 (integer division).
Image center_crop(const Image& img, int64_t height, int64_t width);
Image hflip(const Image& img);
// torchvision's RandomResizedCrop: area fraction in [scale_lo, scale_hi] and log-uniform aspect ratio
// in [ratio_lo, ratio_hi], 10 tries, then a centre crop; randomness from Philox (seed, counter).
Image random_resized_crop(const Image& img, int64_t height, int64_t width, uint64_t seed, uint64_t counter,
                          double scale_lo = 0.08, double scale_hi = 1.0, double ratio_lo = 3.0 / 4,
                          double ratio_hi = 4.0 / 3, Resample filter = Resample::bilinear);
// CHW floats: (pixel * rescale - mean[c]) / std[c].
std::vector<float> to_chw(const Image& img, double rescale, const std::vector<double>& mean, const std::vector<double>& std);

// The eval transforms of a Hugging Face image processor config.
struct PreprocessorConfig {
  bool do_resize = true, do_center_crop = false, do_rescale = true, do_normalize = true;
  int64_t shortest_edge = 0, height = 224, width = 224;  // size: shortest_edge, or height x width
  double crop_pct = 0;                                    // ConvNext-style: resize to edge / crop_pct, crop
  int64_t crop_height = 224, crop_width = 224;
  Resample resample = Resample::bilinear;
  double rescale_factor = 1.0 / 255;
  std::vector<double> mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};

  static PreprocessorConfig from_file(const std::string& path);
  // Resize, crop, rescale, normalise: a CHW float image.
  std::vector<float> apply(const Image& img, int64_t* out_height = nullptr, int64_t* out_width = nullptr) const;
};

}  // namespace ft::io
