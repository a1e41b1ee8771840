// Image decoding as Pillow decodes, and the guards around it (tests/golden/gen_image_cases.py made
// the JPEG cases from a real CIFAR-10 image, with Pillow's pixels): arithmetic coding and junk before
// the end marker decode to Pillow's pixels, truncation is an error, CMYK converts with Pillow's
// formula, a header claiming 60000 x 60000 pixels is refused before decoding, a PNG whose data inflates
// far beyond its size is refused within a bounded budget, and the up-front check of a folder uses the
// same decoder as the loader.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/image.h"
#include "io/safetensors.h"

namespace ft::io {
namespace {

const std::string kDir = std::string(FT_FIXTURES_DIR) + "/images/";

std::vector<uint8_t> pillow(const std::string& name) {
  const SafetensorsReader r(kDir + "pillow.safetensors");
  std::vector<uint8_t> out;
  for (double v : r.load(name).to_vector<double>()) out.push_back(static_cast<uint8_t>(v));
  return out;
}

std::string error_of(const std::string& path, int64_t max_pixels = kDefaultMaxImagePixels) {
  try {
    load_image(path, max_pixels);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Images, JpegVariantsDecodeToPillowsPixels) {
  const std::vector<uint8_t> want = pillow("original");
  ASSERT_EQ(want.size(), 32u * 32 * 3);
  for (const char* name : {"original.jpg", "arithmetic.jpg", "junk_before_eoi.jpg"}) {
    const Image img = load_image(kDir + name);
    EXPECT_EQ(img.height, 32);
    EXPECT_EQ(img.width, 32);
    EXPECT_EQ(img.pixels, want) << name;
  }
}

TEST(Images, CmykJpegConvertsAsPillowDoes) {
  const Image img = load_image(kDir + "cmyk.jpg");
  const std::vector<uint8_t> want = pillow("cmyk");
  ASSERT_EQ(img.pixels.size(), want.size());
  int differing = 0;
  for (size_t i = 0; i < want.size(); ++i) differing += img.pixels[i] != want[i];
  EXPECT_EQ(differing, 0);
}

TEST(Images, TruncatedJpegsAreErrors) {
  for (const char* name : {"truncated.jpg", "truncated_scan.jpg"})
    EXPECT_NE(error_of(kDir + name).find(std::string(name) + ": cannot decode image: the file is truncated"),
              std::string::npos)
        << error_of(kDir + name);
}

TEST(Images, AHeaderClaimingTooManyPixelsIsRefusedBeforeDecoding) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of(kDir + "bomb.jpg");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(e.find("bomb.jpg: the image is 60000x60000 = 3600000000 pixels, more than --max_image_pixels 89478485"),
            std::string::npos)
      << e;
  EXPECT_LT(seconds, 5.0) << "the refusal must come before any decoding";  // not a speed claim: 3.6e9 pixels
  // The limit is the caller's: a small one refuses a real 32x32 image, 0 turns it off (the bomb then
  // fails in libjpeg, whose data ends long before 60000 rows).
  EXPECT_NE(error_of(kDir + "original.jpg", 1000).find("32x32 = 1024 pixels, more than --max_image_pixels 1000"),
            std::string::npos);
  EXPECT_EQ(load_image(kDir + "original.jpg", 1024).width, 32);
}

// A top-down BMP stores its height negated: it decodes, and a huge negated height meets the pixel limit
// (the fuzzer found that stb_image's header query reports the negated value).
TEST(Images, TopDownBmpHeightsMeetThePixelLimit) {
  std::ifstream f(kDir + "rgb8x8.bmp", std::ios::binary);
  std::string bmp((std::istreambuf_iterator<char>(f)), {});
  ASSERT_GT(bmp.size(), 26u);
  auto with_height = [&](int32_t h) {
    std::string b = bmp;
    for (int i = 0; i < 4; ++i) b[22 + i] = static_cast<char>((static_cast<uint32_t>(h) >> (8 * i)) & 0xFF);
    return b;
  };
  auto decode = [](const std::string& b) {
    return decode_image(reinterpret_cast<const unsigned char*>(b.data()), b.size(), "x.bmp");
  };
  const Image bottom_up = decode(bmp), top_down = decode(with_height(-8));
  ASSERT_EQ(top_down.height, 8);
  ASSERT_EQ(top_down.width, 8);
  for (int64_t y = 0; y < 8; ++y)  // the same rows, in the other order
    for (int64_t i = 0; i < 24; ++i)
      ASSERT_EQ(top_down.pixels[y * 24 + i], bottom_up.pixels[(7 - y) * 24 + i]);
  try {
    decode(with_height(-16777214));
    FAIL() << "a 8 x 16777214 header passed the pixel limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.bmp: the image is 8x16777214 = 134217712 pixels, more than"),
              std::string::npos)
        << e.what();
  }
}

// A PNG whose zlib stream inflates to 256 MB while its header says 64 x 64: stb_image would keep
// growing its buffer; the budget stops it.
std::string png_bomb(const std::string& path) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string td = type + data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(td.data()), static_cast<uInt>(td.size())));
    return be32(static_cast<uint32_t>(data.size())) + td + be32(crc);
  };
  std::string ihdr = be32(64) + be32(64) + std::string{8, 2, 0, 0, 0};  // 8-bit RGB
  z_stream z{};
  deflateInit(&z, 9);
  std::string idat;
  const std::string zeros(1 << 20, '\0');
  std::vector<unsigned char> out(1 << 16);
  for (int mb = 0; mb < 256; ++mb) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = static_cast<uInt>(zeros.size());
    do {
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      deflate(&z, mb == 255 ? Z_FINISH : Z_NO_FLUSH);
      idat.append(reinterpret_cast<char*>(out.data()), out.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  std::ofstream(path, std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << chunk("IHDR", ihdr)
                                        << chunk("IDAT", idat) << chunk("IEND", "");
  return path;
}

TEST(Images, APngThatInflatesBeyondItsSizeIsRefused) {
  const std::string p = png_bomb(::testing::TempDir() + "ft_png_bomb.png");
  EXPECT_LT(std::filesystem::file_size(p), 1u << 20);
  const std::string e = error_of(p);
  EXPECT_NE(e.find("its data expands to more than a 64x64 image can hold"), std::string::npos) << e;
  std::filesystem::remove(p);
}

TEST(Images, TheFolderCheckUsesTheLoadersDecoder) {
  // The arithmetic-coded JPEG (which stb_image cannot read) is kept; a truncated one is an error
  // naming it, or a counted skip.
  const std::string dir = ::testing::TempDir() + "ft_image_cases";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/plane");
  for (const char* f : {"original.jpg", "arithmetic.jpg", "junk_before_eoi.jpg", "truncated.jpg"})
    std::filesystem::copy_file(kDir + f, dir + "/plane/" + f);
  ImageFolder strict = list_image_folder(dir), lenient = list_image_folder(dir);
  try {
    check_images(strict, false);
    FAIL() << "a truncated image passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.jpg: cannot decode image: the file is truncated"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(check_images(lenient, true), 1);
  ASSERT_EQ(lenient.paths.size(), 3u);
  for (const std::string& p : lenient.paths) EXPECT_EQ(load_image(p).width, 32) << p;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ft::io
