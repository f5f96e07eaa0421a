#!/usr/bin/env bash
# Build llama.cpp's C++ `llama-server` from the llama-cpp-python sdist on PyPI (the same llama.cpp
# the in-process backend runs), for `--llm local-server`: several sequences decoded per step
# (continuous batching), which the in-process binding cannot do. Prints the binary's path.
# Cached in ${HERCULES_BIN_DIR:-~/.cache/hercules/bin}; a rebuild is skipped when the binary is there.
# Cost: ~10-20 min of compiling on 2 cores the first time (JOBS=1 halves the load, doubles the time).
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
DEST="${HERCULES_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hercules/bin}"
BIN="$DEST/llama-server-$VERSION"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
command -v cmake >/dev/null || "$PIP" install -q cmake
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PIP" download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK" >&2
tar -xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
cmake --build "$WORK/build" --target llama-server -j "${JOBS:-2}" >&2
mkdir -p "$DEST"
cp "$WORK/build/bin/llama-server" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
echo "$BIN"
