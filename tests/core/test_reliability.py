"""What a hostile task does to the worker (issue 13): it fails itself, never the worker."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from litestar_queues import Backoff, QueueConfig, QueueService, TaskRegistry, task
from litestar_queues.exceptions import (
    MalformedRecordError,
    QueueConfigurationError,
    SerializationError,
    TaskNotFoundError,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio

registry = TaskRegistry()


@task("hostile.ok", registry=registry)
async def ok(n: int) -> int:
    return n


@task("hostile.cancelled_async", registry=registry)
async def cancelled_async() -> None:
    # awaits a future that something else cancelled: CancelledError without a cancel request
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


@task("hostile.cancelled_sync", registry=registry)
def cancelled_sync() -> None:
    raise asyncio.CancelledError("raised by the task")


@task("hostile.exit_async", registry=registry)
async def exit_async() -> None:
    raise SystemExit(3)


@task("hostile.exit_sync", registry=registry)
def exit_sync() -> None:
    raise SystemExit(4)


@task("hostile.interrupt", registry=registry)
async def interrupt() -> None:
    raise KeyboardInterrupt


@task("hostile.nan_result", registry=registry)
async def nan_result() -> float:
    return math.nan


HOSTILE = [cancelled_async, cancelled_sync, exit_async, exit_sync, interrupt]
RAISED = {
    "hostile.cancelled_async": "CancelledError",
    "hostile.cancelled_sync": "CancelledError",
    "hostile.exit_async": "SystemExit",
    "hostile.exit_sync": "SystemExit",
    "hostile.interrupt": "KeyboardInterrupt",
}


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda t: t.name)
async def test_a_task_raising_a_base_exception_fails_itself_and_the_worker_serves_on(hostile: Any) -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        async with service.worker(poll_interval=0.05) as worker:
            bad = await service.enqueue(hostile)
            with anyio.fail_after(10):
                await bad.wait()
            good = await service.enqueue(ok, 7)
            with anyio.fail_after(10):
                await good.wait()
            assert worker.running_count == 0
        assert bad.status == "failed"
        assert bad.error is not None and bad.error.startswith(RAISED[hostile.name])
        assert good.status == "completed" and good.result == 7


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda t: t.name)
async def test_an_immediate_task_raising_a_base_exception_fails_and_the_enqueue_returns(hostile: Any) -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        handle = await service.enqueue(hostile, execution_backend="immediate")
        assert handle.status == "failed"
        assert (await service.enqueue(ok, 1, execution_backend="immediate")).result == 1


async def test_a_hostile_task_retries_like_any_failure() -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        handle = await service.enqueue(cancelled_async.using(retries=1))
        async with service.worker(poll_interval=0.05):
            with anyio.fail_after(15):
                await handle.wait()
        assert handle.status == "failed" and handle.record.attempts == 2


@given(st.integers(min_value=0, max_value=2**62))
def test_backoff_never_overflows_and_stays_within_its_bounds(retry_number: int) -> None:
    backoff = Backoff(initial=1.0, multiplier=2.0, maximum=300.0, jitter=0.1)
    delay = backoff.delay(retry_number)
    assert 0.0 <= delay <= 300.0 * 1.1


def test_backoff_at_retry_1025_is_the_maximum() -> None:
    assert Backoff(jitter=0).delay(1025) == 300.0
    assert Backoff(jitter=0).delay(10**9) == 300.0
    assert Backoff(jitter=0).delay(3) == 4.0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((math.nan,), {}), ((), {"x": [1, math.inf]}), ((), {"nested": {"y": -math.inf}})],
)
async def test_non_finite_numbers_in_arguments_are_refused_not_stored_as_null(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        with pytest.raises(SerializationError, match="NaN or infinity"):
            await service.enqueue(ok, *args, **kwargs)
        with pytest.raises(SerializationError, match="NaN or infinity"):
            await service.enqueue(ok, 1, metadata={"score": math.nan})
        assert (await service.stats()).total == 0


async def test_a_non_finite_result_fails_the_task_instead_of_reading_back_none() -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        handle = await service.enqueue(nan_result, execution_backend="immediate")
    assert handle.status == "failed"
    assert handle.error is not None and "NaN or infinity" in handle.error


@pytest.mark.parametrize("metadata", [["a", "b"], "text", 3])
async def test_metadata_that_is_not_a_mapping_is_a_typed_error(metadata: Any) -> None:
    async with QueueService(QueueConfig(registry=registry)) as service:
        with pytest.raises(QueueConfigurationError, match="metadata must be a mapping"):
            await service.enqueue(ok, 1, metadata=metadata)
        assert (await service.stats()).total == 0


async def test_waiting_on_a_record_moved_aside_raises_instead_of_spinning(tmp_path: Path) -> None:
    database = tmp_path / "queue.db"
    async with QueueService(QueueConfig(queue_backend=f"sqlite:///{database}", registry=registry)) as service:
        handle = await service.enqueue(ok, 1)
        with sqlite3.connect(database) as raw:  # the row goes bad behind the queue's back
            raw.execute("UPDATE lq_tasks SET args = 'not json' WHERE id = ?", (handle.id.hex,))
        # the read that finds the bad row moves it aside and says so; later reads find no record
        with anyio.fail_after(5), pytest.raises(MalformedRecordError):
            await handle.wait(timeout=60)
        with anyio.fail_after(5), pytest.raises(TaskNotFoundError, match="moved aside"):
            await handle.wait(timeout=60)
