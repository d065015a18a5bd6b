"""The scheduler applies the timing rules (issue 17): DST days, misfire, jitter, edited definitions."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from litestar_queues import (
    MemoryQueueBackend,
    MisfirePolicy,
    QueueConfig,
    QueueService,
    Schedule,
    TaskRegistry,
    task,
)
from litestar_queues.schedules import due_key, jitter_offset
from litestar_queues.schedules.scheduler import CLOCK_SKEW
from tests.core._schedules import all_records, finish_all, keys_of

if TYPE_CHECKING:
    from litestar_queues import QueueBackend, TaskRecord
    from litestar_queues.models import ScheduleState
    from litestar_queues.schedules.scheduler import Scheduler

pytestmark = pytest.mark.anyio

REGISTRY = TaskRegistry()


@task("rules.job", registry=REGISTRY)
async def job() -> None:
    """The task the schedules here enqueue."""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedulers(backend: QueueBackend, *schedules: Schedule, count: int = 1) -> list[Scheduler]:
    config = QueueConfig(queue_backend=backend, registry=REGISTRY, schedules=schedules)
    return [QueueService(config).scheduler() for _ in range(count)]


async def run(
    backend: QueueBackend, group: list[Scheduler], start: datetime, end: datetime, step: timedelta
) -> list[TaskRecord]:
    """Tick every scheduler every ``step`` (the second one half a step later), finishing records."""
    now = start
    while now <= end:
        for index, scheduler in enumerate(group):
            await scheduler.tick(now + step * (index / len(group)))
        await finish_all(backend, now)
        now += step
    return await all_records(backend)


async def state_of(backend: QueueBackend, name: str) -> ScheduleState:
    (state,) = [s for s in await backend.schedule_states() if s.name == name]
    return state


@pytest.mark.parametrize(
    ("start", "end", "fires"),
    [
        # spring-forward, 29 March 2026: 02:30 does not exist, it fires at 03:00 CEST
        (
            "2026-03-27T12:00",
            "2026-03-30T12:00",
            ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"],
        ),
        # fall-back, 25 October 2026: 02:30 happens twice, it fires once, on summer time
        (
            "2026-10-23T12:00",
            "2026-10-26T12:00",
            ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30"],
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
async def test_a_berlin_0230_job_fires_once_a_day_on_dst_days(start: str, end: str, fires: list[str]) -> None:
    backend = MemoryQueueBackend()
    daily = Schedule(name="berlin.daily", task="rules.job", cron="30 2 * * *", timezone="Europe/Berlin")
    group = schedulers(backend, daily, count=2)
    records = await run(backend, group, at(start), at(end), timedelta(minutes=5))
    assert keys_of(records, daily.name) == [due_key(daily.name, at(fire)) for fire in fires]


async def test_an_hourly_berlin_job_fires_25_times_on_the_fall_back_day() -> None:
    backend = MemoryQueueBackend()
    hourly = Schedule(name="berlin.hourly", task="rules.job", cron="0 * * * *", timezone="Europe/Berlin")
    # 25 October 2026, 00:00 CEST to 24:00 CET: 25 real hours
    records = await run(
        backend,
        schedulers(backend, hourly),
        at("2026-10-24T21:50"),
        at("2026-10-25T22:59"),
        timedelta(minutes=10),
    )
    keys = keys_of(records, hourly.name)
    assert len(keys) == len(set(keys)) == 25
    assert keys[0] == due_key(hourly.name, at("2026-10-24T22:00"))
    assert keys[-1] == due_key(hourly.name, at("2026-10-25T22:00"))


@pytest.mark.parametrize(
    ("policy", "after_outage"),
    [(MisfirePolicy.CATCH_UP_ONCE, ["04:00"]), (MisfirePolicy.SKIP, [])],
)
async def test_a_three_hour_outage_fires_at_most_once(
    policy: MisfirePolicy, after_outage: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    backend = MemoryQueueBackend()
    hourly = Schedule(name="sync.hourly", task="rules.job", interval=3600, misfire=policy)
    first, second = schedulers(backend, hourly, count=2)
    await first.tick(at("2026-03-01T00:30"))
    assert [f.due for f in await first.tick(at("2026-03-01T01:00:01"))] == [at("2026-03-01T01:00")]
    # no scheduler runs from 01:00 to 04:10: 02:00, 03:00 and 04:00 pass
    with caplog.at_level(logging.WARNING, "litestar_queues.schedules"):
        outage = [*await first.tick(at("2026-03-01T04:10")), *await second.tick(at("2026-03-01T04:10:01"))]
    assert [f.due for f in outage] == [at(f"2026-03-01T{t}") for t in after_outage]
    assert [f.missed_since for f in outage] == [at("2026-03-01T02:00")] * len(after_outage)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "sync.hourly missed its due times since 2026-03-01T02:00:00+00:00" in warning.getMessage()
    assert ("firing once for 2026-03-01T04:00" if after_outage else "skipped") in warning.getMessage()
    # then on as usual
    assert [f.due for f in await second.tick(at("2026-03-01T05:00:02"))] == [at("2026-03-01T05:00")]
    state = await state_of(backend, hourly.name)
    assert state.next_fire == at("2026-03-01T06:00")
    records = await all_records(backend)
    expected = ["01:00", *after_outage, "05:00"]
    assert keys_of(records, hourly.name) == [due_key(hourly.name, at(f"2026-03-01T{t}")) for t in expected]


async def test_a_skip_schedule_reached_within_its_grace_still_fires() -> None:
    backend = MemoryQueueBackend()
    poll = Schedule(name="feeds.poll", task="rules.job", interval=300, misfire=MisfirePolicy.SKIP)
    (scheduler,) = schedulers(backend, poll)
    await scheduler.tick(at("2026-03-01T00:01"))
    assert [f.due for f in await scheduler.tick(at("2026-03-01T00:05:59"))] == [at("2026-03-01T00:05")]
    assert await scheduler.tick(at("2026-03-01T00:11:01")) == []  # 61 s late: skipped


class DiesBeforeTheFire(MemoryQueueBackend):
    """A store whose client dies (raises) on the first advance that carries a record."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = False

    async def advance_schedule(self, name: str, **kwargs: Any) -> ScheduleState | None:
        if kwargs["record"] is not None and not self.dead:
            self.dead = True
            raise ConnectionError("the scheduler process died here")
        return await super().advance_schedule(name, **kwargs)


