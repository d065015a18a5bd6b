"""taskiq with taskiq-redis's ``RedisStreamBroker``: the taskiq-redis broker with acknowledgements
(a consumer group; a message is acked after the task ran), so a dead worker loses nothing.
``ListQueueBroker`` (BRPOP, no ack) is faster but at-most-once, so it is not the one compared.
One-by-one ``kiq``; taskiq has no batch API. No result backend (the default).
"""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import bench_signal
from redis.asyncio import Redis
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

BATCH = False
QUEUE = "taskiq"
GROUP = "taskiq"

broker = RedisStreamBroker(os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0"), queue_name=QUEUE)


@broker.task(task_name="noop")
async def noop(i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    return {"taskiq": version("taskiq"), "taskiq-redis": version("taskiq-redis"), "redis": version("redis")}


async def setup(url: str) -> None:
    return None


class Client:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def enqueue(self, i: int) -> None:
        await noop.kiq(i)

    async def outstanding(self) -> int:
        # undelivered entries (lag) + delivered but not acknowledged (pending)
        for group in await self.redis.xinfo_groups(QUEUE):
            if group["name"] in (GROUP, GROUP.encode()):
                return int(group["lag"] or 0) + int(group["pending"])
        return -1

    async def close(self) -> None:
        await self.redis.aclose()
        await broker.shutdown()


async def open_client(url: str) -> Client:
    await broker.startup()  # declares the consumer group before anything is enqueued
    return Client(Redis.from_url(url))


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    # the way `taskiq worker` runs one worker process, with --max-async-tasks=concurrency
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    shutdown = asyncio.Event()  # noqa: TID251 (stdlib only: runs in the peers' venvs)
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(shutdown.set))
    broker.is_worker_process = True
    try:
        with ThreadPoolExecutor() as pool:
            receiver = Receiver(broker=broker, executor=pool, max_async_tasks=concurrency)
            ready()
            loop.run_until_complete(receiver.listen(shutdown))
    finally:
        loop.run_until_complete(broker.shutdown())
