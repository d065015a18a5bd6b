"""``litestar-queues purge | prune | pause | resume`` on SQLite, Redis and PostgreSQL (issue 16)."""

from __future__ import annotations

import json
import textwrap
import time
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.core.test_cli_read_model import BACKENDS, _out, _with_service, install_app

if TYPE_CHECKING:
    from pathlib import Path

    from litestar_queues import QueueService

APP = textwrap.dedent(
    """
    import os
    from litestar_queues import QueueConfig, Retention, TaskRegistry, WorkerConfig, task

    registry = TaskRegistry()


    @task("upkeep.render", registry=registry, queue="reports")
    async def render(n: int) -> int:
        if n < 0:
            raise ValueError(f"cannot render {n}")
        return n


    # the workers' sweep is off, so that each prune below is the one that deletes
    config = QueueConfig(
        queue_backend=os.environ["UPKEEP_URL"],
        registry=registry,
        retention=Retention(completed=1.0, failed=None, enabled=False),
        worker=WorkerConfig(poll_interval=0.05),
    )
    """
)


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return install_app(request, tmp_path, monkeypatch, APP, "UPKEEP_URL")


def _status(capsys: pytest.CaptureFixture[str], target: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = json.loads(_out(capsys, "status", target, "--json")[0])
    return counts


async def _run_all(service: QueueService, *numbers: int) -> None:
    handles = [await service.enqueue("upkeep.render", n) for n in numbers]
    async with service.worker():
        for handle in handles:
            await handle.wait(timeout=30)


def test_purge_refuses_bad_input_then_deletes_what_it_names(
    app: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{app}:config"
    _with_service(app, lambda s: _run_all(s, 1, -2, 3))
    before = _status(capsys, target)
    assert before == {"reports": {"completed": 2, "failed": 1}}
    assert "purge needs --status" in _out(capsys, "purge", target, "--yes", code=2)[0]
    assert "cancel them first" in _out(capsys, "purge", target, "--status", "running", "--yes", code=2)[0]
    assert "unknown status 'gone'" in _out(capsys, "purge", target, "--status", "gone", "--yes", code=2)[0]
    assert (
        "takes an age" in _out(capsys, "purge", target, "--status", "failed", "--older-than", "x", code=2)[0]
    )
    # no terminal to ask on (pytest's stdin) and no --yes: refused, nothing deleted
    assert "add --yes to confirm" in _out(capsys, "purge", target, "--status", "failed", code=2)[0]
    assert _status(capsys, target) == before
    older = ("purge", target, "--status", "completed", "--older-than", "1h", "--yes")
    assert _out(capsys, *older) == ["deleted 0 task(s)"]  # finished just now
    assert _out(capsys, "purge", target, "--status", "failed", "--yes") == ["deleted 1 task(s)"]
    assert _out(capsys, "list", target, "--status", "failed") == ["no tasks match"]
    assert _status(capsys, target) == {"reports": {"completed": 2}}


def test_prune_applies_the_retention_now(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"
    _with_service(app, lambda s: _run_all(s, 1, -2))
    time.sleep(1.1)  # the app keeps completed tasks one second, failed ones forever
    lines = _out(capsys, "prune", target)
    assert lines[0] == "deleted 1 completed task(s)"
    assert lines[-1] == "retention: completed 1s, cancelled 1w"
    assert _out(capsys, "prune", target)[0] == "nothing to delete"
    assert _status(capsys, target) == {"reports": {"failed": 1}}


def test_pause_holds_a_queue_until_resume(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"
    assert _out(capsys, "pause", target, "reports") == [
        "queue reports paused: workers claim nothing from it",
        "paused queues: reports",
    ]

    async def held_then_run(service: QueueService) -> list[str]:
        handle = await service.enqueue("upkeep.render", 7)
        seen = []
        async with service.worker():
            await anyio.sleep(0.5)
            seen.append((await handle.refresh()).status)
            await service.resume("reports")
            seen.append((await handle.wait(timeout=30)).status)
        return seen

    status_lines = _out(capsys, "status", target)
    assert status_lines[-1] == "paused queues: reports"
    assert _with_service(app, held_then_run) == ["pending", "completed"]
    assert _out(capsys, "resume", target, "reports") == ["queue reports resumed", "paused queues: none"]
    assert "paused" not in "\n".join(_out(capsys, "status", target))
