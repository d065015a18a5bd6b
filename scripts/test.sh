#!/usr/bin/env bash
# The whole test suite: lint, types, docs build, then pytest against real Redis, PostgreSQL and SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --servers
export PATH="$HOME/.local/bin:$PATH"

echo "== ruff"
uv run --frozen ruff check .
echo "== mypy (strict, packages/)"
uv run --frozen mypy
echo "== docs (mkdocs --strict)"
uv run --frozen mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
echo "== pytest"
uv run --frozen pytest -n 2 --dist loadgroup "$@"
