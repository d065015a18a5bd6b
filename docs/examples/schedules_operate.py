"""Operating schedules from code: list, pause, resume, delete a removed one (docs/schedules.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio

from litestar_queues import MemoryQueueBackend, QueueConfig, QueueService, Schedule, TaskRegistry, task
from litestar_queues.testing import ManualClock

registry = TaskRegistry()


@task("crm.sync", registry=registry, interval=3600)
async def sync() -> None:
    """Hourly."""


@task("files.cleanup", registry=registry)
async def cleanup() -> None:
    """Was scheduled nightly by the last release."""


clock = ManualClock(datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
store = MemoryQueueBackend()
nightly_cleanup = Schedule(name="old.cleanup", task="files.cleanup", cron="0 4 * * *")
last_release = QueueConfig(queue_backend=store, registry=registry, clock=clock, schedules=[nightly_cleanup])
this_release = QueueConfig(queue_backend=store, registry=registry, clock=clock)  # the cleanup is gone


async def main() -> None:
    async with QueueService(last_release) as old:
        await old.scheduler().tick(clock.now())  # stored both schedules

    async with QueueService(this_release) as service:
        await service.pause_schedule("crm.sync")  # every process's scheduler lets it pass
        clock.advance(3600)
        await service.scheduler().tick(clock.now())  # 01:00 passes without a record
        for info in await service.schedules():
            print(f"{info.name}: {info.status}, last fire {info.last_fire}, next {info.next_fire:%H:%M}")

        resumed = await service.resume_schedule("crm.sync")  # from its next due time, no catching up
        print(f"{resumed.name}: {resumed.status}, next {resumed.next_fire:%H:%M}")
        await service.delete_schedule("old.cleanup")  # removed ones only, unless force=True
        print([info.name for info in await service.schedules()])


if __name__ == "__main__":
    anyio.run(main)
