"""Running the scheduler: racing schedulers enqueue one record per due time (docs/schedules.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio

from litestar_queues import MemoryQueueBackend, QueueConfig, QueueService, TaskRegistry, WorkerConfig, task
from litestar_queues.testing import ManualClock

registry = TaskRegistry()


@task("crm.sync", registry=registry, interval=3600)
async def sync() -> None:
    """Hourly."""


clock = ManualClock(datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
config = QueueConfig(
    queue_backend=MemoryQueueBackend(),
    registry=registry,
    clock=clock,
    # the defaults: every worker runs the scheduler, which looks at the schedules once a second
    worker=WorkerConfig(scheduler=True, scheduler_interval=1.0),
)


async def main() -> None:
    async with QueueService(config) as service:
        # three processes' schedulers, as the workers build theirs; here they share one store
        schedulers = [service.scheduler() for _ in range(3)]
        for scheduler in schedulers:
            await scheduler.tick(clock.now())  # the first one stores the schedule: next due 01:00
        for _ in range(3):
            clock.advance(3600)
            fired = [len(await scheduler.tick(clock.now())) for scheduler in schedulers]
            print(f"{clock.now():%H:%M}: records per scheduler {fired}")
        print("records:", (await service.stats()).total)


if __name__ == "__main__":
    anyio.run(main)
