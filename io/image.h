// Images: JPEG, PNG and BMP decoding through stb_image (8-bit RGB), and image-folder data sets
// (one subfolder per class, as torchvision's ImageFolder: classes and files in sorted order).
// An undecodable file is an ft::Error naming the path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ft::io {

struct Image {
  int64_t height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // HWC, row-major
};

Image load_image(const std::string& path);

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
int64_t check_images(ImageFolder& folder, bool skip_undecodable);

// A CSV manifest with image paths (relative to the manifest's folder unless absolute) and labels;
// class names are the sorted distinct labels, or `classes` when given (a label outside it is an
// error naming the line).
ImageFolder read_image_manifest(const std::string& csv_path, const std::string& path_column = "path",
                                const std::string& label_column = "label",
                                const std::vector<std::string>* classes = nullptr);

}  // namespace ft::io
