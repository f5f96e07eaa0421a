#!/usr/bin/env bash
# The README's first command: install, then cluster the bundled Banking77 queries (3,080 texts)
# with titles and descriptions written by the embedded local LLM (Qwen2.5-Coder 1.5B, offline),
# print the tree and its quality per level (hercules evaluate) and save results/banking77. First set-up: ~25 min (llama.cpp's C++ server compiled
# from the llama-cpp-python sdist + 1.1 GB model download). The labelling is the slow part on 2 CPU
# cores (see docs/BENCHMARKS.md "Title quality"); a re-run is answered from the cache. Extra arguments go to
# `hercules run` (e.g. --llm none for keyword titles in seconds, or --llm openai:gpt-4o-mini).
# The map (hercules export) uses UMAP, from the layout extra.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "minilm,layout,local-model"
# `--llm local` runs the model behind llama.cpp's C++ server when this binary exists (1.4-1.5x faster
# than in-process, benchmarks/bench_llm.py), so the quick start builds the server, not the Python binding.
bash scripts/build_llama_server.sh >/dev/null
.venv/bin/hercules run examples/data/banking77_test.csv --text-column text --levels 40,8 --llm local \
  -o results/banking77 "$@"
# Quality per level: title identification, duplicate and generic titles need no ground truth; ARI, NMI and
# title_alignment compare with the Banking77 intents the file carries.
.venv/bin/hercules evaluate results/banking77 --labels-column category --class-names 2>/dev/null \
  | grep -E "^(level|n_clusters|title_identification|duplicate_titles|generic_titles|title_alignment|ari|nmi) " || true
echo "Explore it: .venv/bin/hercules show results/banking77 --items 2 | less" >&2
echo "Map it:     .venv/bin/hercules export results/banking77 --html banking77.html" >&2
