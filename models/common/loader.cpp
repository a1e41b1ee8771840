#include "models/common/loader.h"

#include <set>

#include "core/error.h"
#include "core/ops.h"

namespace ft::models {

bool ends_with(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

namespace {

bool is_transposed(const std::string& name, const LoadRules& rules) {
  for (const std::string& s : rules.transposed)
    if (ends_with(name, s)) return true;
  return false;
}

}  // namespace

LoadReport load_weights(nn::Module& module, const io::SafetensorsReader& file, const LoadRules& rules) {
  // The file's names in the module's scheme -> the file's own names.
  std::map<std::string, std::string> by_name;
  std::vector<std::string> ignored;
  for (const io::TensorInfo& t : file.tensors()) {
    bool skip = false;
    for (const std::string& s : rules.ignored) skip = skip || t.name.find(s) != std::string::npos;
    std::string n = rules.rename ? rules.rename(t.name) : t.name;
    if (skip || n.empty()) {
      if (!skip) ignored.push_back(t.name);
      continue;
    }
    for (auto& [from, to] : rules.suffix_aliases)
      if (ends_with(n, from)) {
        n = n.substr(0, n.size() - from.size()) + to;
        break;
      }
    by_name[n] = t.name;
  }
  LoadReport report;
  std::set<std::string> used;
  NoGradGuard ng;
  for (auto& [name, p] : rules.include_buffers ? module.state_dict() : module.named_parameters()) {
    // The module's name, else with one of the prefixes removed or added.
    std::vector<std::string> candidates{name};
    for (const std::string& pre : rules.prefixes) {
      if (name.rfind(pre, 0) == 0) candidates.push_back(name.substr(pre.size()));
      else candidates.push_back(pre + name);
    }
    auto it = by_name.end();
    for (const std::string& c : candidates)
      if ((it = by_name.find(c)) != by_name.end()) break;
    if (it == by_name.end()) {
      report.missing.push_back(name);
      continue;
    }
    used.insert(it->first);
    const io::TensorInfo& info = file.info(it->second);
    const bool transposed = is_transposed(name, rules) && info.shape.size() == 2;
    const Shape want = transposed ? Shape{p.shape()[1], p.shape()[0]} : p.shape();
    if (info.shape != want) {
      bool reinit = false;
      for (const std::string& pre : rules.reinit_on_mismatch) reinit = reinit || name.rfind(pre, 0) == 0;
      FT_CHECK(reinit, file.path(), ": tensor '", it->second, "' has shape ", shape_str(info.shape), " but the model's '",
               name, "' is ", shape_str(want), transposed ? " (stored transposed, as Conv1D weights are)" : "");
      report.mismatched.push_back(name);
      report.mismatched_shapes.emplace_back(info.shape, want);
      continue;
    }
    Tensor t = file.load(it->second);
    if (transposed) t = t.transpose(0, 1).contiguous();
    Tensor dst = p;
    dst.copy_(t.to(p.device()));
  }
  for (auto& [n, original] : by_name)
    if (!used.count(n)) report.unexpected.push_back(original);
  for (const std::string& n : ignored) report.unexpected.push_back(n);
  // Not one tensor fits: another kind of model's file, not a checkpoint to start from.
  FT_CHECK(!used.empty() || file.tensors().empty(), file.path(), ": none of its ", file.tensors().size(),
           " tensors is a ", rules.family, " weight (it holds ", name_list(report.unexpected), "): it is not a ",
           rules.family, " checkpoint");
  return report;
}

std::map<std::string, Tensor> state_for_saving(const nn::Module& module, const LoadRules& rules) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : module.state_dict()) {
    Tensor cpu = t.detach().to(kCPU);
    if (is_transposed(name, rules) && cpu.dim() == 2) cpu = cpu.transpose(0, 1);
    out[name] = cpu.contiguous();
  }
  return out;
}

}  // namespace ft::models
