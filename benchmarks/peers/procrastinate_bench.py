"""procrastinate (PostgreSQL, psycopg 3 connector, LISTEN/NOTIFY on: its default). Batch API:
``Task.batch_defer_async``; one by one: ``Task.defer_async``. Worker: ``App.run_worker_async``.
"""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version
from typing import Any

import bench_signal
from procrastinate import App, PsycopgConnector

BATCH = True

app = App(connector=PsycopgConnector(conninfo=os.environ.get("BENCH_URL", "")))


@app.task(name="noop")
async def noop(i: int) -> None:
    bench_signal.send(i)


def versions() -> dict[str, str]:
    return {"procrastinate": version("procrastinate"), "psycopg": version("psycopg")}


async def setup(url: str) -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


class Client:
    async def enqueue(self, i: int) -> None:
        await noop.defer_async(i=i)

    async def enqueue_batch(self, ids: list[int]) -> None:
        await noop.batch_defer_async(*({"i": i} for i in ids))

    async def outstanding(self) -> int:
        row = await app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        )
        return int(row["n"])

    async def close(self) -> None:
        await app.close_async()


async def open_client(url: str) -> Client:
    await app.open_async()
    return Client()


def run_worker(url: str, concurrency: int, ready: Any) -> None:
    async def main() -> None:
        ready()
        async with app.open_async():
            await app.run_worker_async(concurrency=concurrency, wait=True)  # stops on SIGTERM

    asyncio.run(main())
