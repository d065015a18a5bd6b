"""Keeps the benchmark harness from rotting: one tiny run for ours on a SQLite file.

Never asserts a timing: only that the harness measured every scenario and every task ran once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_driver_runs_every_scenario_for_ours_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "_driver.py"), "--peer", "ours", "--url", url]
    cmd += ["--tasks", "50", "--latency", "5", "--latency-gap", "0", "--drain-timeout", "60"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=110, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    assert not {"drain_error", "latency_error"} & result.keys(), result
    assert result["executions"] == result["distinct_executed"] == 50
    assert result["latency_samples"] == 5
    for key in ("enqueue_batch_per_s", "enqueue_single_per_s", "drain_per_s", "latency_p50_ms"):
        assert result[key] > 0
    assert result["latency_p99_ms"] >= result["latency_p50_ms"]
    assert result["versions"]["litestar-queues"]

    result["label"] = "ours (SQLite)"
    table = run.table([result, {"label": "broken", "system": "x", "error": "exit 1"}])
    lines = table.splitlines()
    assert lines[0].startswith("| system |") and len(lines) == 4
    assert lines[2].startswith("| ours (SQLite) |") and "50 / 50" in lines[2]
    assert "error: exit 1" in lines[3]


def test_percentile_picks_the_nearest_rank() -> None:
    from benchmarks import _driver

    values = [float(v) for v in range(1, 101)]
    assert _driver.percentile(values, 50) in (50.0, 51.0)
    assert _driver.percentile(values, 99) == 99.0
    assert _driver.percentile(values, 100) == 100.0
    assert _driver.percentile([3.0], 99) == 3.0
