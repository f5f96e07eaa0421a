#!/usr/bin/env bash
# The README's first command: install, then cluster the bundled Banking77 queries
# and print the tree. Extra arguments go to `hercules run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh minilm
.venv/bin/hercules run examples/data/banking77_test.csv --text-column text -o results/banking77 "$@"
echo "Explore it: .venv/bin/hercules show results/banking77 --items 2 | less" >&2
