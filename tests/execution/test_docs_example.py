"""The execution guide's example (docs/examples/execution_placements.py) runs as documented."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.mark.anyio
@pytest.mark.slow
async def test_the_placements_example_runs_a_task_in_a_child_process(tmp_path: Path) -> None:
    env = {**os.environ, "QUEUE_URL": f"sqlite+aiosqlite:///{tmp_path}/queue.db"}
    done = await anyio.run_process(
        [sys.executable, "execution_placements.py"], cwd=EXAMPLES, env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().startswith("completed {'report': 'r-1'")
