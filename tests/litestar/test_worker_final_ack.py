"""Regression: an outcome the ack loop has in flight when the worker stops is not lost.

``litestar queues worker`` exits on SIGTERM after its final flush of outcomes. The ack loop may
be inside ``backend.finish`` at that moment; the final flush must wait for that call instead of
finding nothing to flush and cancelling it (the record would stay ``running`` until its lease
expired, and the task would run again). The backend below holds its first ``finish`` call until
the test releases it (fault injection around the real memory backend).
"""

from collections.abc import Sequence
from datetime import datetime

import anyio
import pytest

from litestar_queues import MemoryQueueBackend, Outcome, QueueConfig, QueueService, TaskRecord, task

pytestmark = pytest.mark.anyio


class SlowFirstFinish(MemoryQueueBackend):
    def __init__(self) -> None:
        super().__init__()
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[TaskRecord | None]:
        if not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
        return await super().finish(outcomes, now=now)


@task("lt.worker.quick")
async def quick() -> str:
    return "done"


async def test_outcome_in_flight_at_stop_is_applied() -> None:
    backend = SlowFirstFinish()
    async with QueueService(QueueConfig(queue_backend=backend)) as service:
        handle = await service.enqueue(quick)
        async with anyio.create_task_group() as tg, service.worker(poll_interval=0.05):
            await backend.entered.wait()  # the ack loop is inside finish()

            async def release_later() -> None:
                for _ in range(20):  # let the worker reach its final flush first
                    await anyio.lowlevel.checkpoint()
                backend.release.set()

            tg.start_soon(release_later)
        # the worker has stopped (and drained)
        await handle.refresh()
        assert handle.status == "completed"
        assert handle.result == "done"
