"""Worker presence (service.workers) and finished counts (service.finished_counts) on the memory backend."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import (
    BackendUnavailableError,
    MemoryQueueBackend,
    QueueConfigurationError,
    QueueService,
    TaskRegistry,
    WorkerInfo,
    task,
)
from litestar_queues._presence import PRESENCE_BEATS
from tests.core._support import START, ManualClock, fast_worker, make_config, wait_until

if TYPE_CHECKING:
    from litestar_queues.models import WorkerInfo as Info

pytestmark = pytest.mark.anyio

BEAT = 0.05


async def _only(service: QueueService) -> Info | None:
    workers = await service.workers()
    assert len(workers) <= 1
    return workers[0] if workers else None


async def test_a_worker_records_itself_at_start_and_at_each_heartbeat(registry: TaskRegistry) -> None:
    release = anyio.Event()

    @task("p.wait", registry=registry)
    async def wait() -> None:
        await release.wait()

    config = make_config(registry, worker=fast_worker(heartbeat_interval=BEAT, concurrency=3))
    async with QueueService(config) as service:
        assert await service.workers() == []
        async with service.worker(worker_id="w-presence", queues=["a", "default"]):
            await wait_until(lambda: _listed(service))
            first = await _only(service)
            assert first is not None
            assert (first.worker_id, first.hostname, first.pid) == (
                "w-presence",
                socket.gethostname(),
                os.getpid(),
            )
            assert (first.queues, first.concurrency, first.running, first.stopping) == (
                ("a", "default"),
                3,
                0,
                False,
            )
            assert first.expires_at - first.seen_at == timedelta(seconds=PRESENCE_BEATS * BEAT)
            await service.enqueue(wait)

            async def busy() -> bool:
                info = await _only(service)
                return info is not None and info.running == 1 and info.seen_at > first.seen_at

            await wait_until(busy)  # the next heartbeat told how many tasks run
            later = await _only(service)
            assert later is not None and later.started_at == first.started_at
            release.set()


async def _listed(service: QueueService) -> bool:
    return bool(await service.workers())


async def test_a_draining_worker_is_stopping_and_gone_at_once_after_a_clean_stop(
    registry: TaskRegistry,
) -> None:
    started, release = anyio.Event(), anyio.Event()

    @task("p.drain", registry=registry)
    async def drain() -> str:
        started.set()
        await release.wait()
        return "done"

    config = make_config(registry, worker=fast_worker(heartbeat_interval=BEAT, shutdown_grace=30))
    async with QueueService(config) as service:
        async with service.worker() as worker:
            handle = await service.enqueue(drain)
            await started.wait()
            worker.stop()

            async def stopping() -> bool:
                info = await _only(service)
                return info is not None and info.stopping and info.running == 1

            await wait_until(stopping)
            release.set()
            await worker.wait_stopped()
            # forgotten on the clean stop, long before the presence would have expired
            assert await service.backend.live_workers(now=service.config.clock.now()) == []
        assert (await handle.refresh()).status == "completed"


class _PresenceDown(MemoryQueueBackend):
    """A memory backend whose presence writes fail until ``up`` is set (a real backend, a fault injected)."""

    up = False

    async def record_worker(self, info: WorkerInfo) -> None:
        if not self.up:
            raise BackendUnavailableError("presence table unreachable")
        await super().record_worker(info)


async def test_a_presence_failure_is_logged_once_and_never_stops_the_worker(
    registry: TaskRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @task("p.add", registry=registry)
    async def add(a: int, b: int) -> int:
        return a + b

    backend = _PresenceDown()
    config = make_config(registry, queue_backend=backend, worker=fast_worker(heartbeat_interval=BEAT))
    with caplog.at_level(logging.DEBUG, logger="litestar_queues.worker"):
        async with QueueService(config) as service, service.worker():
            handle = await service.enqueue(add, 2, 3)
            assert (await handle.wait(timeout=10)).result == 5
            await anyio.sleep(BEAT * 5)  # several heartbeats fail meanwhile
            assert await service.workers() == []
            backend.up = True
            await wait_until(lambda: _listed(service))
    failures = [r for r in caplog.records if "could not record its presence" in r.getMessage()]
    assert [r.levelno for r in failures[:2]] == [logging.WARNING, logging.DEBUG]
    assert sum(r.levelno == logging.WARNING for r in failures) == 1
    assert any("records its presence again" in r.getMessage() for r in caplog.records)


def _info(worker_id: str, *, ttl: float, **fields: Any) -> WorkerInfo:
    values: dict[str, Any] = {
        "worker_id": worker_id,
        "hostname": "h",
        "pid": 1,
        "queues": None,
        "concurrency": 1,
        "started_at": START,
        "seen_at": START,
        "expires_at": START + timedelta(seconds=ttl),
        "running": 0,
    }
    values.update(fields)
    return WorkerInfo(**values)


async def test_workers_are_the_live_ones_by_the_configured_clock(registry: TaskRegistry) -> None:
    clock = ManualClock()
    async with QueueService(make_config(registry, clock=clock)) as service:
        await service.backend.record_worker(_info("b", ttl=30))
        await service.backend.record_worker(_info("a", ttl=10))
        assert [w.worker_id for w in await service.workers()] == ["a", "b"]
        clock.advance(10)
        assert [w.worker_id for w in await service.workers()] == ["b"]
        clock.advance(20)
        assert await service.workers() == []


async def test_finished_counts_cover_the_last_hour_by_default(registry: TaskRegistry) -> None:
    @task("p.ok", registry=registry)
    async def ok() -> None:
        return None

    @task("p.boom", retries=0, registry=registry)
    async def boom() -> None:
        raise RuntimeError("boom")

    clock = ManualClock()
    async with QueueService(make_config(registry, clock=clock)) as service:
        async with service.worker():
            for handle in [await service.enqueue(ok), await service.enqueue(boom, queue="mail")]:
                await handle.wait(timeout=10)
            clock.advance(30 * 60)
            cancelled = await service.enqueue(ok, run_after=3600)
            await service.cancel(cancelled.id)
            await (await service.enqueue(ok)).wait(timeout=10)
        assert await service.finished_counts() == {
            "default": {"completed": 2, "cancelled": 1},
            "mail": {"failed": 1},
        }
        clock.advance(45 * 60)  # the first two finished 75 minutes ago now
        assert await service.finished_counts() == {"default": {"completed": 1, "cancelled": 1}}
        assert await service.finished_counts(window=timedelta(hours=2)) == {
            "default": {"completed": 2, "cancelled": 1},
            "mail": {"failed": 1},
        }
        assert await service.finished_counts(since=START) == await service.finished_counts(
            window=timedelta(days=1)
        )
        assert await service.finished_counts(since=clock.now()) == {}


async def test_finished_counts_refuse_a_naive_since_or_an_empty_window(registry: TaskRegistry) -> None:
    async with QueueService(make_config(registry)) as service:
        with pytest.raises(QueueConfigurationError, match="timezone-aware"):
            await service.finished_counts(since=START.replace(tzinfo=None))
        for window in (timedelta(0), timedelta(seconds=-1)):
            with pytest.raises(QueueConfigurationError, match="positive timedelta"):
                await service.finished_counts(window=window)
