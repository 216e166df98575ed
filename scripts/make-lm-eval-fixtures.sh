#!/usr/bin/env bash
# Makes the lm-eval fixtures of `tests/fixtures/imports/lm-eval-run/`: runs
# lm-evaluation-harness 0.4.8 itself (PyPI `lm-eval`, `torch`, `transformers`)
# on the test model (SmolLM2-135M-Instruct Q4_1 GGUF, dequantized to f32 by
# transformers) for the six v1 tasks at the leaderboard's shots, `--limit N`
# documents each (default 2), with `--log_samples`, offline on this repository's
# datasets (`scripts/lm-eval-local.py`). A developer tool: CI never runs it, the
# tests read the files it wrote and that were committed.
#
#   scripts/make-lm-eval-fixtures.sh [LIMIT]
#
# Venv: $LEADERBOARD_CACHE/venv-lm-eval (default ~/.cache/leaderboard), made on
# first use (about 4 GB: torch from PyPI brings its CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-2}"
cache="${LEADERBOARD_CACHE:-$HOME/.cache/leaderboard}"
venv="$cache/venv-lm-eval"
if [ ! -x "$venv/bin/lm_eval" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "torch==2.5.1" "transformers==4.51.3" "lm-eval==0.4.8" "gguf==0.16.3" sentencepiece
fi
gguf="$(scripts/fetch-test-model.sh)"
out="tests/fixtures/imports/lm-eval-run"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One lm-eval run per task, each at the leaderboard's shots (as the
# Meta-Llama-3-8B folder of ../shared was made): lm-eval's --num_fewshot is one
# number per run.
run() { # name tasks shots
  echo "lm-eval: $2 ($3-shot, --limit $limit)" >&2
  "$venv/bin/python" scripts/lm-eval-local.py --model hf \
    --model_args "pretrained=$(dirname "$gguf"),gguf_file=$(basename "$gguf"),dtype=float32" \
    --tasks "$2" --num_fewshot "$3" --limit "$limit" --batch_size 1 --device cpu \
    --seed 1234 --log_samples --output_path "$work/$1" >&2
}
run arc arc_challenge 25
run hellaswag hellaswag 10
run mmlu mmlu 5
run truthfulqa truthfulqa_mc1,truthfulqa_mc2 0
run winogrande winogrande 5
run gsm8k gsm8k 5
rm -rf "$out"
mkdir -p "$out"
for name in arc hellaswag mmlu truthfulqa winogrande gsm8k; do
  # lm-eval writes <output>/<model path>/results_<time>.json and samples_<task>_<time>.jsonl.
  results=$(find "$work/$name" -name 'results_*.json')
  cp "$results" "$out/$name.json"
  mkdir -p "$out/samples"
  find "$work/$name" -name 'samples_*.jsonl' -exec cp {} "$out/samples/" \;
done
# The time stamps of the samples names differ from run to run; keep the task only.
for f in "$out"/samples/samples_*.jsonl; do
  b=$(basename "$f" .jsonl)
  mv "$f" "$out/samples/${b%_*}.jsonl"
done
ls -la "$out" "$out/samples" | head -20 >&2
du -sh "$out" >&2
