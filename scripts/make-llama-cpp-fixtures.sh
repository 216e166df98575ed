#!/usr/bin/env bash
# Regenerates evaluator/tests/fixtures/llama-cpp/: llama.cpp reference outputs for two
# real GGUF models, Gemma 3 270M Q4_K_M (`gemma3`) and Qwen2.5-Coder-0.5B-Instruct
# Q4_K_M (`qwen2.5-coder`), fetched by scripts/fetch-test-models.sh.
#
#   scripts/make-llama-cpp-fixtures.sh                    every file below
#   scripts/make-llama-cpp-fixtures.sh --exact-gelu-only  only gemma3_f32_exact_gelu_…
#
# Steps: fetch both models; build llama.cpp (scripts/llama-cpp-build.sh: the
# llama-cpp-python sdist from PyPI; targets llama-tokenize, llama-quantize) and the
# reference tool scripts/llama-logprobs.cpp against its libllama; convert each GGUF to
# all-F32 weights with `llama-quantize --allow-requantize IN OUT F32` (cached beside the
# model as <name>.F32.gguf); then write, per model:
#   <model>_logprobs_llamacpp.json       weights as stored, KV cache f16, flash attention auto
#   <model>_f32_logprobs_llamacpp.json   F32 weights, KV cache f32, flash attention off
#   <model>_tokenizer_cases.out          ids of ../smollm_tokenizer_cases.inp
#   <model>_extra_tokenizer_cases.out    ids of extra_tokenizer_cases.inp (hand-written, committed)
# and, for gemma3 only, with a second llama.cpp build whose CPU backend computes GELU in
# f32 (llama_cpp_use_exact_gelu in scripts/llama-cpp-build.sh: GGML_GELU_FP16 undefined;
# the stock build rounds GELU/GEGLU inputs to fp16 and reads an fp16 table):
#   gemma3_f32_exact_gelu_logprobs_llamacpp.json   as gemma3_f32_…, F32 weights, KV f32, FA off
# The texts are the 6 of ../smollm2_q4_1_logprobs_llamacpp.json. CPU, $THREADS threads
# (default 2), n_ctx 4096, fp32 logits. Tokenizer cases use add_special=false,
# parse_special=false, and are cross-checked against llama.cpp's own llama-tokenize.
set -euo pipefail
exact_gelu_only=false
case "${1:-}" in
  "") ;;
  --exact-gelu-only) exact_gelu_only=true ;;
  *) echo "usage: $0 [--exact-gelu-only]" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
threads="${THREADS:-2}"
fixtures="$root/evaluator/tests/fixtures"
dest="$fixtures/llama-cpp"
source "$root/scripts/llama-cpp-build.sh"

llama_cpp_build llama-tokenize llama-quantize
llama_cpp_compile "$root/scripts/llama-logprobs.cpp" leaderboard-llama-logprobs
tool="$LLAMA_CPP_BIN/leaderboard-llama-logprobs"
quantize="$LLAMA_CPP_BIN/llama-quantize"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
python3 - "$fixtures/smollm2_q4_1_logprobs_llamacpp.json" > "$work/texts.json" <<'PY'
import json, sys
print(json.dumps([it["text"] for it in json.load(open(sys.argv[1], encoding="utf-8"))["items"]]))
PY

