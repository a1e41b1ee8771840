// Image transforms: Pillow parity for resizing (tests/golden/gen_image_transforms.py), crops, flips,
// normalisation, the random resized crop, and a preprocessor_config.json pipeline.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "io/transforms.h"

namespace ft::io {
namespace {

Image from_tensor(const Tensor& t) {
  Image img{t.size(0), t.size(1), t.size(2), {}};
  for (int64_t v : t.to_vector<int64_t>()) img.pixels.push_back(static_cast<uint8_t>(v));
  return img;
}

// The fixture's input is Pillow's decoding of CIFAR-10 train/airplane/0000.jpg: ftrain's libjpeg
// path must give the same bytes (stb_image's decoder did not).
TEST(Transforms, JpegDecodingMatchesPillow) {
  const char* d = std::getenv("FT_SHARED_DIR");
  const std::string path = std::string(d ? d : FT_DEFAULT_SHARED_DIR) + "/data/cifar10/train/airplane/0000.jpg";
  SafetensorsReader r(std::string(FT_FIXTURES_DIR) + "/pillow_resize.safetensors");
  const Image want = from_tensor(r.load("input"));
  const Image got = load_image(path);
  ASSERT_EQ(got.height, want.height);
  ASSERT_EQ(got.width, want.width);
  EXPECT_EQ(got.pixels, want.pixels);
}

TEST(Transforms, ResizeMatchesPillowBitForBit) {
  SafetensorsReader r(std::string(FT_FIXTURES_DIR) + "/pillow_resize.safetensors");
  const Image input = from_tensor(r.load("input"));
  struct Case {
    const char* name;
    int64_t h, w;
    Resample f;
  };
  for (const Case& c : {Case{"bicubic_224x224", 224, 224, Resample::bicubic}, Case{"bilinear_20x20", 20, 20, Resample::bilinear},
                        Case{"bilinear_48x40", 48, 40, Resample::bilinear}, Case{"bicubic_16x13", 16, 13, Resample::bicubic},
                        Case{"bicubic_70x50", 70, 50, Resample::bicubic}}) {
    const Image want = from_tensor(r.load(c.name));
    const Image got = resize(input, c.h, c.w, c.f);
    ASSERT_EQ(got.pixels.size(), want.pixels.size()) << c.name;
    int worst = 0;
    size_t differ = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i) {
      const int d = std::abs(static_cast<int>(got.pixels[i]) - static_cast<int>(want.pixels[i]));
      worst = std::max(worst, d);
      differ += d != 0;
    }
    std::printf("[pillow] %-16s max |diff| %d, %zu of %zu values differ\n", c.name, worst, differ, got.pixels.size());
    EXPECT_EQ(worst, 0) << c.name;
  }
}

TEST(Transforms, CropsFlipsAndNormalisation) {
  Image img{2, 3, 3, {}};
  for (int i = 0; i < 18; ++i) img.pixels.push_back(static_cast<uint8_t>(i * 10));
  const Image f = hflip(img);
  EXPECT_EQ(f.pixels[0], 60);  // pixel (0, 2) moved to (0, 0)
  const Image c = center_crop(img, 1, 1);  // top (2-1)/2 = 0, left (3-1)/2 = 1
  EXPECT_EQ(c.pixels, (std::vector<uint8_t>{30, 40, 50}));
  EXPECT_THROW(crop(img, 1, 1, 2, 2), Error);
  const std::vector<float> chw = to_chw(img, 1.0 / 255, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
  EXPECT_NEAR(chw[0], (0 / 255.0 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR(chw[6], (10 / 255.0 - 0.5) / 0.5, 1e-6);  // channel 1 of pixel 0
  const Image a = random_resized_crop(img, 4, 4, 9, 0), b = random_resized_crop(img, 4, 4, 9, 0);
  EXPECT_EQ(a.pixels, b.pixels);  // same seed and counter: same crop
  EXPECT_EQ(a.height, 4);
}

TEST(Transforms, PreprocessorConfigPipeline) {
  const std::string p = ::testing::TempDir() + "ft_preprocessor_config.json";
  std::ofstream(p) << R"({"crop_pct": 0.875, "do_normalize": true, "do_rescale": true, "do_resize": true,
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}})";
  const PreprocessorConfig c = PreprocessorConfig::from_file(p);
  EXPECT_EQ(c.resample, Resample::bicubic);
  Image img{32, 48, 3, std::vector<uint8_t>(32 * 48 * 3, 128)};
  int64_t h = 0, w = 0;
  const std::vector<float> out = c.apply(img, &h, &w);  // short side to 256, then a 224 centre crop
  EXPECT_EQ(h, 224);
  EXPECT_EQ(w, 224);
  ASSERT_EQ(out.size(), 3u * 224 * 224);
  EXPECT_NEAR(out[0], (128 / 255.0 - 0.485) / 0.229, 1e-5);
}

}  // namespace
}  // namespace ft::io
