"""Runs lm-evaluation-harness (`lm_eval ...` arguments) offline on this
repository's copies of the six v1 datasets (`data/benchmarks/`).

A developer tool, used by `scripts/make-lm-eval-fixtures.sh` (which makes the
venv it runs in); never imported by the project. lm-eval loads each task's
dataset with `datasets.load_dataset(path, name)` from the Hugging Face Hub;
these machines cannot reach the Hub, so `load_dataset` is wrapped to read the
same records from the local JSON Lines files (Hugging Face's shapes, see
`data/benchmarks/SOURCES.md`). HellaSwag's train split is not in the repository:
its few-shot examples come from the validation split, as `evaluator run
--hellaswag-fewshot-fallback validation` does.
"""

import os
import sys

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "benchmarks")


def local(folder, splits):
    files = {}
    for split, name in splits.items():
        files[split] = os.path.join(DATA, folder, name)
    return files


# (dataset path, config name) -> (folder, {split: file}, subject filter key)
SOURCES = {
    ("allenai/ai2_arc", "ARC-Challenge"): (
        "arc_challenge",
        {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"},
    ),
    ("ai2_arc", "ARC-Challenge"): (
        "arc_challenge",
        {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"},
    ),
    ("Rowan/hellaswag", None): (
        "hellaswag",
        {"train": "validation.jsonl.gz", "validation": "validation.jsonl.gz"},
    ),
    ("hellaswag", None): (
        "hellaswag",
        {"train": "validation.jsonl.gz", "validation": "validation.jsonl.gz"},
    ),
    ("truthful_qa", "multiple_choice"): ("truthfulqa_mc", {"validation": "validation.jsonl"}),
    ("truthfulqa/truthful_qa", "multiple_choice"): (
        "truthfulqa_mc",
        {"validation": "validation.jsonl"},
    ),
    ("winogrande", "winogrande_xl"): (
        "winogrande",
        {"train": "train.jsonl.gz", "validation": "validation.jsonl"},
    ),
    ("allenai/winogrande", "winogrande_xl"): (
        "winogrande",
        {"train": "train.jsonl.gz", "validation": "validation.jsonl"},
    ),
    ("gsm8k", "main"): ("gsm8k", {"train": "train.jsonl.gz", "test": "test.jsonl"}),
    ("openai/gsm8k", "main"): ("gsm8k", {"train": "train.jsonl.gz", "test": "test.jsonl"}),
}
MMLU = {"test": "test.jsonl.gz", "validation": "validation.jsonl", "dev": "dev.jsonl"}

_load = datasets.load_dataset
_mmlu = {}


def load_dataset(path=None, name=None, *args, **kwargs):
    if path in ("hails/mmlu_no_train", "cais/mmlu"):
        if not _mmlu:
            _mmlu["all"] = _load("json", data_files=local("mmlu", MMLU))
        subject = name
        return datasets.DatasetDict(
            {s: d.filter(lambda r: r["subject"] == subject) for s, d in _mmlu["all"].items()}
        )
    key = (path, name)
    if key not in SOURCES:
        raise SystemExit(f"lm-eval-local: no local copy of dataset {path!r} (config {name!r})")
    folder, splits = SOURCES[key]
    # Each split on its own: their columns differ (Winogrande's train has no qID).
    return datasets.DatasetDict(
        {s: _load("json", data_files=f, split="train") for s, f in local(folder, splits).items()}
    )


datasets.load_dataset = load_dataset

from lm_eval.__main__ import cli_evaluate  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "lm_eval"
    cli_evaluate()
