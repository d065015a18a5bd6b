"""``litestar-queues workers``, and the last hour in ``status``, on SQLite, Redis and PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, WorkerInfo
from tests.core.test_cli_read_model import APP, BACKENDS, _out, _with_service, install_app

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return install_app(request, tmp_path, monkeypatch, APP, "READ_MODEL_URL")


def serve_in_a_thread(
    config: QueueConfig, ready: threading.Event, stop: threading.Event, **overrides: Any
) -> None:
    """A worker in its own thread and event loop, as another process runs one; ``ready`` once it serves."""

    async def main() -> None:
        async with QueueService(config) as service, service.worker(**overrides):
            ready.set()  # entered: the worker serves and is listed
            while not stop.is_set():
                await anyio.sleep(0.02)

    anyio.run(main)


def test_workers_lists_the_live_workers(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"
    assert _out(capsys, "workers", target) == ["no live workers"]
    assert json.loads(_out(capsys, "workers", target, "--json")[0]) == []

    async def draining(service: QueueService) -> None:
        now = service.config.clock.now()
        await service.backend.record_worker(
            WorkerInfo(
                worker_id="w-old",
                hostname="batch-7",
                pid=31337,
                queues=None,
                concurrency=4,
                started_at=now - timedelta(hours=3, minutes=7, seconds=20),
                seen_at=now,
                expires_at=now + timedelta(minutes=5),
                running=3,
                stopping=True,
            )
        )

    _with_service(app, draining)
    ready, stop = threading.Event(), threading.Event()
    config = __import__(app).config
    overrides = {"worker_id": "w-cli", "queues": ["reports"]}
    worker = threading.Thread(
        target=serve_in_a_thread, args=(config, ready, stop), kwargs=overrides, daemon=True
    )
    worker.start()
    try:
        assert ready.wait(30)
        table = _out(capsys, "workers", target)
        listed = json.loads(_out(capsys, "workers", target, "--json")[0])
    finally:
        stop.set()
        worker.join(30)
    assert table[0].split() == ["id", "host", "pid", "queues", "concurrency", "running", "age", "stopping"]
    assert table[1].split() == ["w-old", "batch-7", "31337", "(all)", "4", "3", "3h07m", "yes"]
    mine = table[2].split()
    assert mine[0] == "w-cli" and mine[2:6] == [str(os.getpid()), "reports", "10", "0"] and mine[7] == "no"
    assert table[3] == "2 live worker(s), running 3 of 14 task slots"
    assert [w["worker_id"] for w in listed] == ["w-old", "w-cli"]
    assert listed[1]["queues"] == ["reports"] and listed[1]["stopping"] is False
    # the worker in the thread stopped cleanly: it is gone at once, the other one is still live
    assert [line.split()[0] for line in _out(capsys, "workers", target)[1:-1]] == ["w-old"]


def test_status_shows_what_finished_in_the_last_hour(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"

    async def scenario(service: QueueService) -> None:
        handles = [await service.enqueue("cli.render", n) for n in (1, -2, 3)]
        await service.enqueue("cli.mail", "a@example.com")
        async with service.worker(poll_interval=0.05, queues=["reports"]):
            for handle in handles:
                await handle.wait(timeout=30)

    _with_service(app, scenario)
    lines = _out(capsys, "status", target)
    assert [line.split() for line in lines] == [
        ["queue", "status", "count"],
        ["default", "pending", "1"],
        ["reports", "completed", "2"],
        ["reports", "failed", "1"],
        [],
        ["finished", "in", "the", "last", "hour:"],
        ["queue", "completed", "failed"],
        ["default", "0", "0"],
        ["reports", "2", "1"],
    ]
    assert json.loads(_out(capsys, "status", target, "--json")[0]) == {
        "default": {"pending": 1},
        "reports": {"completed": 2, "failed": 1},
    }
