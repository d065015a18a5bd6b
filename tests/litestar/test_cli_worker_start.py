"""The Litestar side of a first run: start-up hints, ``status`` on a process-local backend, worker output.

* an app whose shared queue has no worker in the app logs once, at start-up, how to run one;
* ``litestar queues status`` on the (default) memory backend says why it cannot see the app's
  tasks instead of printing ``no tasks``;
* ``litestar queues worker`` logs one line per task outcome (``-q``: none), and started while
  its database cannot be opened prints one error line and serves once it can.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from litestar_queues import QueueConfig, QueuePlugin, QueueService, WorkerConfig
from tests.litestar._cli_tasks import record
from tests.litestar.test_cli import Cli, write_app
from tests.output_process import litestar_worker

PLUGIN_LOGGER = "litestar_queues.litestar"


@pytest.fixture(autouse=True)
def litestar_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITESTAR_APP", "not_loaded:app")
    monkeypatch.setenv("LITESTAR_QUIET_CONSOLE", "1")


class _Records(logging.Handler):
    """Keeps the records of one logger (Litestar's logging config replaces the root's handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _started(config: QueueConfig) -> list[logging.LogRecord]:
    logger = logging.getLogger(PLUGIN_LOGGER)
    handler = _Records()
    logger.addHandler(handler)
    try:
        with TestClient(app=Litestar([], plugins=[QueuePlugin(config)])):
            pass
    finally:
        logger.removeHandler(handler)
    return [r for r in handler.records if "worker" in r.getMessage()]


def test_an_app_without_a_worker_for_its_shared_queue_says_how_to_run_one(tmp_path: Path) -> None:
    shared = QueueConfig(queue_backend=f"sqlite:///{tmp_path / 'q.db'}", worker=WorkerConfig(in_app=False))
    (hint,) = _started(shared)
    assert hint.levelno == logging.INFO
    assert "this app runs no queue worker" in hint.getMessage()
    assert "litestar --app MODULE:APP queues worker" in hint.getMessage()
    assert "WorkerConfig(in_app=True)" in hint.getMessage()

    (never,) = _started(QueueConfig(worker=WorkerConfig(in_app=False)))
    assert never.levelno == logging.WARNING
    assert "nothing will ever run its tasks" in never.getMessage()

    in_app = _started(QueueConfig(queue_backend=f"sqlite:///{tmp_path / 'q.db'}"))
    assert [r.getMessage() for r in in_app if "runs no queue worker" in r.getMessage()] == []


def test_status_on_the_memory_backend_says_it_cannot_see_the_apps_tasks(tmp_path: Path) -> None:
    cli = Cli(write_app(tmp_path, "memory://"), tmp_path)
    for args in (("status",), ("status", "--json"), ("cancel", "00000000-0000-0000-0000-000000000001")):
        result = cli(*args, ok=False)
        assert result.exit_code == 1
        assert "no tasks" not in result.output
        assert "keeps its tasks in the memory" in " ".join(result.output.split())


def _enqueue(url: str, log: Path, number: int) -> None:
    async def main() -> None:
        async with QueueService(QueueConfig(queue_backend=url)) as service:
            await service.enqueue(record, str(log), number, 0.0)

    anyio.run(main)


def _has(text: str) -> Callable[[list[str]], bool]:
    return lambda lines: any(text in line for line in lines)


@pytest.mark.slow
def test_the_worker_waits_for_its_database_then_logs_each_task(tmp_path: Path) -> None:
    database = tmp_path / "not-yet" / "queue.db"
    url = f"sqlite:///{database}"
    app_path = write_app(tmp_path, url)
    worker = litestar_worker(app_path, tmp_path)
    try:
        worker.wait_for(_has("queue backend unreachable (attempt 1)"), "the first retry")
        errors = [line for line in worker.lines if line.startswith("error: ")]
        assert len(errors) == 1 and "the queue backend cannot be reached" in errors[0], worker.lines
        database.parent.mkdir()
        worker.wait_for(_has("ready: serving all queues"), "the worker to start")
        _enqueue(url, tmp_path / "log.txt", 1)
        worker.wait_for(_has("outcome=completed"), "the outcome line")
        assert worker.stop() == 0
    finally:
        worker.kill()
    line = next(line for line in worker.lines if "outcome=completed" in line)
    assert "task lt.cli.record id=" in line and "queue=default attempt=1 duration=" in line
    assert "Traceback" not in "\n".join(worker.lines)

    quiet = litestar_worker(app_path, tmp_path, group_options=["-q"])
    try:
        quiet.wait_for(_has("ready: serving all queues"), "the quiet worker to start")
        _enqueue(url, tmp_path / "log.txt", 2)
        deadline = time.monotonic() + 30
        while (tmp_path / "log.txt").read_text().split() != ["1", "2"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert quiet.stop() == 0
    finally:
        quiet.kill()
    assert (tmp_path / "log.txt").read_text().split() == ["1", "2"]
    assert not any("outcome=" in line for line in quiet.lines), quiet.lines
