// Images: JPEG (libjpeg-turbo, as Pillow decodes it: io/jpeg.h), PNG and BMP (stb_image on a memory
// budget: io/stb_decode.h) to 8-bit RGB, and image-folder data sets (one subfolder per class, as
// torchvision's ImageFolder: classes and files in sorted order). One decoder decides whether a file
// is readable: the up-front check of a data set decodes with the same function the loader uses. An
// undecodable file is an ft::Error naming the path and the reason.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ft::io {

struct Image {
  int64_t height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // HWC, row-major
};

// Pillow's Image.MAX_IMAGE_PIXELS: int(1024 * 1024 * 1024 // 4 // 3), a 0.25 GiB RGB image.
inline constexpr int64_t kDefaultMaxImagePixels = 89478485;

// Decodes an image file. An image whose header claims more than max_pixels pixels (<= 0: no limit) is
// refused before anything is decoded (a 1 KB file can claim 60000 x 60000), and so is a file larger
// than any image within the limit can be; decoding itself allocates at most what the pixels need.
Image load_image(const std::string& path, int64_t max_pixels = kDefaultMaxImagePixels);
// The same for a file's bytes already in memory (`name` is what errors call it).
Image decode_image(const unsigned char* data, size_t size, const std::string& name,
                   int64_t max_pixels = kDefaultMaxImagePixels);

struct ImageFolder {
  std::vector<std::string> classes;  // sorted folder names; label = index
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};

// Lists root/<class>/<file> for image files (.jpg .jpeg .png .bmp, any case); an empty data set or a
// missing folder is an error.
ImageFolder list_image_folder(const std::string& root);

// Decodes every image once: an undecodable one is an ft::Error naming its path, or, with
// skip_undecodable, is dropped and counted. Returns the number skipped.
int64_t check_images(ImageFolder& folder, bool skip_undecodable, int64_t max_pixels = kDefaultMaxImagePixels);

// A CSV manifest with image paths (relative to the manifest's folder unless absolute) and labels;
// class names are the sorted distinct labels, or `classes` when given (a label outside it is an
// error naming the line).
ImageFolder read_image_manifest(const std::string& csv_path, const std::string& path_column = "path",
                                const std::string& label_column = "label",
                                const std::vector<std::string>* classes = nullptr);

}  // namespace ft::io
