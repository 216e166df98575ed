# Sourced (not run) by the scripts that need llama.cpp: scripts/bench-llama-cpp.sh,
# scripts/make-llama-cpp-fixtures.sh.
#
# llama.cpp comes from PyPI (the only source reachable here): the llama-cpp-python
# sdist vendors it whole (version 0.3.36 vendors ggml-org/llama.cpp@0c1e57098, per its
# CHANGELOG.md). It is unpacked once into $LEADERBOARD_CACHE/llama.cpp-<version>
# (default ~/.cache/leaderboard) and built there (CPU, -DGGML_NATIVE=ON, Release).
# Needs a C++ compiler, cmake (installed with pip when missing), curl and python3.
#
#   llama_cpp_build TARGET...        download + configure once, then build the cmake
#                                    targets whose binary is missing from build/bin
#   llama_cpp_compile SRC.cpp NAME   compile one C++ file against libllama into
#                                    build/bin/NAME (again only when SRC is newer); builds
#                                    libllama and libggml* first when missing
#   llama_cpp_use_exact_gelu         switch the variables below (so every later call) to a
#                                    second, patched copy of the source,
#                                    llama.cpp-<version>-exact-gelu, with its own build/:
#                                    `#define GGML_GELU_FP16` removed from
#                                    ggml/src/ggml-cpu/vec.h, so the CPU backend's GELU and
#                                    GEGLU compute ggml_gelu_f32 (the tanh formula in f32)
#                                    instead of rounding the input to fp16 and reading an
#                                    fp16 table. Nothing else differs (GGML_GELU_QUICK_FP16
#                                    stays). The default tree and build are left as they are.
#
# After sourcing: LLAMA_CPP_VERSION, LLAMA_CPP_COMMIT, LLAMA_CPP_SRC, LLAMA_CPP_BIN
# (LLAMA_CPP_PRISTINE_SRC: the unpatched tree, which llama_cpp_use_exact_gelu copies).

LLAMA_CPP_VERSION=0.3.36
LLAMA_CPP_COMMIT=0c1e57098
LLAMA_CPP_PRISTINE_SRC="${LEADERBOARD_CACHE:-$HOME/.cache/leaderboard}/llama.cpp-$LLAMA_CPP_VERSION"
LLAMA_CPP_SRC="$LLAMA_CPP_PRISTINE_SRC"
LLAMA_CPP_BIN="$LLAMA_CPP_SRC/build/bin"

llama_cpp_fetch_source() {
  [ -f "$LLAMA_CPP_PRISTINE_SRC/CMakeLists.txt" ] && return 0
  local cache work
  cache="$(dirname "$LLAMA_CPP_PRISTINE_SRC")"
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/llama-cpp.XXXXXX")
  (
    trap 'rm -rf "$work"' EXIT
    # The registry these machines reach answers 404 for the per-version JSON endpoint and
    # gives file URLs relative to the project's JSON page: read the release from the
    # unversioned page and resolve the URL against it.
    index="https://pypi.org/pypi/llama-cpp-python/json"
    read -r url sdist_sha256 < <(curl -fsSL "$index" |
      python3 -c 'import json,sys,urllib.parse; d=json.load(sys.stdin); u=[u for u in d["releases"][sys.argv[2]] if u["packagetype"]=="sdist"][0]; print(urllib.parse.urljoin(sys.argv[1], u["url"]), u["digests"]["sha256"])' "$index" "$LLAMA_CPP_VERSION")
    echo "downloading $url" >&2
    curl -fsSL -o "$work/sdist.tar.gz" "$url"
    got=$(sha256sum "$work/sdist.tar.gz" | cut -d' ' -f1)
    [ "$got" = "$sdist_sha256" ] || { echo "sha256 mismatch: $got, want $sdist_sha256" >&2; exit 1; }
    tar xzf "$work/sdist.tar.gz" -C "$work"
    rm -rf "$LLAMA_CPP_PRISTINE_SRC"
    mv "$work/llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp" "$LLAMA_CPP_PRISTINE_SRC"
  )
}

llama_cpp_use_exact_gelu() {
  LLAMA_CPP_SRC="$LLAMA_CPP_PRISTINE_SRC-exact-gelu"
  LLAMA_CPP_BIN="$LLAMA_CPP_SRC/build/bin"
  [ -f "$LLAMA_CPP_SRC/CMakeLists.txt" ] && return 0
  llama_cpp_fetch_source
  local tmp="$LLAMA_CPP_SRC.tmp" vec=ggml/src/ggml-cpu/vec.h
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # The source only: the default tree's build/ (if any) stays behind.
  tar -C "$LLAMA_CPP_PRISTINE_SRC" --exclude=./build -cf - . | tar -C "$tmp" -xf -
  [ "$(grep -cx '#define GGML_GELU_FP16' "$tmp/$vec")" = 1 ] ||
    { echo "$vec: expected exactly one line '#define GGML_GELU_FP16'" >&2; return 1; }
  sed -i 's|^#define GGML_GELU_FP16$|// #define GGML_GELU_FP16  (removed by scripts/llama-cpp-build.sh: GELU in f32)|' "$tmp/$vec"
  ! grep -q '^#define GGML_GELU_FP16' "$tmp/$vec" && grep -qx '#define GGML_GELU_QUICK_FP16' "$tmp/$vec" ||
    { echo "$vec: patch failed" >&2; return 1; }
  mv "$tmp" "$LLAMA_CPP_SRC"
}

llama_cpp_build() {
  local missing=() t
  for t in "$@"; do
    [ -x "$LLAMA_CPP_BIN/$t" ] || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  llama_cpp_configure
  cmake --build "$LLAMA_CPP_SRC/build" --target "${missing[@]}" -j "$(nproc)" >&2
}

llama_cpp_configure() {
  llama_cpp_fetch_source
  command -v cmake >/dev/null || python3 -m pip install --quiet cmake >&2
  if [ ! -f "$LLAMA_CPP_SRC/build/CMakeCache.txt" ]; then
    cmake -S "$LLAMA_CPP_SRC" -B "$LLAMA_CPP_SRC/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF >&2
  fi
}

llama_cpp_compile() {
  local src=$1 name=$2
  local out="$LLAMA_CPP_BIN/$name"
  if [ ! -e "$LLAMA_CPP_BIN/libllama.so" ] || [ ! -e "$LLAMA_CPP_BIN/libggml-cpu.so" ]; then
    llama_cpp_configure  # libllama and libggml* only (ggml links the CPU backend)
    cmake --build "$LLAMA_CPP_SRC/build" --target llama ggml-cpu -j "$(nproc)" >&2
  fi
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    g++ -O2 -std=c++17 -Wall -o "$out.tmp" "$src" \
      -I"$LLAMA_CPP_SRC/include" -I"$LLAMA_CPP_SRC/ggml/include" -I"$LLAMA_CPP_SRC/vendor" \
      -L"$LLAMA_CPP_BIN" -lllama -lggml -lggml-base -Wl,-rpath,"$LLAMA_CPP_BIN" >&2
    mv "$out.tmp" "$out"
  fi
}
