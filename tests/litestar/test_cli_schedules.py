"""``litestar queues schedules`` (list, pause, resume, delete) through click's CliRunner, on SQLite."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from litestar_queues import QueueService
from tests.litestar.test_cli import Cli

if TYPE_CHECKING:
    from pathlib import Path

APP_TEMPLATE = """
from litestar import Litestar

from litestar_queues import QueueConfig, QueuePlugin, Schedule, TaskRegistry, task

registry = TaskRegistry()


@task("lt.sched.sync", registry=registry, interval=3600)
async def sync() -> None:
    return None


@task("lt.sched.report", registry=registry)
async def report(kind: str) -> None:
    return None


nightly = Schedule(
    name="reports.nightly",
    task="lt.sched.report",
    kwargs={{"kind": "daily"}},
    cron="0 3 * * *",
    timezone="Europe/Berlin",
)
config = QueueConfig(queue_backend={url!r}, registry=registry, schedules=[nightly])
app = Litestar([], plugins=[QueuePlugin(config)])
"""
T0 = datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
T1 = datetime(2030, 1, 1, 1, 0, 1, tzinfo=UTC)


def test_schedules_list_pause_resume_delete(shared_queue_url: str, tmp_path: Path) -> None:
    module = f"lq_sched_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP_TEMPLATE.format(url=shared_queue_url))
    cli = Cli(f"{module}:app", tmp_path)
    header = cli("schedules").output.splitlines()[0]
    assert header.split() == ["name", "task", "when", "timezone", "state", "last", "fire", "next", "fire"]

    config = __import__(module).config

    async def tick_twice() -> None:
        async with QueueService(config) as service:
            scheduler = service.scheduler()
            await scheduler.tick(T0)
            await scheduler.tick(T1)  # lt.sched.sync fires for 01:00
            await service.backend.advance_schedule(
                "old.cleanup", expected=None, next_fire=T1, record=None, now=T0
            )

    anyio.run(tick_twice)
    rows = [line.split() for line in cli("schedules").output.splitlines()[1:]]
    assert rows[:3] == [
        [
            "lt.sched.sync",
            "lt.sched.sync",
            "every",
            "1h",
            "-",
            "active",
            "2030-01-01T01:00:00+00:00",
            "2030-01-01T02:00:00+00:00",
        ],
        ["old.cleanup", "-", "-", "-", "removed", "-", "2030-01-01T01:00:01+00:00"],
        [
            "reports.nightly",
            "lt.sched.report",
            "0",
            "3",
            "*",
            "*",
            "*",
            "Europe/Berlin",
            "active",
            "-",
            "2030-01-01T02:00:00+00:00",
        ],
    ]
    assert json.loads(cli("schedules", "--json").output)[2]["next_fire"] == "2030-01-01T02:00:00+00:00"

    assert cli("schedules", "pause", "reports.nightly").output.strip() == (
        "schedule reports.nightly paused: its due times pass without firing until resumed"
    )
    assert "paused" in cli("schedules").output.splitlines()[3].split()
    assert cli("schedules", "resume", "reports.nightly").output.strip() == (
        "schedule reports.nightly resumed: next fire 2030-01-01T02:00:00+00:00"
    )
    refused = cli("schedules", "delete", "lt.sched.sync", ok=False)
    assert refused.exit_code == 1 and "still declared" in refused.output
    missing = cli("schedules", "resume", "nope", ok=False)
    assert missing.exit_code == 1 and "no schedule named 'nope'" in missing.output
    assert cli("schedules", "delete", "old.cleanup").output.strip() == (
        "schedule old.cleanup deleted (the tasks it enqueued stay)"
    )
    assert "old.cleanup" not in cli("schedules").output
