"""SAQ (Redis queue or Postgres queue, chosen by URL scheme): one-by-one enqueue, no batch API."""

from __future__ import annotations

import asyncio
import signal
from importlib.metadata import version
from typing import Any

import bench_signal
from saq import Queue, Worker

BATCH = False


async def noop(ctx: Any, *, i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    return {"saq": version("saq"), "redis": version("redis"), "psycopg": version("psycopg")}


async def setup(url: str) -> None:
    queue = Queue.from_url(url)
    await queue.connect()  # creates the Postgres tables; nothing to do on Redis
    await queue.disconnect()


class Client:
    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def enqueue(self, i: int) -> None:
        await self.queue.enqueue("noop", i=i)

    async def outstanding(self) -> int:
        return await self.queue.count("incomplete")

    async def close(self) -> None:
        await self.queue.disconnect()


async def open_client(url: str) -> Client:
    queue = Queue.from_url(url)
    await queue.connect()
    return Client(queue)


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    async def main() -> None:
        ready()
        queue = Queue.from_url(url)
        await queue.connect()
        worker = Worker(queue, functions=[noop], concurrency=concurrency)
        await worker.start()  # installs its own SIGTERM/SIGINT handlers
        await queue.disconnect()

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    asyncio.run(main())
