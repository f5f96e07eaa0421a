#!/usr/bin/env bash
# A separate venv with the paper's reference implementation (pyhercules 1.1.1 from PyPI).
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv-pyhercules/bin/python ] || python3 -m venv .venv-pyhercules
.venv-pyhercules/bin/pip install -q "pyhercules==1.1.1"
