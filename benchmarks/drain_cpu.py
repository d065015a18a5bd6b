"""CPU per task of an in-process drain: the core's own cost, robust to a loaded machine.

Enqueues N no-op tasks, then one worker (concurrency 10) in the same process drains them; prints
the rate and the process CPU time per task (``time.process_time``), which other processes on the
machine do not inflate the way they inflate wall time. Run it from two checkouts alternately to
compare commits::

    python benchmarks/drain_cpu.py memory:// 20000
    python benchmarks/drain_cpu.py redis://127.0.0.1:6379/0 10000

A third argument, ``all`` or ``sampled``, adds both observers (``_observers.py``: Prometheus,
and OpenTelemetry with an SDK that records every trace, or one in ten; other modes there time one
observer alone), the cost of metrics and traces::

    python benchmarks/drain_cpu.py memory:// 20000 all
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

import anyio
from _observers import bench_observers

from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task

try:
    from litestar_queues import TaskCall
except ImportError:  # checkouts from before TaskCall moved beside Task
    from litestar_queues.service import TaskCall  # type: ignore[attr-defined,no-redef]

registry = TaskRegistry()


@task("bench.noop", registry=registry)
async def noop(i: int) -> None:
    global done
    done += 1
    if done == goal:
        finished.set()


done = 0
goal = 0
finished: anyio.Event


async def main(url: str, count: int, observed: str) -> None:
    if url.startswith("redis"):
        url = f"{url}{'&' if '?' in url else '?'}key_prefix=cpu{uuid.uuid4().hex[:8]}"
    extra: dict[str, Any] = {"observers": bench_observers(observed)} if observed else {}
    config = QueueConfig(
        queue_backend=url, registry=registry, worker=WorkerConfig(concurrency=10, poll_interval=0.01), **extra
    )
    async with QueueService(config) as service:
        for start in range(0, count, 1000):
            calls = [TaskCall(noop, (i,)) for i in range(start, min(count, start + 1000))]
            await service.enqueue_many(calls)
        global goal, finished
        goal, finished = count, anyio.Event()
        wall, cpu = time.perf_counter(), time.process_time()
        async with service.worker():
            await finished.wait()  # the last task ran (its outcome is written as the worker stops)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{count / wall:,.0f} tasks/s, {cpu / count * 1e6:.1f} us CPU per task")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "memory://"
    observed = sys.argv[3] if len(sys.argv) > 3 else ""
    anyio.run(main, target, int(sys.argv[2]) if len(sys.argv) > 2 else 20000, observed)
