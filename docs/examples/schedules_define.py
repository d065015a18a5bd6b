"""Declaring schedules, and when they fire next (docs/schedules.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar_queues.exceptions import ScheduleError
from litestar_queues.schedules import MisfirePolicy, Schedule, next_fire

nightly = Schedule(
    name="reports.nightly",
    task="reports.build",
    kwargs={"kind": "daily"},
    cron="0 3 * * *",  # needs the cron extra: pip install "litestar-queues[cron]"
    timezone="Europe/Berlin",
    jitter=120,  # each run starts up to two minutes late, the same on every scheduler
)
poll = Schedule(
    name="feeds.poll",
    task="feeds.poll",
    interval=timedelta(minutes=5),  # fires at :00, :05, :10 ... whenever the scheduler runs
    misfire=MisfirePolicy.SKIP,  # a late poll is useless: the next one comes soon
    queue="feeds",
)

now = datetime(2026, 3, 28, 12, 7, tzinfo=UTC)
print(f"{nightly.name}: {next_fire(nightly, now)}")  # 03:00 CEST, the day clocks go forward
print(f"{poll.name}: {next_fire(poll, now)}")

try:
    Schedule(name="reports.weekly", task="reports.build", cron="0 25 * * MON")
except ScheduleError as exc:
    print(exc)
