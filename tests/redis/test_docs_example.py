"""docs/examples/redis_quickstart.py runs against the real server and prints what the docs say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def test_redis_quickstart_example_runs(redis_server: RedisServer) -> None:
    example = ROOT / "docs" / "examples" / "redis_quickstart.py"
    env = {**os.environ, "REDIS_URL": redis_server.url}
    done = subprocess.run(
        [sys.executable, str(example)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "completed report 0 rendered",
        "completed report 1 rendered",
        "completed report 2 rendered",
        "dead letters: {}",
    ]
