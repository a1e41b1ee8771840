// ftrain: the command-line front end. Library errors (ft::Error) become one line on stderr and a
// non-zero exit status; nothing already written is touched.
#include <cstdio>
#include <exception>

#include "core/dist/dist.h"
#include "core/error.h"
#include "tools/ftrain/commands.h"
#ifdef FT_HAVE_CUDA
#include "core/cuda/cuda_backend.h"
#endif

#ifndef FT_VERSION
#define FT_VERSION "unknown"
#endif

namespace {

// Under mpirun each rank takes the device of its local rank: "auto" and "cuda" mean cuda:<local rank>.
ft::Device resolve_device(const std::string& name) {
  if (name == "cpu") return ft::kCPU;
#ifdef FT_HAVE_CUDA
  const ft::dist::Group& world = ft::dist::world();
  const int local = world.local_rank();
  if (name == "auto" && !ft::install_cuda_backend()) return ft::kCPU;
  const ft::Device d = name == "auto" ? ft::Device(ft::DeviceType::cuda, local) : ft::Device::parse(name);
  FT_CHECK(ft::install_cuda_backend(), "--device ", name, ": no CUDA device is visible (use --device cpu)");
  const bool indexed = name.find(':') != std::string::npos;
  FT_CHECK(!world.distributed() || !indexed, "--device ", name, " under mpirun (", world.size(),
           " ranks): each rank takes cuda:<its local rank>; pass --device cuda (or auto)");
  const int index = world.distributed() ? local : d.index;
  ft::use_cuda_device(index);  // cuda:N runs on device N, or a clear error now
  return ft::Device(ft::DeviceType::cuda, index);
#else
  if (name == "auto") return ft::kCPU;
  throw ft::Error("--device " + name + ": this ftrain was built without the CUDA backend (no nvcc at build time)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  // Under mpirun: MPI up, this process one rank of the job (a world of one otherwise).
  try {
    ft::dist::init();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftrain: error: %s\n", e.what());
    return 1;
  }
  ft::dist::Group& world = ft::dist::world();
  CLI::App app{"ftrain: fine-tune pretrained models (BERT, ResNet, GPT-2, Llama) from Hugging Face checkpoints"};
  app.set_version_flag("--version", std::string("ftrain ") + FT_VERSION);
  app.require_subcommand(1);
  using ft::cli::Command;
  ft::cli::add_command(app, "train", "Fine-tune a pretrained model on a data set", Command::train, ft::cli::run_train,
                       resolve_device);
  ft::cli::add_command(app, "eval", "Evaluate a fine-tuned model on a labelled data set", Command::eval,
                       ft::cli::run_eval, resolve_device);
  ft::cli::add_command(app, "predict", "Predict labels and probabilities with a fine-tuned model", Command::predict,
                       ft::cli::run_predict, resolve_device);
  ft::cli::add_command(app, "serve", "Serve a fine-tuned model over HTTP (TEI-style /predict, a page at /)",
                       Command::serve, ft::cli::run_serve, resolve_device);
  ft::cli::add_inspect(app);
  ft::cli::add_convert(app);
  ft::cli::add_merge(app);
  ft::cli::add_generate(app, resolve_device);
  int status = 0;
  try {
    app.parse(argc, argv);
    if (world.distributed() && !app.got_subcommand("train"))
      throw ft::dist::SharedError("only `ftrain train` runs data parallel under mpirun; run " +
                                  app.get_subcommands().front()->get_name() + " as one process");
  } catch (const CLI::ParseError& e) {
    status = world.rank() == 0 ? app.exit(e) : (e.get_exit_code() ? e.get_exit_code() : 0);
  } catch (const ft::dist::SharedError& e) {
    // Every rank has this error: rank 0 says it once, and every rank ends normally.
    std::fflush(stdout);
    if (world.rank() == 0) std::fprintf(stderr, "ftrain: error: %s\n", ft::clip(e.what(), 4000).c_str());
    status = 1;
  } catch (const std::exception& e) {
    // Messages quote input in short pieces already; this bounds any other (a library's own text).
    const std::string msg = ft::clip(e.what(), 4000);
    if (world.distributed())  // this rank's alone: it ends the whole job, naming itself
      ft::dist::abort_job("ftrain: error (" + world.describe() + "): " + msg + "; stopping every rank", 1);
    std::fflush(stdout);
    std::fprintf(stderr, "ftrain: error: %s\n", msg.c_str());
    status = 1;
  }
  ft::dist::finalize();
  return status;
}
