"""Measure enqueue and drain rates of the SQL backend with one worker (concurrency 10).

Usage::

    uv run python packages/sql-backend/tools/drain_bench.py URL [--tasks 10000] [--concurrency 10]
    uv run python packages/sql-backend/tools/drain_bench.py --local-postgres   # a throwaway server

``--local-postgres`` starts a throwaway PostgreSQL server (``tests.servers.PostgresServer``, the
one the test fixtures use: installed binaries, ``postgres`` user when run as root, fsync off).
"""

from __future__ import annotations

import time

import anyio
from _tool import database_parser, run_on_database  # next to this tool

from litestar_queues import QueueConfig, QueueService, TaskCall, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()


@task("bench.noop", registry=registry)
async def noop(n: int) -> None:
    """Do nothing."""
    return None


async def bench(url: str, tasks: int, concurrency: int) -> None:
    """Enqueue ``tasks`` no-op tasks, drain them with one worker, print both rates."""
    config = QueueConfig(
        queue_backend=url, registry=registry, worker=WorkerConfig(concurrency=concurrency, poll_interval=0.5)
    )
    async with QueueService(config) as service:
        start = time.perf_counter()
        for first in range(0, tasks, 1000):
            await service.enqueue_many([TaskCall(noop, (n,)) for n in range(first, min(tasks, first + 1000))])
        enqueue_s = time.perf_counter() - start
        start = time.perf_counter()
        async with service.worker() as worker:
            while worker.completed < tasks:  # noqa: ASYNC110 - polling a counter, 10 ms resolution
                await anyio.sleep(0.01)
            drain_s = time.perf_counter() - start
        stats = await service.stats()
        assert stats.count("completed") == tasks, stats
    print(f"url: {url.split('?')[0]}")
    print(f"enqueue (batches of 1000): {tasks / enqueue_s:,.0f} tasks/s ({enqueue_s:.2f} s)")
    print(
        f"drain ({tasks} no-op tasks, 1 worker, concurrency {concurrency}): "
        f"{tasks / drain_s:,.0f} tasks/s ({drain_s:.2f} s)"
    )


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = database_parser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    run_on_database(parser, args, bench, args.tasks, args.concurrency, prefix="b")


if __name__ == "__main__":
    main()
