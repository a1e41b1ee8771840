// ftrain: the command-line front end. Library errors (ft::Error) become one line on stderr and a
// non-zero exit status; nothing already written is touched.
#include <cstdio>
#include <exception>

#include "core/error.h"
#include "tools/ftrain/commands.h"
#ifdef FT_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

#ifndef FT_VERSION
#define FT_VERSION "unknown"
#endif

namespace {

ft::Device resolve_device(const std::string& name) {
  if (name == "cpu") return ft::kCPU;
#ifdef FT_HAVE_CUDA
  if (name == "auto") return ft::install_cuda_backend() ? ft::Device(ft::DeviceType::cuda, 0) : ft::kCPU;
  const ft::Device d = ft::Device::parse(name);
  FT_CHECK(ft::install_cuda_backend(), "--device ", name, ": no CUDA device is visible (use --device cpu)");
  ft::use_cuda_device(d.index);  // cuda:N runs on device N, or a clear error now
  return d;
#else
  if (name == "auto") return ft::kCPU;
  throw ft::Error("--device " + name + ": this ftrain was built without the CUDA backend (no nvcc at build time)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ftrain: fine-tune pretrained models (BERT, ResNet) from Hugging Face checkpoints"};
  app.set_version_flag("--version", std::string("ftrain ") + FT_VERSION);
  app.require_subcommand(1);
  using ft::cli::Command;
  ft::cli::add_command(app, "train", "Fine-tune a pretrained model on a data set", Command::train, ft::cli::run_train,
                       resolve_device);
  ft::cli::add_command(app, "eval", "Evaluate a fine-tuned model on a labelled data set", Command::eval,
                       ft::cli::run_eval, resolve_device);
  ft::cli::add_command(app, "predict", "Predict labels and probabilities with a fine-tuned model", Command::predict,
                       ft::cli::run_predict, resolve_device);
  ft::cli::add_inspect(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Messages quote input in short pieces already; this bounds any other (a library's own text).
    std::fflush(stdout);
    std::fprintf(stderr, "ftrain: error: %s\n", ft::clip(e.what(), 4000).c_str());
    return 1;
  }
  return 0;
}