async def test_a_scheduler_dying_between_the_catch_up_steps_leaves_one_fire_to_the_next() -> None:
    backend = DiesBeforeTheFire()
    hourly = Schedule(name="sync.hourly", task="rules.job", interval=3600)
    first, second = schedulers(backend, hourly, count=2)
    await first.tick(at("2026-03-01T00:30"))
    with pytest.raises(ConnectionError):
        await first.tick(at("2026-03-01T04:10"))  # moved onto 04:00, died before firing it
    assert (await state_of(backend, hourly.name)).next_fire == at("2026-03-01T04:00")
    fires = [*await second.tick(at("2026-03-01T04:10:05")), *await first.tick(at("2026-03-01T04:10:06"))]
    assert [(f.due, f.missed_since) for f in fires] == [(at("2026-03-01T04:00"), None)]
    state = await state_of(backend, hourly.name)
    assert (state.last_fire, state.next_fire) == (at("2026-03-01T04:00"), at("2026-03-01T05:00"))
    assert len(await all_records(backend)) == 1


async def test_jitter_delays_each_record_but_keeps_one_per_due_time() -> None:
    backend = MemoryQueueBackend()
    report = Schedule(name="tenant.report", task="rules.job", interval=3600, jitter=600)
    records = await run(
        backend,
        schedulers(backend, report, count=3),
        at("2026-03-01T00:00"),
        at("2026-03-01T06:00"),
        timedelta(seconds=45),
    )
    dues = {due_key(report.name, due): due for due in (at(f"2026-03-01T0{h}:00") for h in range(1, 7))}
    assert Counter(r.key for r in records) == dict.fromkeys(dues, 1)
    offsets = set()
    for record in records:
        due = dues[record.key or ""]
        offset = record.run_at - due
        assert offset == jitter_offset(report, due)
        assert timedelta(0) <= offset <= timedelta(seconds=600)
        offsets.add(offset)
    assert len(offsets) > 1  # spread, not one fixed delay


