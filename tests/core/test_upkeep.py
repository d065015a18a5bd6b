"""Retention, purge and pause / resume through the service and the worker (issue 16)."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from litestar_queues import (
    MemoryQueueBackend,
    QueueConfig,
    QueueConfigurationError,
    QueueService,
    Retention,
    TaskCall,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.retention import RETENTION_DUTY
from litestar_queues.testing import ManualClock

pytestmark = pytest.mark.anyio

registry = TaskRegistry()


@task("upkeep.ok", registry=registry)
async def ok(n: int) -> int:
    return n


@task("upkeep.boom", registry=registry, retries=0)
async def boom() -> None:
    raise ValueError("boom")


def _config(clock: ManualClock, **changes: object) -> QueueConfig:
    return QueueConfig(
        queue_backend=MemoryQueueBackend(),
        registry=registry,
        clock=clock,
        worker=WorkerConfig(concurrency=4, poll_interval=0.05, worker_id="w"),
        **changes,  # type: ignore[arg-type]
    )


async def _drain(service: QueueService) -> None:
    async with service.worker() as worker:
        with anyio.fail_after(10):
            while (await service.stats()).count("pending") + (await service.stats()).count("running"):
                await anyio.sleep(0.01)
        worker.stop()


async def test_prune_keeps_each_status_for_its_own_age() -> None:
    """Completed records go after a day, failed ones after seven, by the record's finish time."""
    clock = ManualClock()
    # the workers' own sweep is off: each prune below is the one that deletes
    async with QueueService(_config(clock, retention=Retention(enabled=False))) as service:
        done = await ok.enqueue(1)
        failed = await boom.enqueue()
        await _drain(service)
        clock.advance(timedelta(days=1, seconds=1).total_seconds())
        recent = await ok.enqueue(2)
        await _drain(service)
        assert await service.prune() == {"completed": 1}
        assert (await service.list_tasks()).tasks  # the rest stays
        ids = {t.id for t in (await service.list_tasks()).tasks}
        assert ids == {failed.id, recent.id}
        assert done.id not in ids
        clock.advance(timedelta(days=6).total_seconds())
        assert await service.prune() == {"completed": 1, "failed": 1}  # recent is old now too
        assert await service.prune() == {}


async def test_prune_deletes_in_batches_until_done() -> None:
    """A sweep goes on until a batch comes back short."""
    clock = ManualClock()
    config = _config(clock, retention=Retention(batch=3, failed=None, enabled=False))
    async with QueueService(config) as service:
        await service.enqueue_many([TaskCall(ok, (n,)) for n in range(10)])
        await _drain(service)
        clock.advance(timedelta(days=2).total_seconds())
        assert await service.prune() == {"completed": 10}
        assert (await service.stats()).total == 0


async def test_one_worker_at_a_time_holds_the_sweep() -> None:
    """Two workers sharing a backend: the second is refused the retention duty while the first holds it."""
    clock = ManualClock()
    backend = MemoryQueueBackend()
    config = QueueConfig(
        queue_backend=backend,
        registry=registry,
        clock=clock,
        retention=Retention(interval=0.05),
        worker=WorkerConfig(concurrency=2, poll_interval=0.05),
    )
    async with QueueService(config) as service:
        await ok.enqueue(1)
        await _drain(service)
        clock.advance(timedelta(days=2).total_seconds())
        async with service.worker(worker_id="a"), service.worker(worker_id="b"):
            with anyio.fail_after(10):
                while (await service.stats()).total:
                    await anyio.sleep(0.01)
            holder = backend._turns[RETENTION_DUTY][0]
            assert holder.split("/")[0] in {"a", "b"}
            # the manual clock stands still: the holder's turn is live, the other worker is refused
            other = "b" if holder.startswith("a/") else "a"
            assert not await backend.take_turn(
                RETENTION_DUTY, holder=other, now=clock.now(), until=clock.later(1)
            )


async def test_a_disabled_sweep_leaves_old_records() -> None:
    clock = ManualClock()
    async with QueueService(_config(clock, retention=Retention(enabled=False))) as service:
        await ok.enqueue(1)
        async with service.worker():
            with anyio.fail_after(10):
                while (await service.stats()).count("completed") == 0:
                    await anyio.sleep(0.01)
            clock.advance(timedelta(days=3).total_seconds())
            await anyio.sleep(0.2)
            assert (await service.stats()).count("completed") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"completed": -1}, "Retention.completed must be more than 0"),
        ({"failed": "7d"}, "Retention.failed must be a timedelta, seconds or None"),
        ({"interval": 0}, "Retention.interval must be seconds > 0"),
        ({"batch": 0}, "Retention.batch must be a whole number"),
    ],
)
def test_bad_retention_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(QueueConfigurationError, match=message):
        Retention(**changes)  # type: ignore[arg-type]


def test_retention_must_be_a_retention() -> None:
    with pytest.raises(QueueConfigurationError, match="retention must be a Retention"):
        QueueConfig(retention={"completed": 60})  # type: ignore[arg-type]


async def test_purge_deletes_by_filter_and_refuses_running_or_nothing() -> None:
    clock = ManualClock()
    async with QueueService(_config(clock)) as service:
        await ok.enqueue(1)
        await boom.enqueue()
        await _drain(service)
        waiting = await ok.using(queue="later").enqueue(3)
        with pytest.raises(QueueConfigurationError, match="cancel them first"):
            await service.purge(statuses=["running", "pending"])
        with pytest.raises(QueueConfigurationError, match="needs the statuses"):
            await service.purge(statuses=[])
        with pytest.raises(QueueConfigurationError, match="unknown status 'done'"):
            await service.purge(statuses=["done"])
        assert (await service.stats()).total == 3  # bad input deleted nothing
        assert await service.purge(statuses=["failed"]) == 1
        assert await service.purge(statuses=["pending"], queues=["default"]) == 0
        assert await service.purge(statuses=["pending"], queues=["later"]) == 1
        assert (await service.stats()).queues == {"default": {"completed": 1}}
        assert (await service.list_tasks(queues=["later"])).tasks == []
        assert waiting.id not in {t.id for t in (await service.list_tasks()).tasks}


async def test_pause_stops_claims_and_resume_restarts_them() -> None:
    clock = ManualClock()
    async with QueueService(_config(clock)) as service:
        await service.pause("default")
        handle = await ok.enqueue(5)
        stats = await service.stats()
        assert stats.paused == {"default"}
        async with service.worker():
            await anyio.sleep(0.3)
            assert (await handle.refresh()).status == "pending"
            await service.resume("default")
            with anyio.fail_after(10):
                assert (await handle.wait(timeout=10)).status == "completed"
        assert await service.paused_queues() == set()
        with pytest.raises(QueueConfigurationError, match="queue name must be a non-empty string"):
            await service.pause("")
