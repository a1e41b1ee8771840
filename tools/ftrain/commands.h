// The ftrain subcommands: each registers itself on the CLI11 app (one file per subcommand).
#pragma once
#include <CLI/CLI.hpp>

namespace ft::cli {

void add_inspect(CLI::App& app);

}  // namespace ft::cli