async def test_an_edited_definition_does_not_keep_a_far_stored_due_time() -> None:
    backend = MemoryQueueBackend()
    monthly = Schedule(name="reports.digest", task="rules.job", cron="0 3 1 * *")
    (before,) = schedulers(backend, monthly)
    await before.tick(at("2026-01-10T12:00"))
    assert (await state_of(backend, monthly.name)).next_fire == at("2026-02-01T03:00")
    # deployed again with a daily expression: the stored 1 February no longer fits
    daily = Schedule(name="reports.digest", task="rules.job", cron="0 3 * * *")
    (after,) = schedulers(backend, daily)
    await after.tick(at("2026-01-10T12:05"))
    assert (await state_of(backend, daily.name)).next_fire == at("2026-01-11T03:00")
    fires = await after.tick(at("2026-01-11T03:00:01"))
    assert [f.due for f in fires] == [at("2026-01-11T03:00")]


async def test_an_interval_moved_off_its_grid_is_put_back_on_it() -> None:
    backend = MemoryQueueBackend()
    (before,) = schedulers(backend, Schedule(name="grid", task="rules.job", interval=600))
    await before.tick(at("2026-01-10T12:01"))
    assert (await state_of(backend, "grid")).next_fire == at("2026-01-10T12:10")
    anchored = Schedule(name="grid", task="rules.job", interval=600, anchor=at("2026-01-01T00:03"))
    (after,) = schedulers(backend, anchored)
    await after.tick(at("2026-01-10T12:02"))
    assert (await state_of(backend, "grid")).next_fire == at("2026-01-10T12:03")


async def test_a_scheduler_whose_clock_lags_keeps_a_fitting_due_time() -> None:
    backend = MemoryQueueBackend()
    minutely = Schedule(name="minutely", task="rules.job", interval=60)
    ahead, behind = schedulers(backend, minutely, count=2)
    await ahead.tick(at("2026-01-10T12:00:30"))
    await ahead.tick(at("2026-01-10T12:01:00.2"))  # fires 12:01, stores 12:02
    stored = await state_of(backend, minutely.name)
    lag = CLOCK_SKEW - timedelta(seconds=1)
    assert await behind.tick(at("2026-01-10T12:01:00.2") - lag) == []
    assert await state_of(backend, minutely.name) == stored


async def test_a_fire_is_built_like_an_enqueue_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = TaskRegistry()

    @task("rules.feed", registry=registry, queue="default", priority=1, retries=4, timeout=30)
    async def feed(source: str, limit: int = 10) -> None:
        return None

    backend = MemoryQueueBackend()
    schedule = Schedule(
        name="feeds.poll",
        task="rules.feed",
        args=["rss"],
        kwargs={"limit": 5},
        interval=300,
        queue="feeds",
        priority=7,
    )
    config = QueueConfig(queue_backend=backend, registry=registry, schedules=[schedule])
    scheduler = QueueService(config).scheduler()
    await scheduler.tick(at("2026-03-01T00:01"))
    caplog.clear()  # the first tick may have logged, when another test left INFO on
    with caplog.at_level(logging.INFO, "litestar_queues.schedules"):
        (fire,) = await scheduler.tick(at("2026-03-01T00:05:00.3"))
    (record,) = await all_records(backend)
    assert (record.id, record.task_name, record.args, record.kwargs) == (
        fire.task_id,
        "rules.feed",
        ["rss"],
        {"limit": 5},
    )
    assert (record.queue, record.priority, record.max_retries, record.timeout) == ("feeds", 7, 4, 30)
    assert (record.key, record.status) == (due_key("feeds.poll", at("2026-03-01T00:05")), "pending")
    assert (record.created_at, record.run_at) == (at("2026-03-01T00:05:00.3"), at("2026-03-01T00:05"))
    # only the scheduler's own lines: another test may have left INFO on for other loggers
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and r.name == "litestar_queues.schedules"
    ]
    (line,) = lines
    assert line == f"schedule feeds.poll fired for 2026-03-01T00:05:00+00:00: task rules.feed {record.id}"
