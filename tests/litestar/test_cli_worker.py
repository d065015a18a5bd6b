"""``litestar queues worker`` as a real subprocess: SIGTERM drains running tasks and loses nothing."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, QueueStats
from tests.litestar._cli_tasks import record
from tests.litestar.conftest import wait_until
from tests.litestar.test_cli import write_app
from tests.output_process import litestar_worker

pytestmark = pytest.mark.slow


def run(url: str, action: Any) -> Any:
    async def main() -> Any:
        async with QueueService(QueueConfig(queue_backend=url)) as service:
            return await action(service)

    return anyio.run(main)


def stats(url: str) -> QueueStats:
    return run(url, lambda s: s.stats())  # type: ignore[no-any-return]


def wait_for_stats(url: str, predicate: Callable[[QueueStats], bool], what: str, timeout: float = 60) -> None:
    """Poll the counts through one open service until ``predicate`` holds."""

    async def poll(service: QueueService) -> None:
        for _ in range(int(timeout / 0.05)):
            if predicate(await service.stats()):
                return
            await anyio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    run(url, poll)


def executions(log: Path) -> list[int]:
    return sorted(int(n) for n in log.read_text().split()) if log.exists() else []


def test_sigterm_drains_running_tasks_and_loses_nothing(shared_queue_url: str, tmp_path: Path) -> None:
    log = tmp_path / "executions.txt"
    total = 12

    async def enqueue(service: QueueService) -> list[str]:
        return [str((await service.enqueue(record, str(log), n, 0.5)).id) for n in range(total)]

    ids = run(shared_queue_url, enqueue)
    app_path = write_app(tmp_path, shared_queue_url)

    worker = litestar_worker(app_path, tmp_path, "--concurrency", "3")
    try:
        wait_for_stats(shared_queue_url, lambda st: st.count("running") > 0, "tasks running")

        async def running_ids(service: QueueService) -> list[str]:
            return [i for i in ids if (await service.get_task(i)).status == "running"]

        running_at_stop = run(shared_queue_url, running_ids)
        assert worker.stop() == 0, worker.lines
    finally:
        worker.kill()
    assert worker.count("ready: serving all queues, concurrency 3") == 1
    assert worker.count("stopped:") == 1

    after_stop = stats(shared_queue_url)
    assert after_stop.count("running") == 0
    assert after_stop.count("failed") == 0
    assert after_stop.count("completed") + after_stop.count("pending") == total
    # every task running when SIGTERM arrived was finished, not abandoned
    assert {run(shared_queue_url, lambda s: _statuses(s, running_at_stop))[i] for i in running_at_stop} == {
        "completed"
    }
    statuses = run(shared_queue_url, lambda s: _statuses(s, ids))
    assert executions(log) == [n for n, i in enumerate(ids) if statuses[i] == "completed"]

    # another worker (here in this process) finishes the rest: each task ran exactly once overall
    async def finish_rest(service: QueueService) -> None:
        async with service.worker(concurrency=4, poll_interval=0.05):
            for task_id in ids:
                await (await service.get_task(task_id)).wait(timeout=60)

    run(shared_queue_url, finish_rest)
    assert stats(shared_queue_url).count("completed") == total
    assert executions(log) == list(range(total))


async def _statuses(service: QueueService, ids: list[str]) -> dict[str, str]:
    return {i: (await service.get_task(i)).status for i in ids}


def test_processes_each_load_the_app_and_stop_on_sigterm(shared_queue_url: str, tmp_path: Path) -> None:
    log = tmp_path / "executions.txt"
    total = 8

    async def enqueue(service: QueueService) -> None:
        for n in range(total):
            await service.enqueue(record, str(log), n, 0.1, queue="emails")

    run(shared_queue_url, enqueue)
    app_path = write_app(tmp_path, shared_queue_url)
    worker = litestar_worker(
        app_path, tmp_path, "--processes", "2", "--concurrency", "2", "--queues", "emails"
    )
    try:
        wait_until(lambda: worker.count("ready: serving emails") == 2, timeout=90, what="two workers")
        wait_for_stats(shared_queue_url, lambda st: st.count("completed") == total, "all done")
        assert worker.stop() == 0, worker.lines
    finally:
        worker.kill()
    assert worker.count("started 2 worker processes") == 1
    assert worker.count("stopped:") == 2
    ready = {line.split()[1] for line in worker.lines if "ready:" in line}
    assert len(ready) == 2  # two distinct worker ids (worker-<pid>)
    assert executions(log) == list(range(total))


def test_worker_processes_that_fail_stop_the_group(tmp_path: Path) -> None:
    """Children that cannot start (no backend for the URL) exit 1; the parent stops the rest, exits non-zero.

    (An unreachable server is not a failure at start-up: a worker waits for it, see
    ``test_cli_worker_start.py``.)
    """
    app_path = write_app(tmp_path, "nosuchscheme://127.0.0.1:1/0")
    worker = litestar_worker(app_path, tmp_path, "--processes", "2")
    try:
        code = worker.proc.wait(timeout=90)
    finally:
        worker.kill()
    assert code == 1, worker.lines
    assert worker.count("started 2 worker processes") == 1
    assert worker.count("nosuchscheme") >= 1  # the children's error message, not a traceback
    assert worker.count("Traceback") == 0
