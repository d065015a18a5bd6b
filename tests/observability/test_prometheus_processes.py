"""One ``/metrics`` for a web process and ``litestar queues worker --processes 2`` on Redis.

Every process runs with ``PROMETHEUS_MULTIPROC_DIR``: the web process counts the enqueues, the
worker processes count the attempts, and Litestar's ``PrometheusController`` in the web process
adds them up from the directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observability import metrics_app
from tests.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = "tests.observability.metrics_app:create_app"

pytestmark = pytest.mark.redis


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output.decode()


@pytest.fixture
def processes_env(redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "LITESTAR_QUIET_CONSOLE": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        metrics_app.URL_VARIABLE: redis_url,
    }
    env.pop("LITESTAR_APP", None)
    yield env


def test_one_metrics_route_adds_up_the_web_process_and_two_worker_processes(
    processes_env: dict[str, str],
) -> None:
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", APP, "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=processes_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    workers = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "litestar",
            "--app",
            APP,
            "queues",
            "worker",
            "--processes",
            "2",
            "--concurrency",
            "2",
        ],
        cwd=REPO_ROOT,
        env=processes_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert web.poll() is None and workers.poll() is None, "a process exited early"
                try:
                    client.get("/outstanding")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the web process did not start"
                    time.sleep(0.1)
            ids = client.post("/batch", params={"ok_count": 30, "broken_count": 6}).json()
            assert len(ids) == 36
            while client.get("/outstanding").json()["outstanding"]:
                assert time.monotonic() < deadline and workers.poll() is None, "the workers did not drain"
                time.sleep(0.1)
            # the depth gauges of a worker refresh every 0.2 s: wait for one that saw the end
            while True:
                samples = _samples(client.get("/metrics").text)
                done = {"queue": "default", "status": "completed"}
                if _value(samples, "litestar_queues_queue_tasks", **done) == 30:
                    break
                assert time.monotonic() < deadline, "the depth gauges were not refreshed"
                time.sleep(0.1)
    finally:
        worker_output = _stop(workers)
        _stop(web)
    assert workers.returncode == 0, worker_output
    assert worker_output.count("started 2 worker processes") == 1

    ok = {"queue": "default", "task": "metrics_tests.ok"}
    broken = {"queue": "default", "task": "metrics_tests.broken"}
    assert _value(samples, "litestar_queues_tasks_enqueued_total", **ok) == 30  # counted by the web process
    assert _value(samples, "litestar_queues_tasks_started_total", **ok) == 30  # by the workers
    assert _value(samples, "litestar_queues_tasks_completed_total", **ok) == 30
    assert _value(samples, "litestar_queues_tasks_failed_total", **broken) == 6
    assert _value(samples, "litestar_queues_task_duration_seconds_count", **ok) == 30
    assert _value(samples, "litestar_queues_task_lag_seconds_count", **broken) == 6
    # live gauges: one series per process that built the (queue, task) series (the web process
    # too, at 0: it builds every series of a pair when it first counts one), each back to 0
    running = {
        dict(labels)["pid"]: value
        for (name, labels), value in samples.items()
        if name == "litestar_queues_tasks_running"
    }
    assert set(running.values()) == {0.0}
    assert set(running) - {str(web.pid)}, "no series of a worker process"
