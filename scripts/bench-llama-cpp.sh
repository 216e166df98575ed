#!/usr/bin/env bash
# HellaSwag side by side: llama.cpp's `llama-perplexity --hellaswag` against
# `evaluator run --tasks hellaswag`, on the same GGUF, the same documents and the
# same number of threads. Prints wall time, peak memory and accuracy of each, and
# the ratio (evaluator / llama.cpp).
#
#   scripts/bench-llama-cpp.sh [DOCS] [THREADS] [ROUNDS]      (defaults: 200 2 3)
#
# Each round times llama.cpp, then the evaluator, back to back, with the machine's load
# average printed before each; the last line gives every round's ratio and their median.
#
# Same documents: the first DOCS in the order of SUITE (default lm-eval-0.4: the
# dataset's own order, the documents issue 21's baseline timed; SUITE=openllm-v1: the
# leaderboard's shuffled order, whose first 200 have longer contexts), written in llama.cpp's
# HellaSwag file layout (6 lines per task: context, gold index, 4 endings) from the
# exact lm-eval preprocessed strings that `evaluator prompts` prints. llama.cpp scores
# zero-shot (its --hellaswag has no few-shot), so the evaluator runs `--num-fewshot 0`
# for the like-for-like row; FEWSHOT=1 adds the leaderboard's 10-shot run as well.
# llama.cpp normalises by token count, the harness by byte length, so the two
# accuracies may differ slightly; the timing compares the same work.
#
# llama.cpp comes from PyPI (the only source reachable here): the llama-cpp-python
# sdist vendors it whole. It is built once (CPU, native) into
# $LEADERBOARD_CACHE/llama.cpp-<version> (default ~/.cache/leaderboard) by
# scripts/llama-cpp-build.sh, which this script sources. Needs a C++ compiler, cmake
# (installed with pip when missing) and python3.
set -euo pipefail
docs="${1:-200}"
threads="${2:-2}"
rounds="${3:-3}"
suite="${SUITE:-lm-eval-0.4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/llama-cpp-build.sh"  # llama.cpp from the llama-cpp-python sdist

model="${LEADERBOARD_TEST_MODEL:-$("$root/scripts/fetch-test-model.sh")}"
perplexity="$LLAMA_CPP_BIN/llama-perplexity"

llama_cpp_build llama-perplexity

cargo build --release --quiet -p evaluator --bin evaluator --manifest-path "$root/Cargo.toml"
evaluator="$root/target/release/evaluator"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$evaluator" prompts --suite "$suite" --task hellaswag --limit "$docs" --num-fewshot 0 --json \
  --data "$root/data/benchmarks" > "$out/prompts.jsonl"
python3 - "$root/data/benchmarks/hellaswag/validation.jsonl.gz" "$out/prompts.jsonl" "$out/hellaswag.txt" <<'PY'
import gzip, json, sys
docs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt", encoding="utf-8")]
lines = []
for l in open(sys.argv[2], encoding="utf-8"):
    d = json.loads(l)
    reqs = d["requests"]
    ends = [r["continuation"] for r in reqs]
    assert all(e.startswith(" ") for e in ends), "continuations start with the target delimiter"
    row = [reqs[0]["context"], str(int(docs[d["doc_id"]]["label"]))] + [e[1:] for e in ends]
    assert not any("\n" in x for x in row)
    lines += row
open(sys.argv[3], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY

measure() {  # label, command...: prints "label wall_s peak_MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" > "$out/$label.out" 2> "$out/$label.err"
  read -r wall kb < "$out/time"
  echo "$label $wall $((kb / 1024))"
}

run_ours() {  # label, extra args; sets wall
  local label=$1; shift
  local mb acc
  read -r _ wall mb < <(RAYON_NUM_THREADS="$threads" LEADERBOARD_CACHE="$out/cache-$label" measure "$label" \
    "$evaluator" run --model "$model" --suite "$suite" --tasks hellaswag --limit "$docs" --output "$out/results-$label" \
    --data "$root/data/benchmarks" "$@")
  rm -rf "$out/results-$label" "$out/cache-$label"
  acc=$(grep -E "^hellaswag " "$out/$label.err" | tail -1 | sed 's/^hellaswag *//')
  printf '  %-34s wall %8.1f s  peak %6d MB  %s\n' "evaluator ($label)" "$wall" "$mb" "$acc"
  printf '  %-34s %.3f\n' "  ratio evaluator / llama.cpp" "$(echo "$wall / $ll_wall" | bc -l)"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "HellaSwag, the first $docs documents of suite $suite, $threads threads, $(basename "$model"), $rounds rounds"
ratios=()
for round in $(seq 1 "$rounds"); do
  echo "round $round (load average $(load))"
  read -r _ ll_wall ll_mb < <(measure llama.cpp "$perplexity" -m "$model" -f "$out/hellaswag.txt" \
    --hellaswag --hellaswag-tasks "$docs" -t "$threads")
  ll_acc=$(grep -E "^$docs\s" "$out/llama.cpp.out" | tail -1 | awk '{print $2}')
  printf '  %-34s wall %8.1f s  peak %6d MB  acc_norm %s\n' "llama.cpp llama-perplexity (0-shot)" "$ll_wall" "$ll_mb" "$ll_acc"
  echo "  (load average $(load))"
  run_ours 0-shot --num-fewshot 0
  ratios+=("$(echo "$wall / $ll_wall" | bc -l)")
  if [ "${FEWSHOT:-0}" = 1 ]; then
    run_ours 10-shot --hellaswag-fewshot-fallback validation
  fi
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
printf 'ratios evaluator / llama.cpp (0-shot):'
printf ' %.3f' "${ratios[@]}"
printf '; median %.3f\n' "$median"
