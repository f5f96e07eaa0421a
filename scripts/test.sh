#!/usr/bin/env bash
# The README's second command: install everything the tests need, lint, run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "minilm,dev"
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest -q "$@"
