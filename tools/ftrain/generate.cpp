// ftrain generate: text from a causal LM (GPT-2, Llama) directory, streamed to the terminal as it is
// generated. Greedy by default (transformers' do_sample=False), or --do_sample with --temperature,
// --top_k, --top_p and --seed; stops at max_new_tokens or an EOS token (generation_config.json's
// eos_token_id, else config.json's). Prompts: --prompt (repeatable) or --prompt_file (one per line);
// --output_file writes {"prompt", "completion", "tokens"} lines (JSONL), with --output_logits each
// step's logits too.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/tokenizer.h"
#include "models/common/causal_lm.h"
#include "models/common/generate.h"
#include "models/common/lora.h"
#include "tools/ftrain/commands.h"

namespace ft::cli {
namespace {

struct GenerateArgs {
  std::string model_name_or_path, adapter, prompt_file, output_file, device = "auto";
  std::vector<std::string> prompts;
  models::GenerationConfig gen;
  int threads = 0;
  bool quiet = false, output_logits = false;
};

std::vector<int64_t> token_ids(const io::Json& v) {
  if (v.is_number_integer()) return {v.get<int64_t>()};
  std::vector<int64_t> out;
  if (v.is_array())
    for (const io::Json& x : v)
      if (x.is_number_integer()) out.push_back(x.get<int64_t>());
  return out;
}

int run_generate(const GenerateArgs& a, Device device) {
  const std::string& dir = a.model_name_or_path;
  FT_CHECK(std::filesystem::is_regular_file(dir + "/config.json"), dir, ": not a model directory (no config.json)");
  const io::Json config = io::read_json(dir + "/config.json");
  std::shared_ptr<models::CausalLM> model = models::make_causal_lm(config, dir + "/config.json");
  const std::string warn = models::load_causal_lm(*model, io::SafetensorsReader(dir + "/model.safetensors"));
  if (!warn.empty()) std::fprintf(stderr, "%s", warn.c_str());
  if (!a.adapter.empty()) models::load_adapter(*model, a.adapter, "CAUSAL_LM");  // the adapter's update on the base
  model->to(device);
  model->eval();
  io::Tokenizer tok = io::Tokenizer::from_path(dir);
  tok.set_truncation(std::nullopt);
  tok.set_padding(std::nullopt);
  models::GenerationConfig gc = a.gen;
  if (std::filesystem::is_regular_file(dir + "/generation_config.json"))
    gc.eos_token_ids = token_ids(io::read_json(dir + "/generation_config.json").value("eos_token_id", io::Json()));
  if (gc.eos_token_ids.empty() && model->eos_token_id() >= 0) gc.eos_token_ids = {model->eos_token_id()};
  std::vector<std::string> prompts = a.prompts;
  if (!a.prompt_file.empty()) {
    std::ifstream f(a.prompt_file);
    FT_CHECK(f.good(), a.prompt_file, ": cannot open");
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) prompts.push_back(line);
  }
  FT_CHECK(!prompts.empty(), "give --prompt TEXT or --prompt_file FILE");
  io::Json results = io::Json::array();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int64_t> ids = tok.encode(prompts[i]).ids;
    FT_CHECK(static_cast<int64_t>(ids.size()) < model->max_positions(), "prompt ", i + 1, " has ", ids.size(),
             " tokens; the model's context is ", model->max_positions(), " positions (", dir, ")");
    if (!a.quiet) std::printf("%s%s", i ? "\n\n" : "", prompts[i].c_str());
    std::vector<int64_t> out;
    std::string shown;
    // Streaming: after each token the decoded text's new part is printed, unless it ends inside a
    // multi-byte character (decoded as U+FFFD until its last byte arrives).
    std::vector<std::vector<float>> logits;
    const std::vector<int64_t> tokens = models::generate(*model, ids, gc, device, [&](int64_t id) {
      out.push_back(id);
      const std::string text = tok.decode(out, true);
      if (a.quiet || text.size() < shown.size() || text.compare(0, shown.size(), shown) != 0 ||
          (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0))
        return;
      std::printf("%s", text.c_str() + shown.size());
      std::fflush(stdout);
      shown = text;
    }, a.output_logits ? &logits : nullptr);
    const std::string completion = tok.decode(tokens, true);
    if (!a.quiet && completion.size() > shown.size() && completion.compare(0, shown.size(), shown) == 0)
      std::printf("%s", completion.c_str() + shown.size());
    results.push_back({{"prompt", prompts[i]}, {"completion", completion}, {"tokens", tokens}});
    if (a.output_logits) results.back()["logits"] = logits;
  }
  if (!a.quiet) std::printf("\n");
  if (!a.output_file.empty())
    io::write_file_atomically(a.output_file, [&](std::ostream& f) {
      for (const io::Json& r : results) f << r.dump() << "\n";
    });
  return 0;
}

}  // namespace

void add_generate(CLI::App& app, DeviceResolver resolve) {
  auto* cmd = app.add_subcommand("generate", "Generate text with a causal language model (GPT-2, Llama)");
  auto a = std::make_shared<GenerateArgs>();
  cmd->option_defaults()->always_capture_default();
  cmd->add_option("--model_name_or_path", a->model_name_or_path, "model directory (config.json, model.safetensors, tokenizer)")
      ->required();
  cmd->add_option("--adapter", a->adapter, "a PEFT LoRA adapter directory applied on the model (its base)");
  cmd->add_option("--prompt", a->prompts, "a prompt (repeatable)");
  cmd->add_option("--prompt_file", a->prompt_file, "prompts, one per line");
  cmd->add_option("--output_file", a->output_file, "write prompt/completion/tokens as JSON lines");
  cmd->add_option("--max_new_tokens", a->gen.max_new_tokens, "tokens to generate at most");
  cmd->add_flag("--do_sample", a->gen.do_sample, "sample (default: greedy)");
  cmd->add_option("--temperature", a->gen.temperature, "with --do_sample");
  cmd->add_option("--top_k", a->gen.top_k, "with --do_sample: keep the k most likely tokens (0: all)");
  cmd->add_option("--top_p", a->gen.top_p, "with --do_sample: keep the smallest set with this probability");
  cmd->add_option("--seed", a->gen.seed, "with --do_sample");
  cmd->add_option("--device", a->device, "auto, cpu or cuda:N");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)");
  cmd->add_flag("--quiet", a->quiet, "print nothing (with --output_file)");
  cmd->add_flag("--output_logits", a->output_logits,
                "with --output_file: each step's raw logits too (transformers' output_logits; large)");
  cmd->callback([a, resolve] {
    set_cpu_threads(a->threads);
    run_generate(*a, resolve(a->device));
  });
}

}  // namespace ft::cli
