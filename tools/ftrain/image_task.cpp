// Image classification with ResNet: image folders (root/<class>/<file>, torchvision's ImageFolder) or
// CSV manifests (path, label), decoded per batch. Evaluation images go through the model's
// preprocessor_config.json (resize, crop, rescale, normalise); without one (a model trained from
// scratch) they keep their size, or take --image_size, and are normalised with ImageNet's mean and
// std. Training adds torchvision's RandomResizedCrop (--random_resized_crop_min_scale; 0 turns it off)
// and a horizontal flip (--horizontal_flip_probability), drawn from Philox by (seed, epoch, example),
// so a resumed run sees the same augmented images.
#include <filesystem>

#include "core/error.h"
#include "core/ops.h"
#include "io/config.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "io/transforms.h"
#include "kernels/common/philox.h"
#include "models/resnet/resnet.h"
#include "tools/ftrain/task.h"

namespace ft::cli {
namespace {

namespace fs = std::filesystem;

class ImageClassification : public Task {
 public:
  ImageClassification(const TrainArgs& a, Command cmd, Device device, std::string& log) : args_(a), device_(device) {
    const bool scratch = a.model_name_or_path.empty();
    const std::string dir = scratch ? a.config_name : a.model_name_or_path;
    const std::string config_path = fs::is_directory(dir) ? dir + "/config.json" : dir;
    FT_CHECK(fs::exists(config_path), config_path, ": no such config (--", scratch ? "config_name" : "model_name_or_path",
             ")");
    io::ResNetConfig config = io::ResNetConfig::from_json(io::read_json(config_path), config_path);
    const std::string model_dir = fs::is_directory(dir) ? dir : fs::path(dir).parent_path().string();
    preprocessor_dir_ = fs::exists(model_dir + "/preprocessor_config.json") ? model_dir : "";
    if (!preprocessor_dir_.empty()) pre_ = io::PreprocessorConfig::from_file(preprocessor_dir_ + "/preprocessor_config.json");
    else pre_.do_resize = false;
    if (a.image_size > 0) {
      pre_.do_resize = true, pre_.shortest_edge = 0, pre_.height = pre_.width = a.image_size;
      pre_.do_center_crop = false, pre_.crop_pct = 0;
    }
    if (cmd == Command::train) {
      train_ = load(Split::train, a.train_dir, a.train_file, nullptr);
      classes_ = train_.classes;
      if (classes_.size() < 2)
        warn(cat(a.train_dir.empty() ? a.train_file : a.train_dir, ": every training image has the class '",
                 clip(classes_.empty() ? "" : classes_[0], 80), "': the model can only learn to predict it"));
      if (!a.validation_dir.empty() || !a.validation_file.empty()) eval_ = load(Split::eval, a.validation_dir, a.validation_file, &classes_);
      if (!a.test_dir.empty() || !a.test_file.empty()) test_ = load(Split::test, a.test_dir, a.test_file, &classes_);
      truncate(train_, a.max_train_samples);
      config.labels = io::LabelConfig{};
      config.labels.num_labels = static_cast<int64_t>(classes_.size());
      config.labels.problem_type = "single_label_classification";
      for (size_t i = 0; i < classes_.size(); ++i) config.labels.id2label[static_cast<int64_t>(i)] = classes_[i];
    } else {
      for (auto& [id, name] : config.labels.id2label) classes_.push_back(name);
      FT_CHECK(!classes_.empty(), config_path, ": the model has no id2label: evaluate a fine-tuned model directory");
      if (cmd == Command::eval) eval_ = load(Split::eval, a.validation_dir, a.validation_file, &classes_);
      else if (cmd == Command::predict) test_ = load(Split::test, a.test_dir, a.test_file, &classes_);
    }
    truncate(eval_, a.max_eval_samples);
    truncate(test_, a.max_predict_samples);
    Generator init(a.seed);
    model_ = std::make_unique<models::ResNetForImageClassification>(config, &init);
    if (scratch) {
      log += cat("no pretrained weights (--config_name ", a.config_name, "): training from random initialisation\n");
    } else {
      FT_CHECK(fs::exists(model_dir + "/model.safetensors"), model_dir,
               ": no model.safetensors (to train from random initialisation, pass the config as --config_name)");
      const models::ResNetLoadReport r = models::load_weights(*model_, io::SafetensorsReader(model_dir + "/model.safetensors"));
      if (cmd != Command::train)
        FT_CHECK(r.missing.empty() && r.mismatched.empty(), model_dir, ": the checkpoint does not fit the model:\n",
                 r.message);
      if (r.timm) log += cat(model_dir, ": timm/torchvision tensor names, mapped to Hugging Face's\n");
      log += r.message;
    }
    model_->to(device_);
  }

