"""``litestar-queues schedules`` (list, pause, resume, delete) on SQLite, Redis and PostgreSQL (issue 17)."""

from __future__ import annotations

import json
import textwrap
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tests.core.test_cli_read_model import BACKENDS, _out, _with_service

if TYPE_CHECKING:
    from pathlib import Path

    from litestar_queues import QueueService

APP = textwrap.dedent(
    """
    import os
    from litestar_queues import QueueConfig, Schedule, TaskRegistry, task

    registry = TaskRegistry()


    @task("cli.sync", registry=registry, interval=3600)
    async def sync() -> None:
        return None


    @task("cli.report", registry=registry)
    async def report(kind: str) -> None:
        return None


    nightly = Schedule(
        name="reports.nightly",
        task="cli.report",
        kwargs={"kind": "daily"},
        cron="0 3 * * *",
        timezone="Europe/Berlin",
    )
    config = QueueConfig(queue_backend=os.environ["SCHEDULES_URL"], registry=registry, schedules=[nightly])
    """
)
T0 = datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
T1 = datetime(2030, 1, 1, 1, 0, 1, tzinfo=UTC)


@pytest.fixture(params=list(BACKENDS))
def app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(request.getfixturevalue(BACKENDS[request.param]))
    module = f"schedules_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP)
    monkeypatch.setenv("SCHEDULES_URL", url)
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


async def _tick_twice(service: QueueService) -> None:
    scheduler = service.scheduler()
    await scheduler.tick(T0)  # stores both schedules
    await scheduler.tick(T1)  # cli.sync fires for 01:00


def test_schedules_lists_each_with_its_state_and_fire_times(
    app: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{app}:config"
    before = _out(capsys, "schedules", target)
    assert before[0].split() == ["name", "task", "when", "timezone", "state", "last", "fire", "next", "fire"]
    assert [line.split()[:2] + line.split()[-3:-1] for line in before[1:]] == [
        ["cli.sync", "cli.sync", "new", "-"],
        ["reports.nightly", "cli.report", "new", "-"],
    ]
    _with_service(app, _tick_twice)
    assert [line.split() for line in _out(capsys, "schedules", target)[1:]] == [
        [
            "cli.sync",
            "cli.sync",
            "every",
            "1h",
            "-",
            "active",
            "2030-01-01T01:00:00+00:00",
            "2030-01-01T02:00:00+00:00",
        ],
        [
            "reports.nightly",
            "cli.report",
            *["0", "3", "*", "*", "*"],
            "Europe/Berlin",
            "active",
            "-",
            "2030-01-01T02:00:00+00:00",
        ],
    ]
    listed = json.loads(_out(capsys, "schedules", target, "--json")[0])
    assert [(s["name"], s["status"], s["last_fire"], s["next_fire"]) for s in listed] == [
        ("cli.sync", "active", "2030-01-01T01:00:00+00:00", "2030-01-01T02:00:00+00:00"),
        ("reports.nightly", "active", None, "2030-01-01T02:00:00+00:00"),
    ]
    assert listed[0]["last_task_id"] is not None


def test_schedules_pause_resume_and_delete(app: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{app}:config"
    _with_service(app, _tick_twice)
    assert _out(capsys, "schedules", target, "pause", "reports.nightly") == [
        "schedule reports.nightly paused: its due times pass without firing until resumed"
    ]
    rows = {line.split()[0]: line.split() for line in _out(capsys, "schedules", target)[1:]}
    assert rows["reports.nightly"][-3] == "paused"
    assert _out(capsys, "schedules", target, "resume", "reports.nightly") == [
        "schedule reports.nightly resumed: next fire 2030-01-01T02:00:00+00:00"
    ]
    assert "no schedule named 'nope'" in _out(capsys, "schedules", target, "pause", "nope", code=1)[0]
    assert "takes an action" in _out(capsys, "schedules", target, "pause", code=2)[0]
    assert "still declared" in _out(capsys, "schedules", target, "delete", "cli.sync", code=2)[0]

    async def store_a_removed_one(service: QueueService) -> None:
        await service.backend.advance_schedule(
            "old.cleanup", expected=None, next_fire=T1, record=None, now=T0
        )

    _with_service(app, store_a_removed_one)
    listing = _out(capsys, "schedules", target)
    rows = {line.split()[0]: line.split() for line in listing[1:-1]}
    assert rows["old.cleanup"] == ["old.cleanup", "-", "-", "-", "removed", "-", "2030-01-01T01:00:01+00:00"]
    assert listing[-1].startswith("removed from the code, no longer firing: old.cleanup")
    assert _out(capsys, "schedules", target, "delete", "old.cleanup") == [
        "schedule old.cleanup deleted (the tasks it enqueued stay)"
    ]
    assert "old.cleanup" not in "\n".join(_out(capsys, "schedules", target))
