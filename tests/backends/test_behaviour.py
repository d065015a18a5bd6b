"""Every behaviour of the core's API, on every backend (memory, Redis, PostgreSQL, SQLite)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import anyio
import pytest

from litestar_queues import (
    Backoff,
    MemoryQueueBackend,
    Outcome,
    QueueBackend,
    QueueConfig,
    QueueService,
    TaskCall,
    TaskNotFoundError,
    TaskRegistry,
    WorkerConfig,
    non_retryable,
    task,
)
from litestar_queues.events import InMemoryQueueEventSink, QueueEventConfig

pytestmark = pytest.mark.anyio

registry = TaskRegistry()
order: list[str] = []
calls: dict[str, int] = {}
release_gate: dict[str, anyio.Event] = {}


@task("xb.add", registry=registry)
async def add(a: int, b: int) -> int:
    return a + b


@task("xb.sync_mul", registry=registry)
def sync_mul(a: int, b: int) -> int:
    return a * b


@task("xb.record_order", registry=registry)
async def record_order(label: str) -> str:
    order.append(label)
    return label


@task("xb.flaky", registry=registry, retries=2, backoff=Backoff(initial=0.01, jitter=0))
async def flaky(name: str, fail_times: int) -> int:
    calls[name] = calls.get(name, 0) + 1
    if calls[name] <= fail_times:
        raise RuntimeError(f"failure {calls[name]}")
    return calls[name]


@task("xb.reject", registry=registry, retries=3)
async def reject() -> None:
    non_retryable("bad input")


@task("xb.slow", registry=registry)
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "done"


@task("xb.context", registry=registry)
async def context_task(_job_id: object, _task_context: Any) -> str:
    await _task_context.progress(1, 2, message="half")
    return str(_job_id)


def make_config(url: str, **worker: Any) -> QueueConfig:
    settings: dict[str, Any] = {"concurrency": 4, "poll_interval": 0.05, "shutdown_grace": 5.0}
    settings.update(worker)
    return QueueConfig(queue_backend=url, registry=registry, worker=WorkerConfig(**settings))


async def test_enqueue_run_and_wait(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service, service.worker():
        first = await service.enqueue(add, 2, 3)
        second = await service.enqueue(sync_mul, a=4, b=5)
        assert (await first.wait(20)).result == 5
        assert (await second.wait(20)).result == 20
        assert first.status == "completed"
        assert first.record.attempts == 1
        assert first.record.finished_at is not None


async def test_retries_then_success_and_exhaustion(backend_url: str) -> None:
    name_ok, name_bad = uuid.uuid4().hex, uuid.uuid4().hex
    async with QueueService(make_config(backend_url)) as service, service.worker():
        ok = await service.enqueue(flaky, name_ok, 2)
        bad = await service.enqueue(flaky, name_bad, 10)
        await ok.wait(20)
        await bad.wait(20)
    assert ok.status == "completed" and ok.result == 3 and ok.record.attempts == 3
    assert bad.status == "failed" and calls[name_bad] == 3 and bad.record.attempts == 3
    assert bad.error is not None and "failure 3" in bad.error


async def test_non_retryable_fails_at_once(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service, service.worker():
        handle = await (await service.enqueue(reject)).wait(20)
    assert handle.status == "failed"
    assert handle.record.attempts == 1
    assert handle.error == "NonRetryableError: bad input"


async def test_timeout_counts_as_failed_attempt(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service, service.worker():
        handle = await (await service.enqueue(slow, 30, timeout=0.2)).wait(20)
    assert handle.status == "failed"
    assert handle.error is not None and "timed out" in handle.error


async def test_priority_then_fifo(backend_url: str) -> None:
    order.clear()
    labels = [("low-1", 0), ("high-1", 5), ("low-2", 0), ("high-2", 5), ("mid", 3)]
    async with QueueService(make_config(backend_url, concurrency=1)) as service:
        handles = [await service.enqueue(record_order, label, priority=p) for label, p in labels]
        async with service.worker():
            for handle in handles:
                await handle.wait(20)
    assert order == ["high-1", "high-2", "mid", "low-1", "low-2"]


async def test_dedup_key_returns_active_record_then_allows_new(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service:
        first = await service.enqueue(add, 1, 1, key="sum:1")
        again = await service.enqueue(add, 1, 1, key="sum:1")
        assert again.id == first.id and not again.created
        async with service.worker():
            await first.wait(20)
        after = await service.enqueue(add, 1, 1, key="sum:1")
        assert after.id != first.id and after.created


async def test_run_after_delays_the_task(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service, service.worker():
        handle = await service.enqueue(add, 1, 2, run_after=0.5)
        assert handle.status == "scheduled"
        await anyio.sleep(0.2)
        assert (await handle.refresh()).status == "scheduled"
        await handle.wait(20)
    assert handle.status == "completed"
    assert handle.record.started_at is not None and handle.record.started_at >= handle.record.run_at


async def test_cancel_pending_and_running(backend_url: str) -> None:
    config = make_config(backend_url, lease_seconds=1.5, heartbeat_interval=0.1)
    async with QueueService(config) as service:
        pending = await service.enqueue(add, 1, 1, run_after=60)
        cancelled = await service.cancel(pending.id)
        assert cancelled.status == "cancelled"
        async with service.worker():
            running = await service.enqueue(slow, 30)
            with anyio.fail_after(20):
                while (await running.refresh()).status != "running":
                    await anyio.sleep(0.02)
            await service.cancel(running.id)
            await running.wait(20)
        assert running.status == "cancelled"


async def test_get_task_unknown_raises(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service:
        with pytest.raises(TaskNotFoundError):
            await service.get_task(uuid.uuid4())


async def test_enqueue_many_and_stats(backend_url: str) -> None:
    async with QueueService(make_config(backend_url)) as service:
        handles = await service.enqueue_many([TaskCall(add, (i, i)) for i in range(20)])
        assert len({h.id for h in handles}) == 20
        stats = await service.stats()
        assert stats.count("pending", "default") == 20
        async with service.worker():
            results = [(await h.wait(20)).result for h in handles]
        assert results == [2 * i for i in range(20)]
        assert (await service.stats()).count("completed", "default") == 20


async def test_context_injection_and_events(backend_url: str) -> None:
    sink = InMemoryQueueEventSink()
    config = make_config(backend_url)
    config.event_config = QueueEventConfig(enabled=True, sink=sink)
    async with QueueService(config) as service, service.worker():
        handle = await (await service.enqueue(context_task)).wait(20)
    assert handle.result == str(handle.id)
    events = sink.for_task(handle.id)
    assert [e.type for e in events] == ["task.started", "task.progress", "task.completed"]
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})
    assert events[1].progress_percent == 50.0


async def test_unregistered_task_is_failed_and_worker_goes_on(backend_url: str) -> None:
    other = TaskRegistry()

    @task("xb.only_in_web_process", registry=other)
    async def only_here() -> None:
        return None

    # the memory backend is private to one process: both services share one instance instead of a URL
    shared: QueueBackend | str = MemoryQueueBackend() if backend_url == "memory://" else backend_url
    async with QueueService(QueueConfig(queue_backend=shared, registry=other)) as web:
        unknown = await web.enqueue(only_here)
    worker_config = make_config(backend_url)
    worker_config.queue_backend = shared
    async with QueueService(worker_config) as worker_side, worker_side.worker():
        handle = await (await worker_side.get_task(unknown.id)).wait(20)
        assert handle.status == "failed"
        assert handle.error is not None and "xb.only_in_web_process" in handle.error
        follow_up = await worker_side.enqueue(add, 2, 2)
        assert (await follow_up.wait(20)).result == 4


async def test_graceful_shutdown_releases_unfinished_tasks(backend_url: str) -> None:
    async with QueueService(make_config(backend_url, shutdown_grace=0.2)) as service:
        quick = await service.enqueue(slow, 0.05)
        long = await service.enqueue(slow, 60)
        async with service.worker():
            with anyio.fail_after(20):
                while (await long.refresh()).status != "running":
                    await anyio.sleep(0.02)
            await quick.wait(20)
        await long.refresh()
        assert long.status == "pending"
        assert long.record.attempts == 0
        assert quick.status == "completed"


async def test_expired_lease_is_reclaimed_and_late_outcome_rejected(backend_url: str) -> None:
    """A worker whose heartbeat stops loses the task; another worker finishes it exactly once."""
    config = make_config(backend_url, lease_seconds=0.6, heartbeat_interval=0.5, reclaim_interval=0.1)
    async with QueueService(config) as service:
        handle = await service.enqueue(add, 20, 22)
        now = config.clock.now()
        (claimed,) = await service.backend.claim(
            queues=None, worker_id="dead-worker", limit=1, now=now, lease_until=now + timedelta(seconds=0.3)
        )
        assert claimed.id == handle.id
        async with service.worker():
            await handle.wait(20)
        assert handle.status == "completed" and handle.result == 42
        assert handle.record.reclaims == 1 and handle.record.attempts == 1
        late = Outcome(task_id=claimed.id, lease_id=claimed.lease_id or "", kind="complete", result=0)
        assert await service.backend.finish([late], now=config.clock.now()) == [None]
        assert (await handle.refresh()).result == 42
