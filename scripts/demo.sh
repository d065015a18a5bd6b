#!/usr/bin/env bash
# Runs the demo: enqueues tasks, runs a worker and prints each result and status.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$HOME/.local/bin:$PATH"
uv run --frozen python examples/quickstart.py
