// Loading and saving a checkpoint by name, for every family, through rules the family declares:
// optional prefixes on either side ("bert.", "model.", "transformer."), suffix aliases (legacy
// gamma/beta), a renaming of other naming schemes (timm's ResNet), names nothing loads (position_ids,
// GPT-2's causal-mask buffers), tensors stored transposed (GPT-2's Conv1D weights [in, out]), and
// which mis-shaped tensors are re-initialised instead of refused (a classification head with another
// label count). Names the module has but the file lacks are missing (left as initialised), names the
// file has but the module lacks unexpected; any other shape mismatch is an ft::Error naming the tensor
// and both shapes; tensors are converted to the parameter's dtype.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "io/safetensors.h"

namespace ft::models {

struct LoadRules {
  std::string family;                                               // "BERT": named when nothing fits
  std::vector<std::string> prefixes;                                // optional on the module's or the file's side
  std::vector<std::pair<std::string, std::string>> suffix_aliases;  // the file's suffix -> the module's
  std::function<std::string(const std::string&)> rename;            // another scheme -> ours ("" drops it), or empty
  std::vector<std::string> ignored;                                 // substrings of file names nothing loads
  std::vector<std::string> transposed;                              // module-name suffixes stored as [in, out]
  std::vector<std::string> reinit_on_mismatch;                      // module-name prefixes (heads)
  bool include_buffers = false;                                     // load buffers too (BatchNorm statistics)
};

struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<std::pair<Shape, Shape>> mismatched_shapes;  // (the file's, the module's) per mismatched name
};

LoadReport load_weights(nn::Module& module, const io::SafetensorsReader& file, const LoadRules& rules);

// The state dict as saved under these rules: transposed tensors back in the file's layout.
std::map<std::string, Tensor> state_for_saving(const nn::Module& module, const LoadRules& rules);

// Whether `name` ends with `suffix`.
bool ends_with(const std::string& name, const std::string& suffix);

}  // namespace ft::models
