"""Quick local throughput check of the Redis backend (not a test, not the peer benchmark).

Starts a throwaway redis-server without persistence (``tests.servers.RedisServer``, the one the
tests and benchmarks use) on a free loopback port, then measures:
enqueue rate (one ``enqueue`` call per task, and ``enqueue_many`` batches), the drain rate of
N no-op tasks by one in-process worker at concurrency 10, and the idle enqueue-to-completion
latency (enqueue, then ``TaskResult.wait()``) with one idle worker.

Run from the repository root::

    uv run python packages/redis-backend/tools/throughput.py [--tasks 10000] [--latency-samples 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import anyio

from litestar_queues import QueueConfig, QueueService, TaskCall, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()


@task("bench.noop", registry=registry)
async def noop() -> None:
    """Do nothing."""


def config(url: str) -> QueueConfig:
    """A configuration with one worker at concurrency 10."""
    return QueueConfig(queue_backend=url, registry=registry, worker=WorkerConfig(concurrency=10))


async def enqueue_rate(url: str, n: int) -> tuple[float, float]:
    """Tasks per second enqueued one call at a time, and in batches of 1000."""
    async with QueueService(config(url + "&key_prefix=enq1")) as service:
        start = time.perf_counter()
        for _ in range(n):
            await service.enqueue(noop)
        single = n / (time.perf_counter() - start)
    async with QueueService(config(url + "&key_prefix=enq2")) as service:
        start = time.perf_counter()
        for i in range(0, n, 1000):
            await service.enqueue_many(TaskCall(noop) for _ in range(min(1000, n - i)))
        batched = n / (time.perf_counter() - start)
    return single, batched


async def drain_rate(url: str, n: int) -> tuple[float, float]:
    """Tasks per second drained by one worker, and CPU microseconds per task of this process."""
    async with QueueService(config(url)) as service:
        for i in range(0, n, 1000):
            await service.enqueue_many(TaskCall(noop) for _ in range(min(1000, n - i)))
        worker = service.worker()
        start, cpu = time.perf_counter(), time.process_time()
        async with worker:
            while worker.completed < n:  # noqa: ASYNC110 - polling the counter is the measurement
                await anyio.sleep(0.002)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = await service.stats()
        assert stats.count("completed") == n, stats
        return n / elapsed, cpu / n * 1e6


async def latency(url: str, samples: int) -> list[float]:
    """Milliseconds from enqueue to a completed ``wait()`` with one idle worker."""
    timings: list[float] = []
    async with QueueService(config(url + "&key_prefix=lat")) as service, service.worker():
        await anyio.sleep(0.2)
        for _ in range(samples):
            start = time.perf_counter()
            handle = await service.enqueue(noop)
            await handle.wait(timeout=10)
            timings.append((time.perf_counter() - start) * 1000)
            await anyio.sleep(0.005)  # let the worker go idle again
    return timings


async def measure(url: str, args: argparse.Namespace) -> None:
    """Run every measurement against ``url`` and print the results."""
    single, batched = await enqueue_rate(url, args.tasks)
    print(f"enqueue, one call per task:     {single:9.0f} tasks/s")
    print(f"enqueue_many, 1000 per call:    {batched:9.0f} tasks/s")
    for i in range(args.runs):
        rate, cpu = await drain_rate(url + f"&key_prefix=drain{i}", args.tasks)
        print(f"drain {args.tasks} no-op, one worker c=10: {rate:6.0f} tasks/s, {cpu:.0f} us CPU/task")
    timings = await latency(url, args.latency_samples)
    q = statistics.quantiles(timings, n=100)
    print(f"idle enqueue->completion: p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms ({len(timings)} samples)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> None:
    """Parse the command line, start a redis-server without persistence, measure."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=500)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.servers import RedisServer

    with RedisServer(aof=False, unix_socket=False) as server:
        anyio.run(measure, f"{server.url}?result_ttl=3600", args)


if __name__ == "__main__":
    main()
