"""docs/examples/sql_transactional.py runs on SQLite and PostgreSQL and prints what docs/sql.md says."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.anyio


async def test_transactional_example_runs(db_url: str) -> None:
    example = ROOT / "docs" / "examples" / "sql_transactional.py"
    done = await anyio.run_process(
        [sys.executable, str(example)], env={**os.environ, "DATABASE_URL": db_url}, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == [
        "sign-up failed: payment declined",
        "queued: 1",
        "completed: 1, total: 1",
    ]
