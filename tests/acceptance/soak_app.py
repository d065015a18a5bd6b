"""The soak test's worker app: ``litestar-queues worker tests.acceptance.soak_app:config``.

Every run of every task appends lines to one journal file (``LQ_SOAK_JOURNAL``), opened with
``O_APPEND`` and written with one ``write`` per line, so a line is never torn and survives the
SIGKILL of its worker: ``start <name> <pid>`` when a run begins and ``done <name> <pid>`` when its
body has finished. The test reads losses and duplicates from there, as seen from inside the tasks.

Environment: ``LQ_SOAK_URL`` (queue backend URL), ``LQ_SOAK_JOURNAL``, ``LQ_SOAK_LEASE`` (lease
seconds), ``LQ_SOAK_CONCURRENCY``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import anyio

from litestar_queues import QueueConfig, TaskRegistry, WorkerConfig, task

registry = TaskRegistry()

LEASE = float(os.environ.get("LQ_SOAK_LEASE", "2"))
CONCURRENCY = int(os.environ.get("LQ_SOAK_CONCURRENCY", "8"))

_journal: int | None = None


def journal(kind: str, name: str) -> None:
    """Append ``kind name pid`` to the journal in one ``write`` (atomic for a line this short)."""
    global _journal
    if _journal is None:
        _journal = os.open(os.environ["LQ_SOAK_JOURNAL"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_journal, f"{kind} {name} {os.getpid()}\n".encode())


@task("soak.work", registry=registry)
async def work(n: int) -> int:
    """An ordinary task: 0 to 350 ms of sleep between its two journal lines (175 ms on average).

    Long enough that the 4 workers stay busy while the poison crashes its 4 workers, short enough
    that 2000 tasks take a few seconds more than that.
    """
    journal("start", str(n))
    await anyio.sleep((n % 8) * 0.05)
    journal("done", str(n))
    return n


@task("soak.poison", registry=registry)
async def poison() -> None:
    """Kills its own worker process, every time (a segfault, the OOM killer, ``os._exit``)."""
    journal("start", "poison")
    os.kill(os.getpid(), signal.SIGKILL)


@task("soak.cancelled", registry=registry)
async def cancelled() -> None:
    """Raises a ``CancelledError`` of its own: awaits a future that was cancelled, nobody cancels the task."""
    journal("start", "cancelled")
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


@task("soak.block", registry=registry)
async def block() -> str:
    """Blocks its worker's event loop for twice the lease (the watchdog keeps the leases alive)."""
    journal("start", "block")
    time.sleep(LEASE * 2)  # on purpose: the fault under test
    journal("done", "block")
    return "unblocked"


config = QueueConfig(
    queue_backend=os.environ.get("LQ_SOAK_URL", "memory://"),
    registry=registry,
    worker=WorkerConfig(
        concurrency=CONCURRENCY,
        lease_seconds=LEASE,
        poll_interval=0.2,
        shutdown_grace=5,
    ),
)
