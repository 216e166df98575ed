#!/usr/bin/env bash
# Benchmark: one task on the test model as 1 process, then as 2 and 3 shards plus a merge
# job, on the emulated nodes of the Slurm test cluster (scripts/slurm-test-cluster.sh).
# Prints, against the 1-process run measured here: wall time from submission to the last
# file, the processes' own time summed (what splitting costs: a model load per shard,
# shared prefixes forwarded by more than one shard), tokens to forward summed over the
# processes, and the merge job's time; and checks that each merged pair equals the
# 1-process files byte for byte.
#
#   scripts/bench-shards.sh [TASK] [LIMIT]     # default: truthfulqa_mc 200
#
# Every process runs one thread (RAYON_NUM_THREADS=1) on a node of one CPU; on a 2-core
# machine 2 or 3 shards can be at most 2x faster, so the point is the overhead. EVALUATOR
# overrides the binary (default: a release build of this checkout). Needs root (the
# cluster script installs Debian's Slurm if missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
task="${1:-truthfulqa_mc}"
limit="${2:-200}"
model="$HOME/.cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf"
[[ -f "$model" ]] || "$root/scripts/fetch-test-model.sh" >/dev/null
exe="${EVALUATOR:-}"
if [[ -z "$exe" ]]; then
  cargo build --release -p evaluator --manifest-path "$root/Cargo.toml" >&2
  exe="$root/target/release/evaluator"
fi
work="$(mktemp -d /tmp/bench-shards.XXXXXX)"
export SLURM_TEST_DIR="$work/slurm" NODES=3 CPUS=1
export SLURM_CONF="$SLURM_TEST_DIR/slurm.conf"
cleanup() { "$root/scripts/slurm-test-cluster.sh" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
"$root/scripts/slurm-test-cluster.sh" start >/dev/null
export RAYON_NUM_THREADS=1 LEADERBOARD_PROGRESS_SECS=600
cd "$root"
run=("$exe" run --model "$model" --tasks "$task" --limit "$limit" --batch-tokens 512
  --evaluated-at 2024-06-01T00:00:00Z --data "$root/data/benchmarks"
  --hellaswag-fewshot-fallback validation)

# job SCRIPT ARGS…: a batch script that runs ARGS (quoted), with its own timing in SCRIPT.time.
job() {
  local f="$1"; shift
  { echo '#!/bin/bash'
    echo "s=\$(date +%s.%N)"
    printf '%q ' "$@"; echo
    echo "rc=\$?; echo \"\$(date +%s.%N) \$s\" >> $(printf '%q' "$f.time"); exit \$rc"
  } > "$f"
}

div() { awk "BEGIN {print $1 / $2}"; }

wait_idle() { while [[ -n "$(squeue -h)" ]]; do sleep 0.2; done; }

# case N: prints "wall process_seconds tokens merge_seconds"
case_n() {
  local n="$1"
  local out="$work/out-$n"
  export LEADERBOARD_CACHE="$work/cache-$n"
  local t0 t1
  t0=$(date +%s.%N)
  if [[ "$n" == 1 ]]; then
    job "$work/one.sh" "${run[@]}" --output "$out"
    sbatch --parsable -o "$work/log-1.out" "$work/one.sh" >/dev/null
  else
    job "$work/shard-$n.sh" "${run[@]}" --output "$out" --shard "SHARD/$n"
    sed -i "s|SHARD/$n|\${SLURM_ARRAY_TASK_ID}/$n|" "$work/shard-$n.sh"
    job "$work/merge-$n.sh" "$exe" merge --output "$out"
    local a
    a=$(sbatch --parsable --array=1-"$n" -o "$work/log-$n-%a.out" "$work/shard-$n.sh")
    sbatch --parsable --dependency=afterok:"$a" -o "$work/log-$n-merge.out" "$work/merge-$n.sh" >/dev/null
  fi
  wait_idle
  t1=$(date +%s.%N)
  local proc tokens merge=0
  if [[ "$n" == 1 ]]; then
    proc=$(awk '{s += $1 - $2} END {printf "%.1f", s}' "$work/one.sh.time")
  else
    proc=$(awk '{s += $1 - $2} END {printf "%.1f", s}' "$work/shard-$n.sh.time")
    merge=$(awk '{printf "%.2f", $1 - $2}' "$work/merge-$n.sh.time")
  fi
  tokens=$(cat "$work"/log-"$n"*.out | sed -n 's/.* requests, \([0-9]*\) tokens to forward.*/\1/p' | awk '{s += $1} END {print s + 0}')
  echo "$(awk "BEGIN {print $t1 - $t0}") $proc $tokens $merge"
}

echo "task $task, --limit $limit, test model; 3 emulated nodes of 1 CPU on a $(nproc)-core machine, 1 thread per process"
read -r w1 p1 k1 _ < <(case_n 1)
printf '%-10s %8s %6s %10s %6s %12s %6s %8s\n' case "wall s" ratio "process s" ratio "tokens" ratio "merge s"
printf '%-10s %8.1f %6.2f %10.1f %6.2f %12d %6.3f %8s\n' "1 process" "$w1" 1 "$p1" 1 "$k1" 1 -
for n in 2 3; do
  read -r w p k m < <(case_n "$n")
  printf '%-10s %8.1f %6.2f %10.1f %6.2f %12d %6.3f %8.2f\n' "$n shards" "$w" \
    "$(div "$w" "$w1")" "$p" "$(div "$p" "$p1")" "$k" "$(div "$k" "$k1")" "$m"
  a=$(cd "$work/out-1" && find . -type f | sort | xargs sha256sum)
  b=$(cd "$work/out-$n" && find . -type f | sort | xargs sha256sum)
  if [[ "$a" == "$b" ]]; then echo "  merged files identical to the 1-process files"; else echo "  MERGED FILES DIFFER"; exit 1; fi
done
