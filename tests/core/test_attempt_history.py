"""What the attempt driver writes into a record's history, on the memory backend (issue 16)."""

from __future__ import annotations

import anyio
import pytest

from litestar_queues import (
    Backoff,
    MemoryQueueBackend,
    QueueConfig,
    QueueService,
    TaskRegistry,
    WorkerConfig,
    task,
)
from litestar_queues.models import HISTORY_LIMIT

pytestmark = pytest.mark.anyio

registry = TaskRegistry()
calls: dict[str, int] = {}


@task("history.flaky", registry=registry, retries=5, backoff=Backoff(initial=0.001, maximum=0.001, jitter=0))
async def flaky(name: str, failures: int) -> str:
    calls[name] = calls.get(name, 0) + 1
    if calls[name] <= failures:
        raise ValueError(f"{name} failed run {calls[name]}")
    return name


def _config() -> QueueConfig:
    return QueueConfig(
        queue_backend=MemoryQueueBackend(),
        registry=registry,
        worker=WorkerConfig(concurrency=2, poll_interval=0.02, worker_id="w-history"),
    )


async def _run(service: QueueService, name: str, failures: int) -> object:
    handle = await flaky.enqueue(name, failures)
    async with service.worker():
        with anyio.fail_after(20):
            await handle.wait(timeout=20)
    return handle.record


async def test_a_first_run_success_keeps_no_history() -> None:
    async with QueueService(_config()) as service:
        record = await _run(service, "once", 0)
    assert record.status == "completed"  # type: ignore[attr-defined]
    assert record.history == []  # type: ignore[attr-defined]
    assert record.worker_id == "w-history"  # type: ignore[attr-defined]


async def test_failed_runs_then_success_are_kept_with_tracebacks() -> None:
    async with QueueService(_config()) as service:
        record = await _run(service, "twice", 2)
    history = record.history  # type: ignore[attr-defined]
    assert [(a.run, a.verdict) for a in history] == [(1, "retried"), (2, "retried"), (3, "completed")]
    assert history[0].error == "ValueError: twice failed run 1"
    assert "raise ValueError" in history[0].traceback
    assert history[2].traceback is None and history[2].error is None
    assert all(a.worker_id == "w-history" and a.started_at <= a.finished_at for a in history)


async def test_history_keeps_the_latest_attempts_only() -> None:
    async with QueueService(_config()) as service:
        handle = await flaky.using(retries=HISTORY_LIMIT + 2).enqueue("many", HISTORY_LIMIT + 2)
        async with service.worker():
            with anyio.fail_after(20):
                await handle.wait(timeout=20)
    runs = [a.run for a in handle.record.history]
    assert runs == list(range(4, HISTORY_LIMIT + 4))  # the last 10 of 13 runs
