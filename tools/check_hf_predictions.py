"""Loads a directory saved by `ftrain train` with transformers (BertForSequenceClassification and its
tokenizer), predicts the texts of a CSV file, and compares with what `ftrain predict` wrote for the
same file: every predicted label must agree and the probabilities must match to 1e-3.

Usage (a venv with torch and transformers: tools/setup_generator_env.sh):
  ftrain predict --model_name_or_path DIR --test_file DATA.csv --output_file PRED.csv
  HF_HUB_OFFLINE=1 python tools/check_hf_predictions.py DIR DATA.csv PRED.csv
"""
import csv
import sys

import torch
from transformers import AutoTokenizer, BertForSequenceClassification


def main() -> int:
    model_dir, data_csv, pred_csv = sys.argv[1:4]
    model = BertForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    with open(data_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(pred_csv, newline="", encoding="utf-8") as f:
        ours = list(csv.DictReader(f))
    assert len(rows) == len(ours), f"{len(rows)} data rows but {len(ours)} predictions"
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    agree, max_diff, correct = 0, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            batch = rows[start:start + 64]
            enc = tok([r["text"] for r in batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            prob = torch.softmax(model(**enc).logits, dim=-1)
            for i, r in enumerate(batch):
                o = ours[start + i]
                hf_label = names[int(prob[i].argmax())]
                agree += hf_label == o["label"]
                correct += "label" in r and hf_label == r["label"]
                for k, n in enumerate(names):
                    max_diff = max(max_diff, abs(float(prob[i, k]) - float(o["prob_" + n])))
    print(f"transformers loaded {model_dir}: labels {names}, problem_type {model.config.problem_type}")
    print(f"{len(rows)} texts: transformers and ftrain agree on {agree} predicted labels; "
          f"max |probability difference| {max_diff:.2e}; transformers' accuracy {correct / len(rows):.4f}")
    return 0 if agree == len(rows) and max_diff <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
