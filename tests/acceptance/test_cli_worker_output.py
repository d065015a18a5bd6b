"""The ``litestar-queues worker`` console script as a user sees it, in a real subprocess.

* it logs a start-up line, one line per task outcome and a summary on stop; ``-q`` keeps only
  warnings;
* started while its queue backend is down it prints one error line, logs each retry at WARNING,
  and serves once the server is up (no traceback); SIGTERM while it waits stops it at once.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, TaskRegistry, task
from tests.output_process import OutputProcess
from tests.servers import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    import os

    from litestar_queues import QueueConfig, WorkerConfig, task


    @task("output.square")
    async def square(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n * n


    config = QueueConfig(
        queue_backend=os.environ["OUT_DB_URL"],
        worker=WorkerConfig(concurrency=2, poll_interval=0.05, shutdown_grace=5),
    )
    """
)

CONSOLE_SCRIPT = Path(sys.executable).parent / "litestar-queues"
registry = TaskRegistry()


@task("output.square", registry=registry)
async def square(n: int) -> int:
    return n * n


def console_script(app_dir: Path, url: str, *args: str) -> OutputProcess:
    """The console script in a subprocess, its merged output collected line by line."""
    env = {**os.environ, "OUT_DB_URL": url, "PYTHONUNBUFFERED": "1"}
    return OutputProcess([str(CONSOLE_SCRIPT), *args], cwd=app_dir, env=env, timeout=30)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "output_app.py").write_text(APP)
    return tmp_path


def _enqueue(url: str, *values: int) -> None:
    async def run() -> None:
        async with QueueService(QueueConfig(queue_backend=url, registry=registry)) as service:
            for value in values:
                await service.enqueue(square, value)

    anyio.run(run)


def _with(text: str) -> Callable[[list[str]], bool]:
    return lambda lines: any(text in line for line in lines)


def test_the_worker_logs_start_each_outcome_and_stop(app_dir: Path) -> None:
    url = f"sqlite:///{app_dir / 'queue.db'}"
    _enqueue(url, 3, -1)
    script = console_script(app_dir, url, "worker", "output_app:config")
    try:
        script.wait_for(lambda lines: sum("outcome=" in line for line in lines) == 2, "two outcome lines")
        assert script.stop() == 0
    finally:
        script.kill()
    out = "\n".join(script.lines)
    assert f"started: backend {url}, queues (all), concurrency 2" in out
    completed = next(line for line in script.lines if "outcome=completed" in line)
    assert "INFO litestar_queues.worker: task output.square id=" in completed
    assert " queue=default attempt=1 duration=" in completed
    assert any("outcome=failed" in line for line in script.lines)
    assert "stopped: 1 completed, 1 failed, 0 retried, 0 released in" in out
    assert "Traceback" not in out

    _enqueue(url, 4)
    quiet = console_script(app_dir, url, "-q", "worker", "output_app:config")
    try:

        async def until_done() -> int:
            async with QueueService(QueueConfig(queue_backend=url, registry=registry)) as service:
                with anyio.move_on_after(30):
                    while (await service.stats()).count("completed") < 2:
                        await anyio.sleep(0.05)
                return (await service.stats()).count("completed")

        assert anyio.run(until_done) == 2
        assert quiet.stop() == 0
    finally:
        quiet.kill()
    assert quiet.lines == []


def test_a_worker_started_while_redis_is_down_waits_for_it(app_dir: Path) -> None:
    server = RedisServer(aof=False, unix_socket=False)  # its port is chosen, the server not started
    script = console_script(app_dir, server.url, "worker", "output_app:config")
    try:
        script.wait_for(lambda lines: sum("WARNING" in line for line in lines) >= 2, "two retries")
        errors = [line for line in script.lines if line.startswith("litestar-queues: ")]
        assert len(errors) == 1, script.lines
        assert "the queue backend cannot be reached" in errors[0]
        assert "retrying until it is up" in errors[0]
        warnings = [line for line in script.lines if "WARNING" in line]
        assert "queue backend unreachable (attempt 1), retrying in 1 s" in warnings[0]
        server.start()
        try:
            script.wait_for(_with("started: backend redis://"), "the worker to start", timeout=60)
            _enqueue(server.url, 5)
            script.wait_for(_with("outcome=completed"), "the task to run")
            assert script.stop() == 0
        finally:
            server.cleanup()
    finally:
        script.kill()
    out = "\n".join(script.lines)
    assert "queue backend reached after" in out
    assert "Traceback" not in out


def test_sigterm_while_the_backend_is_down_stops_the_worker(app_dir: Path) -> None:
    url = f"sqlite:///{app_dir / 'missing-directory' / 'queue.db'}"  # cannot be opened
    script = console_script(app_dir, url, "worker", "output_app:config")
    try:
        script.wait_for(_with("cannot be reached"), "the error line")
        started = time.monotonic()
        assert script.stop() == 0
        assert time.monotonic() - started < 5
    finally:
        script.kill()
    assert "Traceback" not in "\n".join(script.lines)