  nn::Module& model() override { return *model_; }
  std::string problem_type() const override { return "single_label_classification"; }
  int64_t num_labels() const override { return model_->num_labels; }
  const std::vector<std::string>& label_names() const override { return classes_; }
  int64_t size(Split s) const override { return static_cast<int64_t>(data(s).paths.size()); }
  std::vector<int64_t> lengths(Split) const override { return {}; }
  void set_epoch(int64_t epoch) override { epoch_ = epoch; }

  Batch collate(Split s, const std::vector<int64_t>& indices) const override {
    const io::ImageFolder& d = data(s);
    std::vector<float> pixels;
    std::vector<int64_t> labels;
    int64_t h = 0, w = 0;
    for (int64_t i : indices) {
      const io::Image img = io::load_image(d.paths[static_cast<size_t>(i)], args_.max_image_pixels);
      int64_t ih = 0, iw = 0;
      const std::vector<float> chw = s == Split::train ? augment(img, i, &ih, &iw) : pre_.apply(img, &ih, &iw);
      if (h == 0) h = ih, w = iw;
      FT_CHECK(ih == h && iw == w, d.paths[static_cast<size_t>(i)], ": image is ", ih, "x", iw, " after preprocessing, "
               "the batch's others ", h, "x", w, " (give --image_size to resize all images alike)");
      pixels.insert(pixels.end(), chw.begin(), chw.end());
      labels.push_back(d.labels[static_cast<size_t>(i)]);
    }
    const int64_t b = static_cast<int64_t>(indices.size());
    return Batch{{from_bytes(pixels.data(), DType::f32, {b, 3, h, w})}, from_vector_i64(labels, {b}), b};
  }

  Tensor logits(const Batch& b, Generator*) override { return model_->logits(b.inputs[0].to(device_)); }
  Tensor loss(const Tensor& logits, const Batch& b, double label_smoothing) override {
    const Tensor y = b.labels.to(device_);
    if (label_smoothing > 0) return cross_entropy(logits, y, -100, label_smoothing);
    return model_->loss(logits, y);
  }
  void save_model(const std::string& dir, DType dtype) const override {
    models::save_pretrained(*model_, dir, preprocessor_dir_, dtype);
    if (preprocessor_dir_.empty()) write_preprocessor(dir);
  }
  void load_model_weights(const std::string& dir) override {
    const models::ResNetLoadReport r = models::load_weights(*model_, io::SafetensorsReader(dir + "/model.safetensors"));
    FT_CHECK(r.missing.empty() && r.mismatched.empty(), dir, ": the checkpoint does not fit the model:\n", r.message);
  }
  std::string example_text(Split s, int64_t i) const override { return data(s).paths[static_cast<size_t>(i)]; }
  std::string input_name() const override { return "image"; }

