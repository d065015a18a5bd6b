"""``litestar queues status|retry|cancel`` with click's CliRunner on a SQLite file shared with the test."""

import json
import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from litestar.cli.main import litestar_group

from litestar_queues import QueueConfig, QueueLimit, QueueService, WorkerInfo
from tests.core.test_cli_workers import serve_in_a_thread
from tests.litestar._cli_tasks import boom, record

APP_TEMPLATE = """
from litestar import Litestar

from litestar_queues import QueueConfig, QueuePlugin
import tests.litestar._cli_tasks  # registers the tasks

app = Litestar([], plugins=[QueuePlugin(QueueConfig(queue_backend={url!r}))])
"""


def write_app(directory: Path, url: str) -> str:
    """Write an app module into ``directory``; return its ``module:app`` path."""
    module = f"lq_cli_app_{uuid.uuid4().hex[:8]}"
    (directory / f"{module}.py").write_text(APP_TEMPLATE.format(url=url))
    return f"{module}:app"


class Cli:
    def __init__(self, app_path: str, app_dir: Path) -> None:
        self.app_path = app_path
        self.app_dir = app_dir
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, answer: str | None = None) -> Any:
        result = self.runner.invoke(
            litestar_group,
            ["--app", self.app_path, "--app-dir", str(self.app_dir), "queues", *args],
            input=answer,
        )
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result


@pytest.fixture(autouse=True)
def litestar_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI exports LITESTAR_APP when it is unset: set it here so that it is restored afterwards
    # (--app takes precedence over it)
    monkeypatch.setenv("LITESTAR_APP", "not_loaded:app")
    monkeypatch.setenv("LITESTAR_QUIET_CONSOLE", "1")


@pytest.fixture
def cli(shared_queue_url: str, tmp_path: Path) -> Cli:
    return Cli(write_app(tmp_path, shared_queue_url), tmp_path)


def run(url: str, action: Any) -> Any:
    async def main() -> Any:
        async with QueueService(QueueConfig(queue_backend=url)) as service:
            return await action(service)

    return anyio.run(main)


def status(cli: Cli) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = json.loads(cli("status", "--json").output)
    return counts


def test_status_counts_per_queue_and_status(cli: Cli, shared_queue_url: str, tmp_path: Path) -> None:
    assert cli("status").output.strip() == "no tasks"
    log = str(tmp_path / "log.txt")

    async def enqueue(service: QueueService) -> None:
        await service.enqueue(record, log, 1, 0.0)
        await service.enqueue(record, log, 2, 0.0, queue="reports")
        await service.enqueue(record, log, 3, 0.0, queue="reports", run_after=3600)

    run(shared_queue_url, enqueue)
    assert status(cli) == {"default": {"pending": 1}, "reports": {"pending": 1, "scheduled": 1}}
    table = cli("status").output.splitlines()
    assert table[0].split() == ["queue", "status", "count"]
    assert [line.split() for line in table[1:]] == [
        ["default", "pending", "1"],
        ["reports", "pending", "1"],
        ["reports", "scheduled", "1"],
        [],
        ["finished", "in", "the", "last", "hour:"],
        ["queue", "completed", "failed"],
        ["default", "0", "0"],
        ["reports", "0", "0"],
    ]


def test_workers_lists_live_workers_and_status_the_last_hour(cli: Cli, shared_queue_url: str) -> None:
    assert cli("workers").output.strip() == "no live workers"

    async def work(service: QueueService) -> None:
        handle = await service.enqueue(boom)
        async with service.worker(poll_interval=0.05):
            await handle.wait(timeout=30)
        # a worker of another host, draining, seen now
        now = service.config.clock.now()
        await service.backend.record_worker(
            WorkerInfo(
                worker_id="w-other",
                hostname="batch-2",
                pid=7,
                queues=None,
                concurrency=2,
                started_at=now - timedelta(seconds=42),
                seen_at=now,
                expires_at=now + timedelta(minutes=5),
                running=1,
                stopping=True,
            )
        )

    run(shared_queue_url, work)
    ready, stop = threading.Event(), threading.Event()
    overrides = {"worker_id": "w-litestar", "queues": ["default", "mail"]}
    config = QueueConfig(queue_backend=shared_queue_url)
    worker = threading.Thread(
        target=serve_in_a_thread, args=(config, ready, stop), kwargs=overrides, daemon=True
    )
    worker.start()
    try:
        assert ready.wait(30)
        shown = cli("workers").output.splitlines()
        listed = json.loads(cli("workers", "--json").output)
    finally:
        stop.set()
        worker.join(30)
    header = ["id", "host", "pid", "queues", "concurrency", "running", "age", "stopping"]
    assert shown[0].split() == header
    rows = {line.split()[0]: line.split() for line in shown[1:-1]}
    assert rows["w-other"][1:] == ["batch-2", "7", "(all)", "2", "1", rows["w-other"][6], "yes"]
    assert rows["w-other"][6] in ("42s", "43s", "44s", "45s")
    assert rows["w-litestar"][2:6] == [str(os.getpid()), "default,mail", "10", "0"]
    assert shown[-1] == "2 live worker(s), running 1 of 12 task slots"
    assert sorted(w["worker_id"] for w in listed) == ["w-litestar", "w-other"]
    # the worker stopped cleanly: only the other one is left
    assert [line.split()[0] for line in cli("workers").output.splitlines()[1:-1]] == ["w-other"]
    assert cli("status").output.splitlines()[-3:] == [
        "finished in the last hour:",
        "queue    completed  failed",
        "default  0          1",
    ]


