"""A task that blocks its worker's event loop, and records reclaimed from dead workers (issue 13)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from litestar_queues import QueueConfig, QueueService, TaskRegistry, WorkerConfig, task
from litestar_queues.models import Outcome
from litestar_queues.ports import BackendReach

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

registry = TaskRegistry()
LEASE = 1.5


@task("faults.block_loop", registry=registry)
async def block_loop(seconds: float) -> str:
    time.sleep(seconds)  # blocks the event loop: the bug this test is about, on purpose
    return "done"


@task("faults.noop", registry=registry)
async def noop(n: int) -> int:
    return n


RUNS: list[tuple[str, float, float]] = []


@task("faults.traced", registry=registry)
async def traced(name: str) -> None:
    started = time.monotonic()
    await anyio.sleep(0.2)
    RUNS.append((name, started, time.monotonic()))


def _config(url: str) -> QueueConfig:
    return QueueConfig(
        queue_backend=url,
        registry=registry,
        worker=WorkerConfig(lease_seconds=LEASE, poll_interval=0.05, concurrency=4),
    )


def _other_worker(url: str, stop: threading.Event, ready: threading.Event) -> None:
    """A second worker in its own thread and event loop, like another process on the machine.

    It serves another queue, so it takes nothing itself; its sweep returns expired leases of
    every queue to the queue, as any worker's does.
    """

    async def main() -> None:
        async with QueueService(_config(url)) as service, service.worker(queues=["elsewhere"]):
            ready.set()
            while not stop.is_set():
                await anyio.sleep(0.05)

    anyio.run(main)


async def _block_the_loop_once(url: str, *, watchdog: bool, block: float) -> Any:
    stop, ready = threading.Event(), threading.Event()
    other = threading.Thread(target=_other_worker, args=(url, stop, ready), daemon=True)
    other.start()
    try:
        await anyio.to_thread.run_sync(ready.wait, 10)
        async with QueueService(_config(url)) as service:
            handle = await service.enqueue(block_loop, block)
            async with service.worker(watchdog=watchdog):
                with anyio.fail_after(30):
                    await handle.wait()
    finally:
        stop.set()
        await anyio.to_thread.run_sync(other.join)
    return handle.record


# PostgreSQL: a loop blocked in the middle of a SQLite write transaction holds the database's one
# write lock, so nobody could reclaim anything then, and the scenario would not be repeatable.


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_task_blocking_the_loop_past_its_lease_runs_once_with_the_watchdog(postgres_url: str) -> None:
    record = await _block_the_loop_once(postgres_url, watchdog=True, block=LEASE * 3)
    assert record.status == "completed" and record.result == "done"
    assert record.runs == 1 and record.reclaims == 0


@pytest.mark.slow
@pytest.mark.postgres
async def test_without_the_watchdog_the_blocked_run_loses_its_lease(postgres_url: str) -> None:
    """The same scenario with the watchdog off: what the watchdog prevents (so the test above can fail)."""
    record = await _block_the_loop_once(postgres_url, watchdog=False, block=LEASE * 3)
    assert record.runs >= 2 and record.reclaims >= 1


async def test_a_reclaimed_record_runs_alone(tmp_path: Path) -> None:
    """A record whose lease expired before waits until nothing else runs, and nothing starts beside it."""
    RUNS.clear()
    url = f"sqlite:///{tmp_path / 'q.db'}"
    async with QueueService(_config(url)) as service:
        assert service.backend.reach is BackendReach.HOST
        suspect = await service.enqueue(traced, "suspect")
        # a worker claims it and dies (its lease expires unreported): the sweep charges a reclaim
        await service.attempts.claim(queues=None, worker_id="dead", limit=1, lease_seconds=0.01)
        await anyio.sleep(0.05)
        await service.attempts.reclaim_expired()
        assert (await suspect.refresh()).record.reclaims == 1
        others = [await service.enqueue(traced, f"other-{n}") for n in range(6)]
        async with service.worker(watchdog=False) as worker:
            with anyio.fail_after(20):
                for handle in [suspect, *others]:
                    await handle.wait()
            assert worker.running_count == 0
    assert {h.status for h in [suspect, *others]} == {"completed"}
    ((_, start, end),) = [run for run in RUNS if run[0] == "suspect"]
    overlapping = [name for name, s, e in RUNS if name != "suspect" and s < end and e > start]
    assert overlapping == []
    others_together = [s for name, s, _ in RUNS if name != "suspect"]
    assert max(others_together) - min(others_together) < 10  # the others ran concurrently as usual


async def test_a_held_suspect_is_released_uncounted_on_shutdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    async with QueueService(_config(url)) as service:
        suspect = await service.enqueue(noop, 0)
        await service.attempts.claim(queues=None, worker_id="dead", limit=1, lease_seconds=0.01)
        await anyio.sleep(0.05)
        await service.attempts.reclaim_expired()
        slow = await service.enqueue(block_loop, 0.0)
        # a worker busy with a running task holds the suspect back, then shuts down
        worker = service.worker(watchdog=False, shutdown_grace=0.1)
        worker._running  # noqa: B018 - the worker is real; only its shutdown is observed
        async with worker:
            with anyio.fail_after(10):
                await slow.wait()
        record = (await suspect.refresh()).record
    assert record.status in ("pending", "completed")
    assert record.attempts <= 1 and not isinstance(record, Outcome)


async def test_a_suspect_claimed_alone_runs_without_waiting_for_work() -> None:
    """A claim that found fewer records than it asked for, one a suspect, runs it before waiting."""
    config = QueueConfig(
        queue_backend="memory://",
        registry=registry,
        worker=WorkerConfig(lease_seconds=LEASE, poll_interval=30.0, concurrency=4),
    )
    async with QueueService(config) as service:
        suspect = await service.enqueue(noop, 0)
        await service.attempts.claim(queues=None, worker_id="dead", limit=1, lease_seconds=0.01)
        await anyio.sleep(0.05)
        await service.attempts.reclaim_expired()
        await service.backend.wait_for_work(None, 0.05)  # takes the wake-ups left so far
        async with service.worker(watchdog=False):
            with anyio.fail_after(10):  # not the 30 s of a wait for work
                await suspect.wait()
    assert suspect.status == "completed"
