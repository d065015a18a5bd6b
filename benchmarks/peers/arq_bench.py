"""arq (Redis): one-by-one ``enqueue_job``; arq has no batch API. Default worker settings."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

import bench_signal
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import default_queue_name
from arq.worker import Worker

BATCH = False


async def noop(ctx: Any, i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    return {"arq": version("arq"), "redis": version("redis")}


async def setup(url: str) -> None:
    return None


class Client:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def enqueue(self, i: int) -> None:
        await self.pool.enqueue_job("noop", i)

    async def outstanding(self) -> int:
        # a job leaves the queue sorted set when its worker finishes it
        return int(await self.pool.zcard(default_queue_name))

    async def close(self) -> None:
        await self.pool.aclose()


async def open_client(url: str) -> Client:
    return Client(await create_pool(RedisSettings.from_dsn(url)))


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = Worker(functions=[noop], redis_settings=RedisSettings.from_dsn(url), max_jobs=concurrency)
    ready()
    worker.run()  # handles SIGTERM/SIGINT itself
