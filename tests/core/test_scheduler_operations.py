"""Operating schedules (issue 17): the listing, pause / resume, a schedule removed from the code, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from litestar_queues import (
    MemoryQueueBackend,
    QueueConfig,
    QueueService,
    Schedule,
    ScheduleError,
    ScheduleNotFoundError,
    TaskRegistry,
    task,
)
from litestar_queues._admin import schedule_action_lines, schedules_lines
from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.schedules import due_key
from litestar_queues.testing import ManualClock
from tests.core._schedules import all_records, keys_of

pytestmark = pytest.mark.anyio

REGISTRY = TaskRegistry()
T0 = datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC)


@task("ops.sync", registry=REGISTRY, interval=3600)
async def sync() -> None:
    """Declared with an hourly interval on the task."""


@task("ops.report", registry=REGISTRY)
async def report(kind: str) -> None:
    """Scheduled through QueueConfig.schedules."""


NIGHTLY = Schedule(
    name="reports.nightly",
    task="ops.report",
    kwargs={"kind": "daily"},
    cron="0 3 * * *",
    timezone="Europe/Berlin",
)
QUARTER = Schedule(name="reports.quarter", task="ops.report", kwargs={"kind": "q"}, interval=900)


def service(backend: MemoryQueueBackend, clock: ManualClock, *schedules: Schedule) -> QueueService:
    return QueueService(
        QueueConfig(queue_backend=backend, registry=REGISTRY, clock=clock, schedules=schedules)
    )


async def test_the_listing_joins_code_and_stored_state() -> None:
    clock = ManualClock(T0)
    svc = service(MemoryQueueBackend(), clock, NIGHTLY, QUARTER)
    before = {info.name: info for info in await svc.schedules()}
    assert {name: info.status for name, info in before.items()} == {
        "ops.sync": "new",
        "reports.nightly": "new",
        "reports.quarter": "new",
    }
    assert before["ops.sync"].next_fire == datetime(2026, 3, 1, 1, tzinfo=UTC)  # what it will get
    scheduler = svc.scheduler()
    await scheduler.tick(clock.now())
    clock.advance(3600)
    fires = await scheduler.tick(clock.now())
    listed = {info.name: info for info in await svc.schedules()}
    sync_info = listed["ops.sync"]
    assert (sync_info.status, sync_info.task, sync_info.interval, sync_info.timezone) == (
        "active",
        "ops.sync",
        timedelta(hours=1),
        None,
    )
    assert sync_info.last_fire == datetime(2026, 3, 1, 1, tzinfo=UTC)
    assert sync_info.last_task_id == next(f.task_id for f in fires if f.name == "ops.sync")
    assert sync_info.next_fire == datetime(2026, 3, 1, 2, tzinfo=UTC)
    nightly = listed["reports.nightly"]
    assert (nightly.cron, nightly.timezone, nightly.last_fire) == ("0 3 * * *", "Europe/Berlin", None)
    assert nightly.next_fire == datetime(2026, 3, 1, 2, tzinfo=UTC)  # 03:00 CET


async def test_a_paused_schedule_lets_due_times_pass_and_resumes_without_a_burst() -> None:
    clock = ManualClock(T0)
    backend = MemoryQueueBackend()
    svc = service(backend, clock)
    scheduler = svc.scheduler()
    paused = await svc.pause_schedule("ops.sync")  # not stored yet: stored, then paused
    assert (paused.status, paused.paused) == ("paused", True)
    for _ in range(3):  # 01:00, 02:00 and 03:00 pass
        clock.advance(3600)
        assert await scheduler.tick(clock.now()) == []
    listed = {info.name: info for info in await svc.schedules()}["ops.sync"]
    assert (listed.status, listed.last_fire) == ("paused", None)
    assert listed.next_fire == datetime(2026, 3, 1, 4, tzinfo=UTC)  # kept moving while paused
    resumed = await svc.resume_schedule("ops.sync")
    assert (resumed.status, resumed.next_fire) == ("active", datetime(2026, 3, 1, 4, tzinfo=UTC))
    assert await scheduler.tick(clock.now()) == []  # no catching up on the paused hours
    clock.advance(3600)
    assert [f.due for f in await scheduler.tick(clock.now())] == [datetime(2026, 3, 1, 4, tzinfo=UTC)]
    assert keys_of(await all_records(backend), "ops.sync") == [
        due_key("ops.sync", datetime(2026, 3, 1, 4, tzinfo=UTC))
    ]


async def test_a_schedule_removed_from_the_code_stops_firing_and_is_listed_as_removed() -> None:
    clock = ManualClock(T0)
    backend = MemoryQueueBackend()
    old = service(backend, clock, NIGHTLY, QUARTER).scheduler()
    await old.tick(clock.now())
    clock.advance(900)
    assert {f.name for f in await old.tick(clock.now())} == {"reports.quarter"}
    # the next deploy no longer declares reports.quarter
    new = service(backend, clock, NIGHTLY)
    scheduler = new.scheduler()
    for _ in range(4):
        clock.advance(900)
        assert "reports.quarter" not in {f.name for f in await scheduler.tick(clock.now())}
    assert len(keys_of(await all_records(backend), "reports.quarter")) == 1
    removed = {info.name: info for info in await new.schedules()}["reports.quarter"]
    assert (removed.status, removed.task, removed.interval) == ("removed", None, None)
    assert removed.last_fire == T0.replace(second=0) + timedelta(minutes=15)
    lines = await schedules_lines(new, as_json=False)
    assert lines[-1].startswith("removed from the code, no longer firing: reports.quarter")

    with pytest.raises(ScheduleError, match="still declared in this process"):
        await new.delete_schedule("reports.nightly")
    await new.delete_schedule("reports.quarter")
    assert "reports.quarter" not in {info.name for info in await new.schedules()}
    with pytest.raises(ScheduleNotFoundError):
        await new.delete_schedule("reports.quarter")
    with pytest.raises(ScheduleNotFoundError, match="no schedule named 'nope'"):
        await new.pause_schedule("nope")


async def test_a_forced_delete_restarts_a_declared_schedule_from_now() -> None:
    clock = ManualClock(T0)
    backend = MemoryQueueBackend()
    svc = service(backend, clock)
    scheduler = svc.scheduler()
    await svc.pause_schedule("ops.sync")
    await svc.delete_schedule("ops.sync", force=True)
    assert [info.status for info in await svc.schedules()] == ["new"]
    clock.advance(7200)
    assert await scheduler.tick(clock.now()) == []  # stored afresh: no fire for the past hours
    listed = (await svc.schedules())[0]
    assert (listed.status, listed.next_fire) == ("active", datetime(2026, 3, 1, 3, tzinfo=UTC))


async def test_the_cli_lines_name_each_schedule_with_its_state_and_times() -> None:
    clock = ManualClock(T0)
    svc = service(MemoryQueueBackend(), clock, NIGHTLY)
    assert await schedule_action_lines(svc, "pause", "reports.nightly", force=False) == [
        "schedule reports.nightly paused: its due times pass without firing until resumed"
    ]
    await svc.scheduler().tick(clock.now())
    table = await schedules_lines(svc, as_json=False)
    assert [line.split() for line in table] == [
        ["name", "task", "when", "timezone", "state", "last", "fire", "next", "fire"],
        ["ops.sync", "ops.sync", "every", "1h", "-", "active", "-", "2026-03-01T01:00:00+00:00"],
        [
            "reports.nightly",
            "ops.report",
            "0",
            "3",
            "*",
            "*",
            "*",
            "Europe/Berlin",
            "paused",
            "-",
            "2026-03-01T02:00:00+00:00",
        ],
    ]
    assert await schedule_action_lines(svc, "resume", "reports.nightly", force=False) == [
        "schedule reports.nightly resumed: next fire 2026-03-01T02:00:00+00:00"
    ]
    (listed,) = [
        s for s in json.loads((await schedules_lines(svc, as_json=True))[0]) if s["name"] == "ops.sync"
    ]
    assert listed == {
        "name": "ops.sync",
        "status": "active",
        "task": "ops.sync",
        "cron": None,
        "interval_seconds": 3600.0,
        "timezone": None,
        "paused": False,
        "last_fire": None,
        "last_task_id": None,
        "next_fire": "2026-03-01T01:00:00+00:00",
    }
    with pytest.raises(QueueConfigurationError, match="a schedule name"):
        await schedule_action_lines(svc, "pause", None, force=False)
    assert await schedules_lines(service(MemoryQueueBackend(), clock), as_json=False) != ["no schedules"]
    assert await schedules_lines(
        QueueService(QueueConfig(queue_backend=MemoryQueueBackend(), registry=TaskRegistry())), as_json=False
    ) == ["no schedules"]