# Writes the fixture from the tool's raw output (adds the provenance keys, decodes pieces).
assemble() {  # raw.json out.json model_path weights_text [build_note]
  python3 - "$1" "$2" "$3" "$4" "${5:-}" "$LLAMA_CPP_COMMIT" "$LLAMA_CPP_VERSION" <<'PY'
import hashlib, json, os, sys
raw_path, out_path, model, weights, build_note, commit, version = sys.argv[1:]
raw = json.load(open(raw_path, encoding="utf-8"))
h = hashlib.sha256()
with open(model, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
fa = raw["flash_attn"].split(" | ")
fa_text = "flash attention " + ("off" if fa[0] == "off" else
                               f"{fa[0]} ({'; '.join(x.strip() for x in fa[1:])})")
engine = (f"llama.cpp libllama (vendored by the llama-cpp-python {version} sdist), CPU backend "
          f"(-DGGML_NATIVE=ON{build_note}; {raw['system_info'].strip()}), {raw['threads']} threads, "
          f"n_ctx {raw['n_ctx']}, n_batch {raw['n_batch']}, n_ubatch {raw['n_ubatch']}, fp32 logits, "
          f"KV cache {raw['kv_cache'].upper()}, {fa_text}; one llama_decode per text, KV cache cleared "
          f"between texts; tool scripts/llama-logprobs.cpp")
items = raw["items"]
if raw["add_bos"]:
    bos = items[0]["token_ids"][0]
    bos_piece = bytes.fromhex(items[0]["pieces_hex"][0]).decode("utf-8", "replace")
    assert all(it["token_ids"][0] == bos for it in items)
    tok = (f"llama_tokenize(add_special=true, parse_special=false); the GGUF has "
           f"tokenizer.ggml.add_bos_token = true, so BOS ({bos_piece}, id {bos}) is prepended to every "
           f"text: token_ids[0] is BOS and logprobs[1] is the first text token given BOS; text like "
           f"'<|im_start|>' is tokenized as plain text")
else:
    tok = ("llama_tokenize(add_special=true, parse_special=false); add_bos is false for this GGUF so "
           "no BOS is added; text like '<|im_start|>' is tokenized as plain text")
doc = {
    "model_file": os.path.basename(model),
    "model_sha256": h.hexdigest(),
    "engine": engine,
    "llama_cpp_commit": f"{commit} (ggml-org/llama.cpp, as vendored by llama-cpp-python {version}; short hash from its CHANGELOG)",
    "method": ("logprobs[i] = log_softmax(logits at position i-1)[token_ids[i]] (log-sum-exp in float64 "
               "over the fp32 logits); logprobs[0] is null (no prediction for the first token); "
               "greedy[i] = argmax == token_ids[i]; sum_logprob = sum of logprobs[1:] in float64"),
    "tokenization": tok,
    "kv_cache": raw["kv_cache"],
    "weights": weights,
    "items": [{
        "text": it["text"],
        "token_ids": it["token_ids"],
        "pieces": [bytes.fromhex(p).decode("utf-8", "replace") for p in it["pieces_hex"]],
        "logprobs": it["logprobs"],
        "greedy": it["greedy"],
        "sum_logprob": it["sum_logprob"],
    } for it in items],
}
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"wrote {out_path}", file=sys.stderr)
PY
}

# Tokenizes every case of an .inp with the tool and checks each against llama-tokenize.
tokenize_cases() {  # model inp out
  local model=$1 inp=$2 out=$3
  "$tool" tokenize "$model" "$inp" --add-special 0 --parse-special 0 > "$work/cases.out"
  python3 - "$LLAMA_CPP_BIN/llama-tokenize" "$model" "$inp" "$work/cases.out" "$work/case.txt" <<'PY'
import json, subprocess, sys
tokenize, model, inp, out, tmp = sys.argv[1:]
raw = open(inp, "rb").read()
sep = b"\n__ggml_vocab_test__\n"
cases = raw.split(sep)
assert cases.pop() == b"", f"{inp} must end with a separator"
lines = open(out, encoding="utf-8").read().split("\n")
assert lines.pop() == "" and len(lines) == len(cases), (len(lines), len(cases))
for i, (case, line) in enumerate(zip(cases, lines)):
    open(tmp, "wb").write(case)
    r = subprocess.run([tokenize, "-m", model, "-f", tmp, "--ids", "--no-bos", "--no-parse-special",
                        "--no-escape", "--log-disable"], capture_output=True, check=True)
    want = json.loads(r.stdout.decode().strip().splitlines()[-1])
    got = [int(t) for t in line.split()]
    if got != want:
        sys.exit(f"{inp} case {i} {case!r}: libllama tokenize {got} != llama-tokenize {want}")
PY
  mv "$work/cases.out" "$out"
  echo "wrote $out (${model##*/}; cross-checked with llama-tokenize)" >&2
}

