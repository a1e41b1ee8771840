#!/usr/bin/env python3
"""SmolLM2-135M-Instruct as transformers (5.23.0) loads it from the GGUF file itself (its own GGUF
dequantisation, the `gguf` package), for ftrain's check of the converted model:
  - 8 prompts, tokenized with the tokenizer.json `ftrain convert` wrote (so both models see the
    same ids), and transformers' f32 logits at every prompt's last position;
  - the max relative error over all positions is printed here (tools/check_gguf_convert.py and the
    README report it); the fixture keeps the last positions only (1.5 MB);
  - greedy generation (generate(do_sample=False)) of 32 new tokens from the first 4 prompts.
Writes tests/golden/fixtures/smollm2_reference.safetensors. Run in the generator venv after
tools/fetch_data.sh."""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

DATA = os.environ.get("FT_DATA_DIR", os.path.expanduser("~/.cache/ftrain/data"))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from check_gguf_convert import PROMPTS  # noqa: E402  (the same 8 prompts)


def main():
    folder = os.path.join(DATA, "smollm2")
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
                                                 dtype=torch.float32).eval()
    tok = Tokenizer.from_file(os.path.join(folder, "hf", "tokenizer.json"))
    fx = {}
    for i, p in enumerate(PROMPTS):
        ids = torch.tensor([tok.encode(p).ids])
        with torch.no_grad():
            logits = model(ids).logits[0]
        fx[f"prompt{i}.ids"] = ids[0]
        fx[f"prompt{i}.last_logits"] = logits[-1].contiguous()
        if i < 4:
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=32, do_sample=False,
                                 eos_token_id=2, pad_token_id=2)
            fx[f"prompt{i}.greedy"] = out[0, ids.shape[1]:].contiguous()
            print(repr(p), "->", repr(tok.decode(out[0, ids.shape[1]:].tolist())))
    save_file(fx, os.path.join(HERE, "fixtures", "smollm2_reference.safetensors"),
              metadata={"format": "pt", "prompts": json.dumps(PROMPTS)})


if __name__ == "__main__":
    main()
