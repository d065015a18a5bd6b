"""A task enqueued in a Litestar request and run by a ``litestar queues worker`` process on Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.observability import traced_app

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.redis


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_one_trace_from_the_http_span_to_the_run_span_in_the_worker_process(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv(traced_app.URL_VARIABLE, redis_url)
    monkeypatch.setenv(traced_app.SPANS_VARIABLE, str(spans_file))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LITESTAR_QUIET_CONSOLE": "1"}
    env.pop("LITESTAR_APP", None)
    command = [sys.executable, "-m", "litestar", "--app", "tests.observability.traced_app:create_app"]
    worker = subprocess.Popen(
        [*command, "queues", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with TestClient(app=traced_app.create_app()) as client:
            task_id = client.post("/reports").json()["task_id"]
            deadline = time.monotonic() + 60
            while client.get(f"/tasks/{task_id}").json()["status"] != "completed":
                assert time.monotonic() < deadline and worker.poll() is None, (
                    "the worker did not run the task"
                )
                time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output.decode()
    spans = _spans(spans_file)
    (http,) = [s for s in spans if s["kind"] == "SERVER" and s["name"] == "POST /reports"]
    (publish,) = [s for s in spans if s["kind"] == "PRODUCER"]
    (run,) = [s for s in spans if s["kind"] == "CONSUMER"]
    assert http["pid"] == publish["pid"] == os.getpid() != run["pid"] == worker.pid
    assert http["trace_id"] == publish["trace_id"] == run["trace_id"]
    assert (publish["parent_id"], run["parent_id"]) == (http["span_id"], publish["span_id"])
