#!/usr/bin/env bash
# Makes the architecture fixtures of `evaluator/tests/fixtures/arch/` (tiny seeded
# random-weight models saved by transformers, and transformers' float32 per-token
# log-probabilities; see scripts/make-arch-fixtures.py). A developer tool: CI never
# runs it, the evaluator's test `model_architectures` reads the committed files.
# With `--bench`: the same architectures at hidden 512, 4 layers, random weights, into
# $cache/arch-bench, for `cargo run --release -p evaluator --example arch_bench`.
#
# Venv: the one scripts/make-lm-eval-fixtures.sh makes ($LEADERBOARD_CACHE/venv-lm-eval,
# default ~/.cache/leaderboard: torch 2.5.1, transformers 4.51.3 from PyPI), made here on
# first use.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${LEADERBOARD_CACHE:-$HOME/.cache/leaderboard}"
venv="$cache/venv-lm-eval"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, transformers" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "torch==2.5.1" "transformers==4.51.3" "lm-eval==0.4.8" "gguf==0.16.3" sentencepiece
fi
if [ "${1:-}" = "--bench" ]; then
  # The speed benchmark's models (examples/arch_bench.rs), into the cache, not the repo.
  out="$cache/arch-bench"
  rm -rf "$out"
  "$venv/bin/python" scripts/make-arch-fixtures.py --bench "$out"
  du -sh "$out" >&2
  exit 0
fi
out=evaluator/tests/fixtures/arch
rm -rf "$out"
"$venv/bin/python" scripts/make-arch-fixtures.py "$out"
du -sh "$out" >&2
