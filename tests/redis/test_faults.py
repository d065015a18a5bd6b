"""Fault injection with real worker processes: SIGKILL, many workers, a Redis restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
import redis.asyncio as aioredis

from litestar_queues import BackendUnavailableError, QueueConfig, QueueService, TaskCall
from tests._presence import check_kill_and_stop
from tests._processes import terminate_all
from tests.redis import worker_app

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterator

    from tests.servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "litestar-queues"


class Workers:
    """Worker subprocesses running ``litestar-queues worker tests.redis.worker_app:config``."""

    def __init__(self, url: str, lease: float) -> None:
        self.url = url
        self.lease = lease
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 10) -> subprocess.Popen[bytes]:
        command = [str(CLI), "worker", "tests.redis.worker_app:config", "-c", str(concurrency)]
        process = subprocess.Popen(
            [*command, "--log-level", "ERROR"],
            cwd=ROOT,
            env={**os.environ, "LQ_REDIS_URL": self.url, "LQ_LEASE": str(self.lease)},
            stdout=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        terminate_all(self.processes, timeout=20)


@pytest.fixture
def workers(redis_url: str) -> Iterator[Workers]:
    group = Workers(redis_url, lease=2.0)
    try:
        yield group
    finally:
        group.stop_all()


async def wait_until_completed(service: QueueService, n: int, limit: float = 90) -> None:
    with anyio.fail_after(limit):
        while (await service.stats()).count("completed") < n:
            await anyio.sleep(0.1)


async def test_a_killed_worker_leaves_the_list_at_its_expiry_a_stopped_one_at_once(redis_url: str) -> None:
    group = Workers(redis_url, lease=4.0)
    try:
        killed, stopped = group.start(), group.start()
        async with QueueService(
            QueueConfig(queue_backend=redis_url, registry=worker_app.registry)
        ) as service:
            await check_kill_and_stop(service, killed, stopped, lease=4)
    finally:
        group.stop_all()


async def test_tasks_of_a_killed_worker_complete_elsewhere(redis_url: str, workers: Workers) -> None:
    tag = "kill"
    raw = aioredis.Redis.from_url(redis_url.split("?", 1)[0])
    async with QueueService(QueueConfig(queue_backend=redis_url, registry=worker_app.registry)) as service:
        handles = await service.enqueue_many(TaskCall(worker_app.count, (tag, 1.0)) for _ in range(12))
        victim = workers.start(concurrency=4)
        with anyio.fail_after(60):
            while await raw.hlen(f"{tag}:started") < 4:
                await anyio.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        held = (await service.stats()).count("running")
        assert held > 0  # the killed worker's tasks are stuck under its leases...
        workers.start(concurrency=4)
        await wait_until_completed(service, 12)  # ...until they expire and another worker runs them
        records = [(await h.refresh()).record for h in handles]
    assert all(r.status == "completed" for r in records)
    executions = await raw.hgetall(f"{tag}:executions")
    assert sorted(k.decode() for k in executions) == sorted(str(h.id) for h in handles)
    # the killed worker's tasks were reclaimed (attempt not counted) and run again
    reclaimed = [r for r in records if r.reclaims >= 1]
    assert len(reclaimed) >= held
    # runs counts claims: a reclaimed record may be claimed and given back uncounted before it runs
    # alone (reclaim isolation, docs/workers.md)
    assert all(r.runs >= r.reclaims + 1 and r.attempts == 1 for r in records)
    await raw.aclose()


@pytest.mark.timeout(300)  # about 10 s on a quiet 2-core machine, a minute under heavy load
async def test_ten_thousand_tasks_over_four_workers_run_exactly_once(
    redis_url: str, workers: Workers
) -> None:
    tag = "many"
    n = 10_000
    workers.lease = 30.0  # no worker dies here: a lease that outlasts any scheduling hiccup
    for _ in range(4):
        workers.start()
    raw = aioredis.Redis.from_url(redis_url.split("?", 1)[0])
    async with QueueService(QueueConfig(queue_backend=redis_url, registry=worker_app.registry)) as service:
        ids: list[uuid.UUID] = []
        for _ in range(n // 1000):
            handles = await service.enqueue_many(TaskCall(worker_app.count, (tag,)) for _ in range(1000))
            ids += [h.id for h in handles]
        await wait_until_completed(service, n, limit=240)
        stats = await service.stats()
    workers.stop_all()
    assert stats.queues == {"default": {"completed": n}}
    executions = await raw.hgetall(f"{tag}:executions")
    assert len(executions) == n
    assert {k.decode() for k in executions} == {str(i) for i in ids}
    assert set(executions.values()) == {b"1"}
    await raw.aclose()


async def test_workers_survive_a_redis_restart_and_no_acknowledged_enqueue_is_lost(
    redis_server: RedisServer, redis_url: str, workers: Workers
) -> None:
    tag = "restart"
    for _ in range(2):
        workers.start()
    acknowledged: list[uuid.UUID] = []
    refused = 0
    async with QueueService(QueueConfig(queue_backend=redis_url, registry=worker_app.registry)) as service:
        for i in range(300):
            if i == 100:
                redis_server.restart()  # SIGKILL, then start again from the AOF
            try:
                handle = await service.enqueue(worker_app.count, tag)
            except BackendUnavailableError:
                refused += 1
                continue
            acknowledged.append(handle.id)
            if i % 20 == 0:
                await anyio.sleep(0.05)
        with anyio.fail_after(90):
            while True:
                try:
                    records = [await service.backend.get(task_id) for task_id in acknowledged]
                except BackendUnavailableError:
                    await anyio.sleep(0.2)
                    continue
                if all(r is not None and r.status == "completed" for r in records):
                    break
                await anyio.sleep(0.2)
    assert len(acknowledged) + refused == 300
    assert len(acknowledged) >= 200
    raw = aioredis.Redis.from_url(redis_url.split("?", 1)[0])
    executions = await raw.hgetall(f"{tag}:executions")
    assert {str(i) for i in acknowledged} <= {k.decode() for k in executions}
    await raw.aclose()