def test_cancel_then_retry(cli: Cli, shared_queue_url: str, tmp_path: Path) -> None:
    log = str(tmp_path / "log.txt")
    task_id = run(shared_queue_url, lambda s: s.enqueue(record, log, 7, 0.0)).id

    assert cli("cancel", str(task_id)).output.strip() == f"task {task_id} is cancelled"
    assert status(cli) == {"default": {"cancelled": 1}}
    # a terminal task stays as it is
    assert cli("cancel", str(task_id)).output.strip() == f"task {task_id} is cancelled"

    output = cli("retry", str(task_id)).output.strip()
    assert output == f"task {task_id} was cancelled: requeued, now pending"
    assert status(cli) == {"default": {"pending": 1}}  # the same record, back in its queue

    async def read(service: QueueService) -> tuple[Any, ...]:
        again = await service.get_task(task_id)
        return again.record.args, again.record.metadata

    assert run(shared_queue_url, read) == ([log, 7, 0.0], {})


def test_retry_a_failed_task(cli: Cli, shared_queue_url: str) -> None:
    async def fail_one(service: QueueService) -> str:
        handle = await service.enqueue(boom)
        async with service.worker(poll_interval=0.05):
            await handle.wait(timeout=30)
        assert handle.status == "failed"
        return str(handle.id)

    failed_id = run(shared_queue_url, fail_one)
    assert status(cli) == {"default": {"failed": 1}}
    cli("retry", failed_id)
    assert status(cli) == {"default": {"pending": 1}}
    # retrying again is a no-op that says so
    assert cli("retry", failed_id).output.strip() == f"task {failed_id} is already pending: not retried again"
    assert status(cli) == {"default": {"pending": 1}}


def test_purge_asks_then_deletes_and_pause_holds_a_queue(
    cli: Cli, shared_queue_url: str, tmp_path: Path
) -> None:
    async def fail_one(service: QueueService) -> None:
        handle = await service.enqueue(boom)
        async with service.worker(poll_interval=0.05):
            await handle.wait(timeout=30)

    run(shared_queue_url, fail_one)
    refused = cli("purge", ok=False)
    assert refused.exit_code == 2
    assert "purge needs --status" in refused.output
    declined = cli("purge", "--status", "failed", answer="n\n")
    assert "Delete every task with status failed, for good? [y/N]" in declined.output
    assert declined.output.strip().endswith("nothing deleted")
    assert status(cli) == {"default": {"failed": 1}}
    assert cli("purge", "--status", "failed", answer="y\n").output.strip().endswith("deleted 1 task(s)")
    assert status(cli) == {}
    assert cli("prune").output.splitlines()[0] == "nothing to delete"

    assert cli("pause", "default").output.splitlines() == [
        "queue default paused: workers claim nothing from it",
        "paused queues: default",
    ]
    log = str(tmp_path / "log.txt")

    async def held(service: QueueService) -> str:
        handle = await service.enqueue(record, log, 1, 0.0)
        async with service.worker(poll_interval=0.05):
            await anyio.sleep(0.3)
            return (await handle.refresh()).status

    assert run(shared_queue_url, held) == "pending"
    assert ["default", "pending", "1", "(paused)"] in [
        line.split() for line in cli("status").output.splitlines()
    ]
    assert cli("resume", "default").output.splitlines()[0] == "queue default resumed"


def test_errors_exit_non_zero_with_a_message(cli: Cli, shared_queue_url: str, tmp_path: Path) -> None:
    unknown = str(uuid.uuid4())
    result = cli("cancel", unknown, ok=False)
    assert result.exit_code == 1
    assert f"no task record with id {unknown}" in result.output

    result = cli("retry", ok=False)
    assert result.exit_code == 1
    assert "give a task id, or --failed" in result.output
    result = cli("cancel", ok=False)
    assert result.exit_code == 1
    assert "needs at least one of --queue" in result.output


def test_app_without_queue_plugin(tmp_path: Path) -> None:
    module = f"lq_plain_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("from litestar import Litestar\napp = Litestar([])\n")
    result = Cli(f"{module}:app", tmp_path)("status", ok=False)
    assert result.exit_code == 1
    assert "the app has no QueuePlugin" in result.output


def test_unreachable_backend_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = Cli(write_app(tmp_path, "redis://127.0.0.1:1/0"), tmp_path)("status", ok=False)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, reported as a message
    assert "127.0.0.1:1" in result.output


def test_limit_sets_lists_and_clears_and_bad_input_stores_nothing(cli: Cli, shared_queue_url: str) -> None:
    assert cli("limits").output.startswith("no limits")
    assert cli("limit", "default", "--concurrency", "2", "--rate", "120/1m").output.splitlines()[0] == (
        "queue default: limit set to concurrency 2, 120 per 1m"
    )
    assert json.loads(cli("limits", "--json").output) == {
        "default": {"concurrency": 2, "rate": 120, "per": 60.0, "key_concurrency": None}
    }
    assert cli("status").output.splitlines()[-2:] == ["limits:", "  default  concurrency 2, 120 per 1m"]
    for options, message in (
        ((), "give --concurrency N, --rate N/PERIOD or --key-concurrency N"),
        (("--rate", "fast"), "--rate takes N/PERIOD"),
        (("--concurrency", "0"), "--concurrency must be a whole number from 1 to"),
        (("--clear", "--key-concurrency", "1"), "--clear removes the queue's limit"),
    ):
        refused = cli("limit", "default", *options, ok=False)
        assert refused.exit_code == 2, refused.output
        assert message in refused.output
    stored = run(shared_queue_url, lambda s: s.limits())
    assert stored == {"default": QueueLimit(concurrency=2, rate=120, per=60)}
    assert cli("limit", "default", "--clear").output.splitlines() == ["queue default: limit removed"]
    assert run(shared_queue_url, lambda s: s.limits()) == {}
