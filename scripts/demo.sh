#!/usr/bin/env bash
# Runs the demos: the framework-free quickstart (enqueue tasks, run a worker, print each outcome),
# then the Litestar app (enqueue over HTTP, stream the task's events over a WebSocket, print its status).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$HOME/.local/bin:$PATH"
echo "== quickstart (no web framework): examples/quickstart.py"
uv run --frozen python examples/quickstart.py
echo
echo "== Litestar: examples/litestar_app.py driven by examples/litestar_demo.py"
uv run --frozen python examples/litestar_demo.py
