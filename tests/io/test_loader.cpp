// The loader: seeded per-epoch order, exact resumption from (epoch, step), workers that do not change
// the order, and the real CIFAR-10 folder and Rotten Tomatoes CSV.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "tests/common/test_util.h"
#include "core/error.h"
#include "io/collate.h"
#include "io/csv.h"
#include "io/image.h"
#include "io/loader.h"
#include "io/text_dataset.h"
#include "io/tokenizer.h"

namespace ft::io {
namespace {

using test::data_dir;

std::string cifar_dir() {
  const char* d = std::getenv("FT_SHARED_DIR");
  return std::string(d ? d : FT_DEFAULT_SHARED_DIR) + "/data/cifar10";
}

using Batch = std::vector<int64_t>;
Loader<Batch>::Collate identity() {
  return [](const std::vector<int64_t>& idx) { return idx; };
}

std::vector<Batch> drain(Loader<Batch>& l) {
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}

TEST(Loader, EpochOrderIsASeededPermutation) {
  const auto a = epoch_order(1000, 7, 0, true), b = epoch_order(1000, 7, 0, true);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, epoch_order(1000, 7, 1, true));
  EXPECT_NE(a, epoch_order(1000, 8, 0, true));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 1000u);
  EXPECT_EQ(epoch_order(5, 7, 3, false), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, RottenTomatoesInADeterministicOrderThatResumesExactly) {
  const Table rt = read_delimited(data_dir() + "/rotten_tomatoes/rotten_tomatoes_corpus.csv");
  const int64_t n = static_cast<int64_t>(rt.rows.size());
  LoaderOptions o;
  o.batch_size = 64;
  o.seed = 3;
  // Reference: epochs 0 and 1 uninterrupted.
  Loader<Batch> full(n, o, identity());
  std::vector<Batch> e0 = drain(full);
  full.seek(1, 0);
  std::vector<Batch> e1 = drain(full);
  ASSERT_EQ(e0.size(), 79u);  // 5022 / 64, last batch partial (drop_last off)
  EXPECT_EQ(e0.back().size(), 5022u - 78 * 64);
  std::set<int64_t> seen;
  for (const Batch& b : e0) seen.insert(b.begin(), b.end());
  EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
  EXPECT_NE(e0[0], e1[0]);
  // Interrupted at epoch 1, step 17: a new loader seeks there and yields the same batches.
  Loader<Batch> resumed(n, o, identity());
  resumed.seek(1, 17);
  const std::vector<Batch> rest = drain(resumed);
  ASSERT_EQ(rest.size(), e1.size() - 17);
  for (size_t i = 0; i < rest.size(); ++i) ASSERT_EQ(rest[i], e1[17 + i]) << "batch " << 17 + i;
  // The same with background workers.
  o.workers = 2;
  Loader<Batch> threaded(n, o, identity());
  threaded.seek(1, 0);
  EXPECT_EQ(drain(threaded), e1);
  o.drop_last = true;
  EXPECT_EQ(Loader<Batch>(n, o, identity()).batches_per_epoch(), 78);
}

TEST(Loader, Cifar10FolderDecodesThroughWorkersInOrder) {
  const ImageFolder f = list_image_folder(cifar_dir() + "/train");
  ASSERT_EQ(f.classes.size(), 10u);
  EXPECT_EQ(f.classes[0], "airplane");
  EXPECT_EQ(f.classes[9], "truck");
  ASSERT_EQ(f.paths.size(), 10000u);
  const Image img = load_image(f.paths[0]);
  EXPECT_EQ(img.height, 32);
  EXPECT_EQ(img.width, 32);
  EXPECT_EQ(img.pixels.size(), 32u * 32 * 3);
  // Batches of decoded images (a checksum per image stands for the tensor): workers give the same.
  using Sums = std::vector<int64_t>;
  auto collate = [&](const std::vector<int64_t>& idx) {
    Sums s;
    for (int64_t i : idx) {
      int64_t sum = f.labels[i] * 1000000;
      for (uint8_t p : load_image(f.paths[i]).pixels) sum += p;
      s.push_back(sum);
    }
    return s;
  };
  LoaderOptions o;
  o.batch_size = 100;
  Loader<Sums> plain(2000, o, collate);  // the first 2,000 images keep the test short
  o.workers = 2;
  Loader<Sums> threaded(2000, o, collate);
  Sums a, b;
  int batches = 0;
  while (plain.next(a)) {
    ASSERT_TRUE(threaded.next(b));
    ASSERT_EQ(a, b);
    ++batches;
  }
  EXPECT_EQ(batches, 20);
  EXPECT_EQ(list_image_folder(cifar_dir() + "/test").paths.size(), 2000u);
  // Resuming the folder's order at (epoch 2, step 40) continues the uninterrupted epoch exactly.
  LoaderOptions ro;
  ro.batch_size = 32;
  Loader<Batch> whole(static_cast<int64_t>(f.paths.size()), ro, identity()), resumed(static_cast<int64_t>(f.paths.size()), ro, identity());
  whole.seek(2, 0);
  const std::vector<Batch> e2 = drain(whole);
  resumed.seek(2, 40);
  const std::vector<Batch> rest = drain(resumed);
  ASSERT_EQ(rest.size() + 40, e2.size());
  for (size_t i = 0; i < rest.size(); ++i) ASSERT_EQ(rest[i], e2[40 + i]);
}

TEST(Loader, TextBatchesArePaddedToTheirLongestSequence) {
  TextDatasetOptions o;
  o.label_column = "category";
  const TextDataset rt = load_text_dataset(data_dir() + "/rotten_tomatoes/rotten_tomatoes_corpus.csv", o);
  const Tokenizer tok = Tokenizer::from_path(data_dir() + "/minilm");
  LoaderOptions lo;
  lo.batch_size = 16;
  lo.workers = 2;
  Loader<TextBatch> loader(static_cast<int64_t>(rt.examples.size()), lo,
                           [&](const std::vector<int64_t>& idx) { return collate_text(tok, rt, idx, 64); });
  TextBatch b;
  ASSERT_TRUE(loader.next(b));
  ASSERT_EQ(b.input_ids.dim(), 2);
  EXPECT_EQ(b.input_ids.size(0), 16);
  EXPECT_LE(b.input_ids.size(1), 64);
  EXPECT_EQ(b.labels.shape(), (Shape{16}));
  // The longest row has no padding; padded positions have mask 0 and id 0.
  const auto mask = b.attention_mask.to_vector<int64_t>(), ids = b.input_ids.to_vector<int64_t>();
  const int64_t len = b.input_ids.size(1);
  bool some_row_full = false;
  for (int64_t r = 0; r < 16; ++r) {
    some_row_full = some_row_full || mask[r * len + len - 1] == 1;
    for (int64_t k = 0; k < len; ++k)
      if (mask[r * len + k] == 0) {
        EXPECT_EQ(ids[r * len + k], 0);
      }
  }
  EXPECT_TRUE(some_row_full);
}

TEST(Loader, ImageManifestsResolveRelativePaths) {
  const std::string dir = ::testing::TempDir() + "ft_manifest";
  std::system(("mkdir -p " + dir).c_str());
  const std::string cifar = cifar_dir() + "/test";
  std::ofstream(dir + "/m.csv") << "path,label\n" << cifar << "/cat/0000.jpg,cat\n" << cifar
                                << "/dog/0001.jpg,dog\nrelative.png,cat\n";
  const ImageFolder f = read_image_manifest(dir + "/m.csv");
  EXPECT_EQ(f.classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(f.labels, (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(f.paths[2], dir + "/relative.png");
  EXPECT_EQ(load_image(f.paths[1]).width, 32);
  const std::vector<std::string> only_cat = {"cat"};
  EXPECT_THROW(read_image_manifest(dir + "/m.csv", "path", "label", &only_cat), Error);
  EXPECT_THROW(read_image_manifest(dir + "/m.csv", "file"), Error);
}

TEST(Loader, UndecodableImagesAndEmptyFoldersAreErrors) {
  const std::string bad = ::testing::TempDir() + "ft_not_an_image.jpg";
  std::ofstream(bad) << "definitely not a JPEG";
  try {
    load_image(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ": cannot decode image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(list_image_folder("/nonexistent"), Error);
  // A folder with one broken image: an error naming it, or a counted skip under the flag.
  const std::string dir = ::testing::TempDir() + "ft_broken_folder";
  std::system(("mkdir -p " + dir + "/cat && cp " + cifar_dir() + "/test/cat/0000.jpg " + dir + "/cat/").c_str());
  std::ofstream(dir + "/cat/broken.jpg") << "not a jpeg";
  ImageFolder strict = list_image_folder(dir), lenient = list_image_folder(dir);
  try {
    check_images(strict, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg: cannot decode image"), std::string::npos) << e.what();
  }
  EXPECT_EQ(check_images(lenient, true), 1);
  EXPECT_EQ(lenient.paths.size(), 1u);
  const std::string empty = ::testing::TempDir() + "ft_empty_image_folder";
  std::system(("mkdir -p " + empty + "/cls").c_str());
  EXPECT_THROW(list_image_folder(empty), Error);
}

}  // namespace
}  // namespace ft::io
