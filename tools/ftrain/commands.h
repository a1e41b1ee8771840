// The ftrain subcommands: each registers itself on the CLI11 app (one file per subcommand), and the
// run_* functions do the work (tests call them directly, on any device).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>

#include "core/device.h"
#include "tools/ftrain/args.h"

namespace ft::cli {

// Turns --device (auto, cpu, cuda:N) into a device, starting the CUDA backend when needed.
using DeviceResolver = Device (*)(const std::string& device);

// Exit codes: 0 done, 130 interrupted by Ctrl-C (a checkpoint was saved). Errors throw ft::Error.
int run_train(const TrainArgs& args, Device device);  // train.cpp
int run_eval(const TrainArgs& args, Device device);   // eval.cpp
int run_predict(const TrainArgs& args, Device device);  // predict.cpp
int run_serve(const TrainArgs& args, Device device);    // serve.cpp: runs until SIGTERM/SIGINT
// run_serve, calling on_listening(port) once the server accepts connections (tests: --port 0).
int serve_model(const TrainArgs& args, Device device, const std::function<void(int port)>& on_listening);
using RunFn = int (*)(const TrainArgs& args, Device device);

void add_inspect(CLI::App& app);
void add_convert(CLI::App& app);  // convert.cpp
void add_merge(CLI::App& app);    // merge.cpp
void add_generate(CLI::App& app, DeviceResolver resolve);  // generate.cpp
// A subcommand taking the options of `cmd`: --config applied, --threads set, the device resolved, `run`.
void add_command(CLI::App& app, const char* name, const char* help, Command cmd, RunFn run, DeviceResolver resolve);

// --threads: OpenMP and OpenBLAS threads (0 leaves the defaults).
void set_cpu_threads(int threads);

}  // namespace ft::cli
