"""Global limits hold across worker processes, on Redis and PostgreSQL (issue 21).

Worker processes run ``litestar-queues worker tests.backends.limits_app:config`` (at concurrency
10 each, the limits written by each worker when it starts). The tasks count themselves in Redis,
outside the queue backend, so what they see is checked, not only what the store says:

* a queue capped at 3, drained by 4 workers (40 slots), never runs more than 3 at once;
* a queue limited to 60 starts a second never starts more than the documented bound allows over
  any window (``60 + 60 * T``), neither by the claim times stored nor by the start times the
  tasks note, and starts close to its rate (``LQ_RATE_SECONDS``, default 10 s: the suite's run;
  ``LQ_RATE_SECONDS=60`` for the full minute);
* a key cap of 1 never runs two tasks of one limit key at once;
* the slots of a SIGKILLed worker come back within one lease (plus the reclaim interval).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import redis.asyncio as aioredis

from litestar_queues import QueueConfig, QueueService, TaskCall
from tests._processes import terminate_all
from tests.backends import limits_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from datetime import datetime

    from tests.servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "litestar-queues"
RATE_SECONDS = float(os.environ.get("LQ_RATE_SECONDS", "10"))


class Workers:
    """Worker subprocesses of ``tests.backends.limits_app:config``."""

    def __init__(self, url: str, counter: str) -> None:
        self.url = url
        self.counter = counter
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *, lease: float = 30.0) -> subprocess.Popen[bytes]:
        command = [str(CLI), "worker", "tests.backends.limits_app:config", "-c", "10", "--log-level", "ERROR"]
        environment = {**os.environ, "LQ_URL": self.url, "LQ_COUNTER": self.counter, "LQ_LEASE": str(lease)}
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        terminate_all(self.processes, timeout=30)


@pytest.fixture(params=["redis_url", "postgres_url"])
def queue_url(request: pytest.FixtureRequest) -> str:
    """A fresh Redis or PostgreSQL backend URL."""
    url: Any = request.getfixturevalue(request.param)
    return str(url)


@pytest.fixture
def workers(queue_url: str, redis_server: RedisServer) -> Iterator[Workers]:
    group = Workers(queue_url, redis_server.url)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
async def counters(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


def _service(url: str) -> QueueService:
    return QueueService(QueueConfig(queue_backend=url, registry=limits_app.registry))


async def _enqueue(
    service: QueueService, queue: str, tag: str, n: int, seconds: float, **options: Any
) -> None:
    task = limits_app.work.using(queue=queue, **options)
    for start in range(0, n, 500):
        await service.enqueue_many(TaskCall(task, (tag, seconds)) for _ in range(min(500, n - start)))


async def _wait_for(counters: aioredis.Redis, key: str, n: int, limit: float) -> None:
    with anyio.fail_after(limit):
        while int(await counters.get(key) or 0) < n:
            await anyio.sleep(0.05)


def _most_in_a_window(times: list[float], rate: int, per: float) -> tuple[int, float, float]:
    """The window that comes closest to the bound: (starts in it, its length, the bound)."""
    times = sorted(times)
    worst = (0, 0.0, 0.0)
    for i in range(len(times)):
        for j in range(i, len(times)):
            length = times[j] - times[i]
            bound = rate + rate * length / per
            if j - i + 1 - bound > worst[0] - worst[2]:
                worst = (j - i + 1, length, bound)
    return worst


async def _started_at(service: QueueService, queue: str) -> list[datetime]:
    times: list[datetime] = []
    cursor = None
    while True:
        page = await service.list_tasks(queues=[queue], newest_first=False, limit=1000, cursor=cursor)
        times += [h.record.started_at for h in page.tasks if h.record.started_at is not None]
        if page.next_cursor is None:
            return times
        cursor = page.next_cursor


async def test_a_capped_queue_never_runs_more_than_its_cap(
    queue_url: str, workers: Workers, counters: aioredis.Redis
) -> None:
    tag = uuid.uuid4().hex
    n = 90
    async with _service(queue_url) as service:
        await _enqueue(service, "capped", tag, n, 0.05)
        for _ in range(4):
            workers.start()
        await _wait_for(counters, f"{tag}:done", n, 120)
        stats = await service.stats()
    assert int(await counters.get(f"{tag}:max") or 0) == 3  # the cap, reached and never passed
    assert stats.queues["capped"] == {"completed": n}
    assert stats.limits["capped"] == limits_app.LIMITS["capped"]  # written by the workers


async def test_a_key_cap_runs_one_task_per_limit_key(
    queue_url: str, workers: Workers, counters: aioredis.Redis
) -> None:
    tag = uuid.uuid4().hex
    async with _service(queue_url) as service:
        for customer in range(3):
            await _enqueue(service, "keyed", f"{tag}:{customer}", 10, 0.05, limit_key=f"customer:{customer}")
        for _ in range(4):
            workers.start()
        for customer in range(3):
            await _wait_for(counters, f"{tag}:{customer}:done", 10, 120)
    peaks = [int(await counters.get(f"{tag}:{customer}:max") or 0) for customer in range(3)]
    assert peaks == [1, 1, 1]


async def test_a_rate_limit_holds_within_its_bound(
    queue_url: str, workers: Workers, counters: aioredis.Redis
) -> None:
    tag = uuid.uuid4().hex
    limit = limits_app.LIMITS["rated"]
    assert limit.rate is not None
    backlog = int(limit.rate * (1 + RATE_SECONDS / limit.per) * 1.5)  # never runs out
    async with _service(queue_url) as service:
        await _enqueue(service, "rated", tag, backlog, 0.0)
        for _ in range(4):
            workers.start()
        await _wait_for(counters, f"{tag}:done", 1, 60)
        first = float((await counters.lindex(f"{tag}:starts", 0)).decode())  # type: ignore[misc]
        await anyio.sleep(max(0.0, first + RATE_SECONDS - time.time()))
        workers.stop_all()
        stored = sorted(await _started_at(service, "rated"))
    noted = sorted(float(t.decode()) for t in await counters.lrange(f"{tag}:starts", 0, -1))  # type: ignore[misc]
    # the claim times the buckets counted: never past the bound, over any window
    origin = stored[0]
    seconds = [(t - origin) / timedelta(seconds=1) for t in stored]
    starts, length, bound = _most_in_a_window(seconds, limit.rate, limit.per)
    assert starts <= bound + 1e-6, f"{starts} starts in {length:.3f} s, the bound is {bound:.1f}"
    # what the tasks saw: their start follows the claim by a few milliseconds, more or less
    starts, length, bound = _most_in_a_window([t - noted[0] for t in noted], limit.rate, limit.per)
    slack = limit.rate * 0.25 / limit.per  # 250 ms of start jitter between processes
    assert starts <= bound + slack, f"tasks saw {starts} starts in {length:.3f} s, the bound is {bound:.1f}"
    # and the queue ran near its rate: a full bucket, then 60 a second
    in_run = sum(1 for s in seconds if s <= RATE_SECONDS)
    nominal = limit.rate + limit.rate * RATE_SECONDS / limit.per
    assert in_run >= 0.6 * nominal, f"{in_run} starts in {RATE_SECONDS:g} s, nominally {nominal:.0f}"
    print(f"\n{queue_url.split(':')[0]}: {in_run} starts in {RATE_SECONDS:g} s (bound {nominal:.0f})")


async def test_a_killed_worker_s_slots_come_back_within_one_lease(
    queue_url: str, workers: Workers, counters: aioredis.Redis
) -> None:
    tag = uuid.uuid4().hex
    lease = 2.0
    async with _service(queue_url) as service:
        await _enqueue(service, "capped", tag, 6, 30.0)
        victim = workers.start(lease=lease)
        with anyio.fail_after(60):
            while await counters.llen(f"{tag}:starts") < 3:  # type: ignore[misc]
                await anyio.sleep(0.05)
        workers.start(lease=lease)
        with anyio.fail_after(60):
            while len(await service.workers()) < 2:
                await anyio.sleep(0.05)
        await anyio.sleep(lease)  # the survivor claims again and again: the cap holds it back
        assert await counters.llen(f"{tag}:starts") == 3  # type: ignore[misc]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.monotonic()
        with anyio.fail_after(30):
            while await counters.llen(f"{tag}:starts") < 6:  # type: ignore[misc]
                await anyio.sleep(0.02)
        took = time.monotonic() - killed
        stats = await service.stats()
    reclaim_interval = lease / 6  # WorkerConfig's default
    assert took <= lease + reclaim_interval + 1.0, f"the slots came back {took:.2f} s after the kill"
    assert stats.queues["capped"].get("running") == 3
    print(f"\n{queue_url.split(':')[0]}: the killed worker's 3 slots came back {took:.2f} s after SIGKILL")
