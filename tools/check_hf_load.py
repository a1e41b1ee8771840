#!/usr/bin/env python3
"""Loads a directory saved by ftrain with transformers' BertForSequenceClassification and compares its
logits with the ones ftrain computed (DIR/ftrain_check.safetensors: input_ids, token_type_ids,
attention_mask, logits). Exit status 0 when they agree within 1e-4 relative.
  ~/.venvs/ftrain-gen/bin/python tools/check_hf_load.py DIR
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import BertForSequenceClassification


def main():
    d = sys.argv[1]
    model = BertForSequenceClassification.from_pretrained(d, attn_implementation="eager").eval()
    check = load_file(f"{d}/ftrain_check.safetensors")
    with torch.no_grad():
        logits = model(input_ids=check["input_ids"], token_type_ids=check["token_type_ids"],
                       attention_mask=check["attention_mask"]).logits
    ours = check["logits"]
    rel = ((logits - ours).abs().max() / ours.abs().max()).item()
    print(f"transformers loaded {d}: {model.config.num_labels} labels {model.config.id2label}, "
          f"problem_type {model.config.problem_type}")
    print(f"logits shape {tuple(logits.shape)}; max |transformers - ftrain| / max |ftrain| = {rel:.3e}")
    sys.exit(0 if rel <= 1e-4 else 1)


if __name__ == "__main__":
    main()