  Batch collate_raw(const std::vector<RawInput>& inputs) const override {
    std::vector<float> pixels;
    int64_t h = 0, w = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string& bytes = inputs[i].image;
      const std::string name = cat("image ", i + 1);
      const io::Image img = io::decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), name,
                                             args_.max_image_pixels);
      int64_t ih = 0, iw = 0;
      const std::vector<float> chw = pre_.apply(img, &ih, &iw);
      if (h == 0) h = ih, w = iw;
      FT_CHECK(ih == h && iw == w, name, ": ", ih, "x", iw, " after preprocessing, the batch's others ", h, "x", w,
               " (serve with --image_size to resize all images alike)");
      pixels.insert(pixels.end(), chw.begin(), chw.end());
    }
    const int64_t b = static_cast<int64_t>(inputs.size());
    return Batch{{from_bytes(pixels.data(), DType::f32, {b, 3, h, w})}, Tensor(), b};
  }
  int64_t raw_tokens(const RawInput&) const override { return 0; }
  int64_t max_input_length() const override { return 0; }

 private:
  const io::ImageFolder& data(Split s) const { return s == Split::train ? train_ : s == Split::eval ? eval_ : test_; }

  io::ImageFolder load(Split split, const std::string& dir, const std::string& manifest, const std::vector<std::string>* classes) {
    FT_CHECK(dir.empty() != manifest.empty(), "give an image folder (--train_dir, --validation_dir, --test_dir) or a ",
             "CSV manifest (--train_file, ...) for each split, not both");
    io::ImageFolder f = dir.empty() ? io::read_image_manifest(manifest, args_.image_column_name, args_.label_column_name,
                                                              classes)
                                    : io::list_image_folder(dir);
    // Every image decoded once up front: an unreadable one stops here, naming its path (or is skipped
    // and counted under --skip_malformed_rows), not in the middle of an epoch.
    const int64_t skipped = io::check_images(f, args_.skip_malformed_rows, args_.max_image_pixels);
    skipped_note(split, dir.empty() ? manifest : dir, skipped, "unreadable images");
    if (!dir.empty() && classes && f.classes != *classes) {
      // A folder's labels follow its own sorted class folders: map them to the training classes by name.
      std::vector<int64_t> to(f.classes.size(), -1);
      for (size_t k = 0; k < f.classes.size(); ++k) {
        for (size_t j = 0; j < classes->size(); ++j)
          if ((*classes)[j] == f.classes[k]) to[k] = static_cast<int64_t>(j);
        FT_CHECK(to[k] >= 0, dir, ": class folder '", f.classes[k], "' is not one of the ", classes->size(),
                 " training classes");
      }
      for (int64_t& l : f.labels) l = to[static_cast<size_t>(l)];
      f.classes = *classes;
    }
    return f;
  }
  static void truncate(io::ImageFolder& f, int64_t n) {
    if (n < 0 || n >= static_cast<int64_t>(f.paths.size())) return;
    f.paths.resize(static_cast<size_t>(n));
    f.labels.resize(static_cast<size_t>(n));
  }

  // The training view of an image: random resized crop to the evaluation size, then a random flip.
  std::vector<float> augment(const io::Image& img, int64_t index, int64_t* h, int64_t* w) const {
    const uint64_t draw = static_cast<uint64_t>(epoch_) * static_cast<uint64_t>(train_.paths.size()) +
                          static_cast<uint64_t>(index);
    io::Image x = img;
    if (args_.random_resized_crop_min_scale > 0) {
      int64_t eh = 0, ew = 0;
      eval_size(img, &eh, &ew);
      x = io::random_resized_crop(img, eh, ew, args_.seed, draw * 4, args_.random_resized_crop_min_scale, 1.0);
      const double flip = kern::philox_u32(args_.seed + 1, draw) / 4294967296.0;
      if (flip < args_.horizontal_flip_probability) x = io::hflip(x);
      *h = eh, *w = ew;
      io::PreprocessorConfig plain = pre_;
      plain.do_resize = false, plain.do_center_crop = false, plain.crop_pct = 0;
      return plain.apply(x);
    }
    const double flip = kern::philox_u32(args_.seed + 1, draw) / 4294967296.0;
    if (flip < args_.horizontal_flip_probability) x = io::hflip(x);
    return pre_.apply(x, h, w);
  }

  // The size the evaluation transform gives this image.
  void eval_size(const io::Image& img, int64_t* h, int64_t* w) const {
    *h = img.height, *w = img.width;
    if (pre_.do_center_crop) {
      *h = pre_.crop_height, *w = pre_.crop_width;
    } else if (pre_.do_resize && pre_.shortest_edge > 0 && pre_.crop_pct > 0 && pre_.shortest_edge < 384) {
      *h = *w = pre_.shortest_edge;
    } else if (pre_.do_resize && pre_.shortest_edge > 0) {
      const double s = static_cast<double>(pre_.shortest_edge) / static_cast<double>(std::min(img.height, img.width));
      *h = img.height <= img.width ? pre_.shortest_edge : static_cast<int64_t>(static_cast<double>(img.height) * s);
      *w = img.width <= img.height ? pre_.shortest_edge : static_cast<int64_t>(static_cast<double>(img.width) * s);
    } else if (pre_.do_resize) {
      *h = pre_.height, *w = pre_.width;
    }
  }

  // What evaluation did, as a preprocessor_config.json transformers' image processors read.
  void write_preprocessor(const std::string& dir) const {
    io::Json j = {{"image_processor_type", "ConvNextImageProcessor"}, {"do_resize", pre_.do_resize},
                  {"do_rescale", pre_.do_rescale}, {"rescale_factor", pre_.rescale_factor},
                  {"do_normalize", pre_.do_normalize}, {"image_mean", pre_.mean}, {"image_std", pre_.std},
                  {"resample", pre_.resample == io::Resample::bicubic ? 3 : 2}};
    if (pre_.do_resize) j["size"] = {{"height", pre_.height}, {"width", pre_.width}};
    io::write_json(dir + "/preprocessor_config.json", j);
  }

  TrainArgs args_;
  Device device_;
  io::PreprocessorConfig pre_;
  std::string preprocessor_dir_;
  std::vector<std::string> classes_;
  io::ImageFolder train_, eval_, test_;
  int64_t epoch_ = 0;
  std::unique_ptr<models::ResNetForImageClassification> model_;
};

}  // namespace

std::unique_ptr<Task> make_image_classification(const TrainArgs& args, Command cmd, Device device, std::string& log) {
  return std::make_unique<ImageClassification>(args, cmd, device, log);
}

}  // namespace ft::cli
