"""The ``litestar-queues worker MODULE:ATTR`` console script in a real subprocess on a shared SQLite file.

SIGTERM mid-run: the worker stops claiming, lets running tasks finish within the grace period,
releases the rest back to the queue uncounted, and exits 0; nothing is lost or run twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, TaskCall, TaskRegistry, task

pytest.importorskip("litestar_queues_sql")
pytest.importorskip("aiosqlite")

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

APP = textwrap.dedent(
    """
    import os

    import anyio

    from litestar_queues import QueueConfig, WorkerConfig, task

    MARKS = os.environ["ACC_MARKS"]


    @task("acceptance.work")
    async def work(n: int, seconds: float) -> int:
        with open(os.path.join(MARKS, f"run-{n}"), "a") as marks:
            marks.write("started\\n")
        await anyio.sleep(seconds)
        return n * n


    config = QueueConfig(
        queue_backend=os.environ["ACC_DB_URL"],
        worker=WorkerConfig(
            concurrency=3,
            poll_interval=0.1,
            lease_seconds=15,
            shutdown_grace=float(os.environ["ACC_GRACE"]),
        ),
    )
    """
)

CONSOLE_SCRIPT = Path(sys.executable).parent / "litestar-queues"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "acceptance_app.py").write_text(APP)
    (tmp_path / "marks").mkdir()
    return tmp_path


def _db_url(app_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{app_dir / 'queue.db'}"


def _start_worker(app_dir: Path, grace: float) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ACC_DB_URL": _db_url(app_dir),
        "ACC_MARKS": str(app_dir / "marks"),
        "ACC_GRACE": str(grace),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [str(CONSOLE_SCRIPT), "worker", "acceptance_app:config", "--log-level", "INFO"],
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    return output


def _runs(app_dir: Path, n: int) -> int:
    path = app_dir / "marks" / f"run-{n}"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _client(app_dir: Path) -> tuple[QueueService, Any]:
    """A second process's view: its own service on the same database file, same task name."""
    registry = TaskRegistry()

    @task("acceptance.work", registry=registry)
    async def work(n: int, seconds: float) -> int:
        raise AssertionError("runs only in the worker process")

    return QueueService(QueueConfig(queue_backend=_db_url(app_dir), registry=registry)), work


async def _until(predicate: Any, timeout: float = 60) -> None:
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(0.05)


def test_console_script_is_installed() -> None:
    assert CONSOLE_SCRIPT.exists()
    out = subprocess.run(
        [str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "worker" in out.stdout


async def test_sigterm_drains_running_tasks_and_loses_nothing(app_dir: Path) -> None:
    service, work = _client(app_dir)
    async with service:
        handles = await service.enqueue_many([TaskCall(work, (n, 0.4)) for n in range(12)])
        first = _start_worker(app_dir, grace=30)
        try:

            async def some_running_some_done() -> bool:
                stats = await service.stats()
                return stats.count("running") > 0 and stats.count("completed") >= 3

            await _until(some_running_some_done)
        finally:
            output = _stop(first)
        assert first.returncode == 0, output
        assert "draining" in output and "stopped" in output

        records = [(await h.refresh()).record for h in handles]
        statuses = {r.status for r in records}
        assert statuses <= {"completed", "pending"}, output
        assert "pending" in statuses  # stopped mid-run: some work was still queued
        for record in records:
            n = record.args[0]
            if record.status == "completed":
                # every task that started was allowed to finish within the grace period
                assert (record.result, record.attempts, _runs(app_dir, n)) == (n * n, 1, 1)
            else:
                assert (record.attempts, record.runs, _runs(app_dir, n)) == (0, 0, 0)

        second = _start_worker(app_dir, grace=30)
        try:
            for handle in handles:
                await handle.wait(timeout=60)
        finally:
            output = _stop(second)
        assert second.returncode == 0, output
    assert [(h.status, h.result) for h in handles] == [("completed", n * n) for n in range(12)]
    assert [_runs(app_dir, n) for n in range(12)] == [1] * 12  # each ran exactly once


async def test_after_the_grace_period_running_tasks_return_to_the_queue(app_dir: Path) -> None:
    service, work = _client(app_dir)
    async with service:
        long = await service.enqueue(work, 0, 3600)
        worker = _start_worker(app_dir, grace=0.3)
        try:

            async def running() -> bool:
                return (await long.refresh()).status == "running"

            await _until(running)
        finally:
            output = _stop(worker)
        assert worker.returncode == 0, output
        record = (await long.refresh()).record
        assert (record.status, record.attempts, record.runs, record.lease_id) == ("pending", 0, 1, None)
        assert _runs(app_dir, 0) == 1
        await service.cancel(long.id)
