#!/usr/bin/env python3
"""transformers' BertModel on the real all-MiniLM-L6-v2 (fetched by tools/fetch_data.sh): last hidden
state and pooled output for 8 real sentences of different lengths, padded as a batch. Writes
tests/golden/fixtures/bert_minilm.safetensors (inputs and outputs only). Run in the generator venv
with transformers 5.23.0 installed."""
import os

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel

DATA = os.environ.get("FT_DATA_DIR", os.path.expanduser("~/.cache/ftrain/data"))
HERE = os.path.dirname(os.path.abspath(__file__))
SENTENCES = [
    "A gripping, beautifully acted film.",
    "The plot never quite comes together, and the second half drags.",
    "Oil prices rose sharply on Tuesday after the cartel announced production cuts.",
    "Great!",
    "I expected more from this director; the dialogue is flat and the pacing uneven, though the score is lovely.",
    "Shares of the company fell 5 pct in early trading.",
    "An unexpected delight.",
    "The central bank left interest rates unchanged, citing uncertainty in the outlook for inflation and growth.",
]


def main():
    model_dir = os.path.join(DATA, "minilm")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    batch = tok(SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    save_file({"input_ids": batch["input_ids"], "token_type_ids": batch["token_type_ids"],
               "attention_mask": batch["attention_mask"], "last_hidden_state": out.last_hidden_state.contiguous(),
               "pooler_output": out.pooler_output.contiguous()},
              os.path.join(HERE, "fixtures", "bert_minilm.safetensors"), metadata={"format": "pt"})
    print("batch", tuple(batch["input_ids"].shape))


if __name__ == "__main__":
    main()
