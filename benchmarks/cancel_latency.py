"""How long a running task takes to stop after ``QueueService.cancel`` from another process.

Starts a throwaway redis-server and PostgreSQL server (``tests/servers/``), then on each: one
service runs a worker (heartbeat every 10 s, the default for a 30 s lease) whose task sleeps
until cancelled; another service (its own backend object and connections, as another process's
would be) cancels it. Measures from just before ``cancel()`` to the moment the task's ``finally``
runs, ``--runs`` times, and prints p50 / p99 / max::

    uv run python benchmarks/cancel_latency.py --runs 50
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import PostgresServer, RedisServer  # noqa: E402

from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task  # noqa: E402

registry = TaskRegistry()
stopped: dict[int, float] = {}


@task("bench.until_cancelled", registry=registry)
async def until_cancelled(n: int) -> None:
    try:
        await anyio.sleep(3600)
    finally:
        stopped[n] = time.monotonic()


async def measure(url: str, runs: int) -> list[float]:
    config = QueueConfig(
        queue_backend=url, registry=registry, worker=WorkerConfig(concurrency=1, poll_interval=0.05)
    )
    took: list[float] = []
    async with QueueService(config) as worker_side, QueueService(config) as canceller, worker_side.worker():
        for n in range(runs):
            handle = await canceller.enqueue(until_cancelled, n)
            while (await handle.refresh()).status != "running":  # noqa: ASYNC110 - polls the store
                await anyio.sleep(0.002)
            await anyio.sleep(0.02)
            began = time.monotonic()
            await canceller.cancel(handle.id)
            with anyio.fail_after(30):
                while n not in stopped:  # noqa: ASYNC110 - the sleep's granularity is the resolution
                    await anyio.sleep(0.0005)
            took.append(stopped[n] - began)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    logging.getLogger("litestar_queues").setLevel(logging.WARNING)
    with RedisServer(aof=False, unix_socket=False) as redis, PostgresServer() as pg:
        for name, url in (("Redis", redis.url), ("PostgreSQL", pg.dsn())):
            from litestar_queues_sql import create_schema

            if name == "PostgreSQL":
                anyio.run(create_schema, url)
            stopped.clear()
            took = sorted(anyio.run(measure, url, args.runs))
            p99 = took[min(len(took) - 1, round(len(took) * 0.99))]
            print(
                f"{name:10} cancel -> task stopped: p50 {statistics.median(took) * 1000:.1f} ms, "
                f"p99 {p99 * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms ({len(took)} runs)"
            )


if __name__ == "__main__":
    main()
