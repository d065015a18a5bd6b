#!/usr/bin/env bash
# Create one virtual environment per peer under .bench/venvs/<peer> (gitignored) and install the
# peer at the pinned PyPI version. Each peer gets its own venv so that the published
# litestar-queues 0.12 (same distribution name as ours) never mixes with the workspace.
#
# Usage: bash benchmarks/setup.sh [peer ...]     (default: every peer)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.bench/venvs"
PYTHON="${BENCH_PYTHON:-3.11}"
mkdir -p "$VENVS"

# peer name -> pinned requirements (the current PyPI versions on the day the table was measured)
declare -A PEERS=(
  [saq]="saq[postgres]==0.26.4 redis"
  [arq]="arq==0.28.0"
  [taskiq]="taskiq==0.13.0 taskiq-redis==1.2.4"
  [lq012]="litestar-queues[redis,advanced-alchemy]==0.12.0 asyncpg sqlalchemy<2.1"
  [procrastinate]="procrastinate[psycopg]==3.10.0"
)

selected=("$@")
if [ ${#selected[@]} -eq 0 ]; then
  selected=(saq arq taskiq lq012 procrastinate)
fi

for peer in "${selected[@]}"; do
  reqs="${PEERS[$peer]:?unknown peer $peer}"
  venv="$VENVS/$peer"
  if [ ! -x "$venv/bin/python" ]; then
    uv venv --quiet --python "$PYTHON" "$venv"
  fi
  # shellcheck disable=SC2086
  uv pip install --quiet --python "$venv/bin/python" $reqs
  echo "== $peer: $reqs"
done
