"""Declaring schedules on tasks and in the config; mistakes fail at start-up (docs/schedules.md)."""

from __future__ import annotations

import anyio

from litestar_queues import (
    MisfirePolicy,
    QueueConfig,
    QueueService,
    Schedule,
    ScheduleError,
    TaskRegistry,
    task,
)

registry = TaskRegistry()


@task("reports.nightly", registry=registry, cron="0 3 * * *", timezone="Europe/Berlin")
async def nightly_report() -> None:
    """Runs every night at 03:00 Berlin time, under a schedule named after the task."""


@task("feeds.poll", registry=registry, interval=300, misfire=MisfirePolicy.SKIP, schedule_args=["all"])
async def poll_feeds(which: str) -> None:
    """Runs every five minutes with the argument "all"; a late poll is skipped."""


@task("reports.build", registry=registry, queue="reports")
async def build_report(kind: str, tenant: int) -> None:
    """Built by two schedules of the config, with other arguments each."""


config = QueueConfig(
    queue_backend="memory://",
    registry=registry,
    schedules=[
        Schedule(
            name="reports.weekly.acme",
            task="reports.build",
            kwargs={"kind": "weekly", "tenant": 1},
            cron="0 6 * * MON",
            timezone="Europe/Berlin",
        ),
        Schedule(
            name="reports.weekly.globex",
            task="reports.build",
            kwargs={"kind": "weekly", "tenant": 2},
            cron="0 6 * * MON",
            timezone="America/New_York",
            jitter=600,
        ),
    ],
)


async def main() -> None:
    async with QueueService(config) as service:
        for schedule in service.declared_schedules():
            print(f"{schedule.name}: {schedule.task} {schedule.cron or schedule.interval}")

    typo = Schedule(name="reports.monthly", task="reports.buidl", cron="0 6 1 * *")
    try:
        async with QueueService(QueueConfig(registry=registry, schedules=[typo])):
            pass
    except ScheduleError as exc:
        print(exc)


if __name__ == "__main__":
    anyio.run(main)
