"""How long ``await handle.wait()`` takes for a no-op task, and how many reads it costs.

Enqueues one no-op task and awaits ``wait()`` on its handle, ``--n`` times in a row, with an
idle worker ready (concurrency 1). The worker runs in this process, either on the same service
(``--worker same``: one backend object, so an in-process finish can hand the record to the
waiter) or on a second service with its own backend object and connections
(``--worker other``: as another process's worker would be). Measures from just before
``enqueue`` to the return of ``wait()``, and counts the waiter's ``get`` calls during ``wait()``.
Uses the public API only, so the same file measures another checkout of the project.

One measurement (prints one JSON line)::

    uv run python benchmarks/wait_latency.py --url redis://127.0.0.1:6379/0 --n 200

Comparison of this tree with another checkout, on throwaway servers (``tests/servers/``),
alternating which tree runs first in each round::

    uv run python benchmarks/wait_latency.py --compare ../before --rounds 4 --n 200   # ../before: a checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q))]


async def measure(url: str, n: int, worker: str) -> dict[str, Any]:
    """Run ``n`` sequential enqueue-then-wait rounds; return latencies (ms) and reads per wait."""
    from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task

    registry = TaskRegistry()

    @task("bench.noop", registry=registry)
    async def noop() -> None:
        return None

    def config() -> QueueConfig:
        return QueueConfig(
            queue_backend=url, registry=registry, worker=WorkerConfig(concurrency=1, poll_interval=0.05)
        )

    took: list[float] = []
    reads: list[int] = []
    async with QueueService(config()) as waiter, QueueService(config()) as other:
        runner = waiter if worker == "same" else other
        counted = [0]

        class Counting(type(waiter.backend)):  # type: ignore[misc]
            """The waiter's backend, counting its reads (a subclass: the backends use slots)."""

            __slots__ = ()

            async def get(self, task_id: Any) -> Any:
                counted[0] += 1
                return await super().get(task_id)

        waiter.backend.__class__ = Counting
        async with runner.worker():
            for _ in range(20):  # warm-up: connections, prepared statements, script cache
                await (await waiter.enqueue(noop)).wait(timeout=30)
            for _ in range(n):
                began = time.perf_counter()
                handle = await waiter.enqueue(noop)
                counted[0] = 0
                await handle.wait(timeout=30)
                took.append((time.perf_counter() - began) * 1000)
                reads.append(counted[0])
                assert handle.status == "completed", handle
    return {
        "p50_ms": statistics.median(took),
        "p99_ms": _percentile(took, 0.99),
        "mean_ms": statistics.fmean(took),
        "reads_per_wait": statistics.fmean(reads),
        "n": n,
    }


def _run_tree(tree: Path, url: str, n: int, worker: str) -> dict[str, Any]:
    command = [
        "uv",
        "run",
        "--frozen",
        "python",
        str(SCRIPT),
        "--url",
        url,
        "--n",
        str(n),
        "--worker",
        worker,
    ]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def compare(baseline: Path, rounds: int, n: int, workers: list[str], backends: list[str]) -> None:
    """Alternate this tree and ``baseline`` on the same throwaway servers; print medians of rounds."""
    sys.path.insert(0, str(ROOT))
    from tests.servers import PostgresServer, RedisServer

    trees = {"this tree": ROOT, "baseline": baseline}
    with RedisServer(aof=False, unix_socket=False) as redis, PostgresServer() as pg:
        urls = {"redis": redis.url, "postgresql": pg.dsn()}
        if "postgresql" in backends:
            from litestar_queues_sql import create_schema

            anyio.run(create_schema, urls["postgresql"])
        for backend in backends:
            for worker in workers:
                results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
                for r in range(rounds):
                    order = list(trees) if r % 2 == 0 else list(reversed(trees))
                    for name in order:
                        results[name].append(_run_tree(trees[name], urls[backend], n, worker))
                for name, runs in results.items():
                    p50 = statistics.median(x["p50_ms"] for x in runs)
                    p99 = statistics.median(x["p99_ms"] for x in runs)
                    each = ", ".join(f"{x['p50_ms']:.2f}/{x['p99_ms']:.2f}" for x in runs)
                    print(
                        f"{backend:10} worker={worker:5} {name:9}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                        f"reads/wait {runs[0]['reads_per_wait']:.2f} (rounds p50/p99: {each})",
                        flush=True,
                    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="measure once on this backend URL and print JSON")
    parser.add_argument("--compare", type=Path, help="another checkout to compare with, round by round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--worker", choices=("same", "other"), default="other")
    parser.add_argument("--workers", default="other,same", help="with --compare: worker placements to run")
    parser.add_argument("--backends", default="redis,postgresql", help="with --compare: backends to run")
    args = parser.parse_args()
    import logging

    logging.getLogger("litestar_queues").setLevel(logging.WARNING)
    if args.url:
        print(json.dumps(anyio.run(measure, args.url, args.n, args.worker)))
    elif args.compare:
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        compare(args.compare, args.rounds, args.n, args.workers.split(","), args.backends.split(","))
    else:
        parser.error("give --url or --compare")


if __name__ == "__main__":
    main()
