"""This workspace's litestar-queues (Redis, PostgreSQL or SQLite backend, chosen by URL scheme).

Batch API: ``QueueService.enqueue_many`` (one backend round trip per chunk); one by one:
``QueueService.enqueue``. Worker: ``service.worker(concurrency=N).run()`` in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import bench_signal
from _observers import bench_observers

from litestar_queues import QueueConfig, QueueService, TaskCall, WorkerConfig, task

BATCH = True
ACTIVE = ("pending", "scheduled", "running")


@task("bench.noop")
async def noop(i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    url = os.environ.get("BENCH_URL", "")
    names = ["litestar-queues"]
    names += (
        ["litestar-queues-redis", "redis"]
        if url.startswith("redis")
        else ["litestar-queues-sql", "sqlalchemy"]
    )
    names += ["asyncpg"] if url.startswith("postgres") else ["aiosqlite"] if url.startswith("sqlite") else []
    found = {}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def make_config(url: str, concurrency: int = 10) -> QueueConfig:
    observed = os.environ.get("BENCH_OBSERVED", "")  # run.py --observed: _observers.py's modes
    observers = bench_observers(observed) if observed else []
    return QueueConfig(queue_backend=url, worker=WorkerConfig(concurrency=concurrency), observers=observers)


async def setup(url: str) -> None:
    if url.startswith(("postgresql", "sqlite")):
        from litestar_queues_sql import create_schema

        await create_schema(url)


class Client:
    def __init__(self, service: QueueService) -> None:
        self.service = service

    async def enqueue(self, i: int) -> None:
        await self.service.enqueue(noop, i)

    async def enqueue_batch(self, ids: list[int]) -> None:
        await self.service.enqueue_many([TaskCall(noop, (i,)) for i in ids])

    async def outstanding(self) -> int:
        stats = await self.service.stats()
        return sum(stats.count(status) for status in ACTIVE)

    async def close(self) -> None:
        await self.service.close()


async def open_client(url: str) -> Client:
    service = QueueService(make_config(url))
    await service.open()
    return Client(service)


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    async def main() -> None:
        # building the service imports the backend (entry point); peers import theirs at module
        # import, so this happens before ready() too. Nothing connects before open().
        service = QueueService(make_config(url, concurrency))
        ready()
        async with service:
            await service.worker(concurrency=concurrency).run()  # drains on SIGTERM

    asyncio.run(main())
