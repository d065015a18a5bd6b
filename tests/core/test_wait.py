"""TaskResult.wait() takes the record wait_for_finish hands back, and reads only after a None."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import MemoryQueueBackend, QueueService, TaskNotFoundError, TaskRegistry, task
from litestar_queues.models import RecordQuery
from tests.core._support import make_config

if TYPE_CHECKING:
    from uuid import UUID

    from litestar_queues.models import TaskRecord

pytestmark = pytest.mark.anyio


class CountingBackend(MemoryQueueBackend):
    """Counts reads by id and waits."""

    __slots__ = ("gets", "waits")

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.waits = 0

    async def get(self, task_id: UUID) -> TaskRecord | None:
        self.gets += 1
        return await super().get(task_id)

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        self.waits += 1
        return await super().wait_for_finish(task_id, timeout)


class ReturnsNothing(CountingBackend):
    """A backend written before wait_for_finish returned anything: it returns None after a wake-up."""

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        await super().wait_for_finish(task_id, timeout)
        return None


class ReturnsTheRecordItSaw(CountingBackend):
    """Breaks the port: returns the record as it was when the wait began."""

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        seen = self._records.get(task_id)
        await super().wait_for_finish(task_id, timeout)
        return seen


@pytest.fixture
def job(registry: TaskRegistry) -> Any:
    @task("wait.job", registry=registry)
    async def job(x: int) -> int:
        return x

    return job


async def _cancel_while_waiting(service: QueueService, job: Any, timeout: float | None = 30) -> Any:
    handle = await service.enqueue(job, 1)

    async def cancel_later() -> None:
        await anyio.sleep(0.05)
        await service.cancel(handle.id)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_later)
            await handle.wait(timeout=timeout)
    return handle


async def test_the_handed_record_needs_no_read(registry: TaskRegistry, job: Any) -> None:
    backend = CountingBackend()
    async with QueueService(make_config(registry, queue_backend=backend)) as service:
        before = backend.gets
        handle = await _cancel_while_waiting(service, job)
        assert handle.status == "cancelled"
        assert handle.record == await service.backend.get(handle.id)
        assert (backend.gets - 1 - before, backend.waits) == (0, 1)


async def test_a_terminal_record_comes_from_the_look(registry: TaskRegistry, job: Any) -> None:
    backend = CountingBackend()
    async with QueueService(make_config(registry, queue_backend=backend)) as service:
        handle = await service.enqueue(job, 1)
        await service.cancel(handle.id)
        before = backend.gets
        assert (await handle.wait()).status == "cancelled"
        assert (backend.gets - before, backend.waits) == (0, 1)


@pytest.mark.parametrize("backend_class", [ReturnsNothing, ReturnsTheRecordItSaw])
async def test_without_a_terminal_record_it_reads(
    registry: TaskRegistry, job: Any, backend_class: type[CountingBackend]
) -> None:
    backend = backend_class()
    async with QueueService(make_config(registry, queue_backend=backend)) as service:
        before = backend.gets
        handle = await _cancel_while_waiting(service, job)
        assert handle.status == "cancelled"
        assert backend.gets - before == 1


async def test_a_record_deleted_while_waited_raises(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(job, 1)

        async def delete_later() -> None:
            await anyio.sleep(0.05)
            assert await service.backend.delete(RecordQuery()) == [handle.id]

        with anyio.fail_after(3):  # woken by the delete, not by the safety re-read
            async with anyio.create_task_group() as tg:
                tg.start_soon(delete_later)
                with pytest.raises(TaskNotFoundError):
                    await handle.wait(timeout=60)


async def test_no_time_left_reads_once_without_waiting(registry: TaskRegistry, job: Any) -> None:
    backend = CountingBackend()
    async with QueueService(make_config(registry, queue_backend=backend)) as service:
        handle = await service.enqueue(job, 1)
        before = backend.gets
        with pytest.raises(TimeoutError):
            await handle.wait(timeout=0)
        assert (backend.gets - before, backend.waits) == (1, 0)
