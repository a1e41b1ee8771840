// ftrain: the command-line front end. Library errors (ft::Error) become one line on stderr and a
// non-zero exit status; nothing already written is touched.
#include <cstdio>
#include <exception>

#include "tools/ftrain/commands.h"

#ifndef FT_VERSION
#define FT_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"ftrain: fine-tune pretrained models (BERT, ResNet) from Hugging Face checkpoints"};
  app.set_version_flag("--version", std::string("ftrain ") + FT_VERSION);
  app.require_subcommand(1);
  ft::cli::add_inspect(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
