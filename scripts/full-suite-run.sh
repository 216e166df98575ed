#!/usr/bin/env bash
# Runs the whole openllm-v1 suite on a model with `evaluator run --tasks all` and records
# the process's peak resident memory (VmHWM, sampled every 5 s) next to the results.
# Resumable: run it again after any interruption; the evaluator picks up its journal, and
# the peak over all attempts is what `peak.log` holds (one line per sample).
#
#   scripts/full-suite-run.sh [MODEL] [OUT_DIR] [THREADS]
#
# MODEL defaults to the SmolLM2 test GGUF (scripts/fetch-test-model.sh), OUT_DIR to
# runs/full-suite, THREADS to 2. EVALUATOR overrides the binary (default: a release build
# of this checkout); TASKS runs only those tasks (comma-separated, default all), e.g. to
# measure one task's start, where its longest requests run (stop it with Ctrl-C; the
# journal keeps what was done for the whole-suite run, which shares it). HellaSwag uses the validation few-shot fallback (the train split is not
# shipped; the run is marked not comparable).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:-$HOME/.cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf}"
out="${2:-$root/runs/full-suite}"
threads="${3:-2}"
[[ -f "$model" ]] || "$root/scripts/fetch-test-model.sh" >/dev/null
exe="${EVALUATOR:-}"
if [[ -z "$exe" ]]; then
  cargo build --release -p evaluator --manifest-path "$root/Cargo.toml" >&2
  exe="$root/target/release/evaluator"
fi
mkdir -p "$out"
export RAYON_NUM_THREADS="$threads" SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
"$exe" run --model "$model" --tasks "${TASKS:-all}" --hellaswag-fewshot-fallback validation \
  --data "${DATA:-$root/data/benchmarks}" --output "$out/results" \
  2> >(tee -a "$out/stderr.log" >&2) &
pid=$!
start=$(date +%s)
rc="stopped"
# The summary is written however the script ends (finished, Ctrl-C, timeout, kill).
summary() {
  local peak
  peak=$(awk -F'vmhwm_kb=' '{ if ($2 > m) m = $2 } END { print m + 0 }' "$out/peak.log" 2>/dev/null)
  echo "exit $rc after $(( $(date +%s) - start )) s; peak VmHWM over all attempts: $peak kB" >>"$out/summary.log"
  echo "exit $rc after $(( $(date +%s) - start )) s; peak VmHWM over all attempts: $peak kB" >&2
}
trap summary EXIT
trap 'kill $pid 2>/dev/null || true; exit 130' INT TERM
while kill -0 $pid 2>/dev/null; do
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || true)
  [[ -n "$hwm" ]] && echo "$(date -u +%FT%TZ) pid=$pid vmhwm_kb=$hwm" >>"$out/peak.log"
  sleep 5
done
wait $pid && rc=0 || rc=$?
exit $rc