# The all-F32 copy of a GGUF, made once beside it with the default build's llama-quantize.
f32_copy() {  # gguf -> prints the F32 path
  local gguf=$1 f32="${1%.gguf}.F32.gguf"
  if [ ! -f "$f32" ]; then
    "$quantize" --allow-requantize "$gguf" "$f32.tmp" F32 > "$work/quantize.log" 2>&1 ||
      { tail -20 "$work/quantize.log" >&2; echo "llama-quantize F32 failed for $gguf" >&2; exit 1; }
    python3 "$root/scripts/gguf-info.py" "$f32.tmp" | grep -Eq '^tensor types overall: F32: [0-9]+$' ||
      { echo "llama-quantize output $f32.tmp is not all F32" >&2; exit 1; }
    mv "$f32.tmp" "$f32"
  fi
  echo "$f32"
}
f32_weights_text() {  # gguf f32
  echo "dequantized to F32 by llama-quantize (llama-quantize --allow-requantize $(basename "$1") $(basename "$2") F32; source sha256 $(sha256sum "$1" | cut -d' ' -f1)); every tensor F32"
}

$exact_gelu_only || for name in gemma3 qwen2.5-coder; do
  gguf=$("$root/scripts/fetch-test-models.sh" "$name")
  f32=$(f32_copy "$gguf")

  "$tool" logprobs "$gguf" "$work/texts.json" --kv f16 --fa auto --threads "$threads" --ctx 4096 > "$work/q.json"
  assemble "$work/q.json" "$dest/${name}_logprobs_llamacpp.json" "$gguf" "as stored"
  "$tool" logprobs "$f32" "$work/texts.json" --kv f32 --fa off --threads "$threads" --ctx 4096 > "$work/f.json"
  assemble "$work/f.json" "$dest/${name}_f32_logprobs_llamacpp.json" "$f32" "$(f32_weights_text "$gguf" "$f32")"

  tokenize_cases "$gguf" "$fixtures/smollm_tokenizer_cases.inp" "$dest/${name}_tokenizer_cases.out"
  tokenize_cases "$gguf" "$dest/extra_tokenizer_cases.inp" "$dest/${name}_extra_tokenizer_cases.out"
done

# Gemma 3 (GEGLU, GELU tanh approximation) again, with the exact-GELU build. Qwen2.5 has
# no GELU, so its F32 file would not change.
gguf=$("$root/scripts/fetch-test-models.sh" gemma3)
f32=$(f32_copy "$gguf")
llama_cpp_use_exact_gelu
llama_cpp_compile "$root/scripts/llama-logprobs.cpp" leaderboard-llama-logprobs
"$LLAMA_CPP_BIN/leaderboard-llama-logprobs" logprobs "$f32" "$work/texts.json" --kv f32 --fa off \
  --threads "$threads" --ctx 4096 > "$work/g.json"
assemble "$work/g.json" "$dest/gemma3_f32_exact_gelu_logprobs_llamacpp.json" "$f32" "$(f32_weights_text "$gguf" "$f32")" \
  ", patched build: GGML_GELU_FP16 undefined in ggml/src/ggml-cpu/vec.h (llama_cpp_use_exact_gelu in scripts/llama-cpp-build.sh), so the CPU GELU and GEGLU compute ggml_gelu_f32(x) = 0.5f*x*(1.0f + tanhf(SQRT_2_OVER_PI*x*(1.0f + 0.044715f*x*x))) in f32 for every x instead of stock llama.cpp's fp16 table indexed by x rounded to fp16"
