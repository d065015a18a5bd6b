"""get_task, cancel, retry, stats, dedup keys and TaskResult refresh/wait."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import litestar_queues.task_result as task_result_module
from litestar_queues import (
    QueueConfigurationError,
    QueueService,
    TaskNotFoundError,
    TaskRegistry,
    task,
)
from tests.core._support import ManualClock, make_config


@pytest.fixture
def job(registry: TaskRegistry) -> Any:
    @task("ops.job", registry=registry)
    async def job(x: int) -> int:
        return x * 10

    return job


async def _finish_by_hand(service: QueueService, task_id: uuid.UUID, kind: str = "complete") -> None:
    """Drive a record to a terminal state through the backend port, as a worker would."""
    from litestar_queues import Outcome

    now = service.config.clock.now()
    claimed = await service.backend.claim_task(task_id, worker_id="test", now=now, lease_until=now)
    assert claimed is not None and claimed.lease_id is not None
    outcome = Outcome(task_id=task_id, lease_id=claimed.lease_id, kind=kind, result=7, error="boom")  # type: ignore[arg-type]
    (applied,) = await service.backend.finish([outcome], now=now)
    assert applied is not None


@pytest.mark.anyio
async def test_get_task_returns_the_stored_record(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        enqueued = await service.enqueue(job, 1)
        for key in (enqueued.id, str(enqueued.id)):
            fetched = await service.get_task(key)
            assert fetched.id == enqueued.id and fetched.record == enqueued.record
        with pytest.raises(TaskNotFoundError):
            await service.get_task(uuid.uuid4())
        with pytest.raises(TaskNotFoundError):
            await service.get_task("not-a-uuid")
        with pytest.raises(TaskNotFoundError):
            await service.cancel(uuid.uuid4())


@pytest.mark.anyio
async def test_cancel_pending_and_scheduled_but_not_terminal(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        pending = await service.enqueue(job, 1)
        scheduled = await service.enqueue(job, 2, run_after=3600)
        done = await service.enqueue(job, 3)
        await _finish_by_hand(service, done.id)
        assert (await service.cancel(pending.id)).status == "cancelled"
        assert (await service.cancel(scheduled.id)).status == "cancelled"
        unchanged = await service.cancel(done.id)
        assert (unchanged.status, unchanged.result) == ("completed", 7)
        # a cancelled record stays cancelled
        assert (await service.cancel(pending.id)).status == "cancelled"
        assert (await service.get_task(pending.id)).record.finished_at is not None


@pytest.mark.anyio
async def test_retry_requeues_the_same_failed_or_cancelled_record_once(
    registry: TaskRegistry, job: Any
) -> None:
    async with QueueService(make_config(registry)) as service:
        failed = await service.enqueue(job, 1, metadata={"m": 1}, key="k", priority=3)
        await _finish_by_hand(service, failed.id, kind="fail")
        again = await service.retry(failed.id)
        assert again.id == failed.id and again.status == "pending"
        assert (again.record.args, again.record.priority, again.record.key) == ([1], 3, "k")
        assert (again.record.attempts, again.record.runs, again.record.finished_at) == (0, 1, None)
        assert again.record.error is not None  # the last failure stays readable
        # a second retry is a no-op: the record is pending already
        twice = await service.retry(failed.id)
        assert twice.status == "pending" and (await service.stats()).count("pending") == 1
        # it runs again under its key, and a completed record cannot be retried
        await _finish_by_hand(service, failed.id)
        with pytest.raises(QueueConfigurationError, match="only failed or cancelled"):
            await service.retry(failed.id)
        cancelled = await service.enqueue(job, 2)
        await service.cancel(cancelled.id)
        assert (await service.retry(cancelled.id)).status == "pending"
        with pytest.raises(TaskNotFoundError):
            await service.retry(uuid.uuid4())


@pytest.mark.anyio
async def test_retry_refuses_while_another_record_holds_the_key(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        failed = await service.enqueue(job, 1, key="k")
        await _finish_by_hand(service, failed.id, kind="fail")
        holder = await service.enqueue(job, 2, key="k")
        assert holder.created
        with pytest.raises(QueueConfigurationError, match="holds its dedup key"):
            await service.retry(failed.id)
        assert (await service.get_task(failed.id)).status == "failed"


@pytest.mark.anyio
async def test_stats_count_per_queue_and_status(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        await service.enqueue(job, 1)
        await service.enqueue(job, 2, queue="other")
        await service.enqueue(job, 3, run_after=60)
        done = await service.enqueue(job, 4)
        await _finish_by_hand(service, done.id)
        stats = await service.stats()
    assert stats.queues == {
        "default": {"pending": 1, "scheduled": 1, "completed": 1},
        "other": {"pending": 1},
    }
    assert (stats.count("pending"), stats.count("pending", "other"), stats.count("failed")) == (2, 1, 0)
    assert stats.total == 4


_ops = st.lists(
    st.tuples(st.sampled_from(["enqueue", "complete", "cancel"]), st.sampled_from(["a", "b", "c", None])),
    max_size=25,
)


@given(ops=_ops)
@settings(max_examples=150)
def test_dedup_key_is_held_only_while_a_record_is_active(ops: list[tuple[str, str | None]]) -> None:
    registry = TaskRegistry()

    @task("dedup.job", registry=registry)
    async def job() -> None:
        return None

    async def scenario() -> None:
        active: dict[str, uuid.UUID] = {}  # the model: which record holds each key
        created = 0
        async with QueueService(make_config(registry, clock=ManualClock())) as service:
            for op, key in ops:
                if op == "enqueue":
                    result = await service.enqueue(job, key=key)
                    if key is not None and key in active:
                        assert not result.created and result.id == active[key]
                        assert result.record.is_active
                    else:
                        assert result.created
                        created += 1
                        if key is not None:
                            active[key] = result.id
                elif key is not None and key in active:
                    holder = active.pop(key)
                    if op == "cancel":
                        assert (await service.cancel(holder)).status == "cancelled"
                    else:
                        await _finish_by_hand(service, holder)
            assert (await service.stats()).total == created
            for key, holder in active.items():
                record = (await service.get_task(holder)).record
                assert record.key == key and record.is_active

    anyio.run(scenario)


@pytest.mark.anyio
async def test_refresh_reloads_and_returns_the_handle(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(job, 1)
        await _finish_by_hand(service, handle.id)
        assert handle.status == "pending" and not handle.is_terminal
        assert await handle.refresh() is handle
        assert (handle.status, handle.result, handle.error) == ("completed", 7, None)
        assert handle.is_terminal and "completed" in repr(handle)


@pytest.mark.anyio
async def test_wait_times_out_with_timeout_error(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(job, 1)
        with pytest.raises(TimeoutError, match="still pending"):
            await handle.wait(timeout=0.05)
        with pytest.raises(TimeoutError):
            await handle.wait(timeout=0)


@pytest.mark.anyio
async def test_wait_returns_at_once_for_a_terminal_task(registry: TaskRegistry, job: Any) -> None:
    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(job, 1)
        await service.cancel(handle.id)
        assert (await handle.wait(timeout=0)).status == "cancelled"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["complete", "fail", "cancel"])
async def test_wait_wakes_on_the_finish_signal_not_a_timer(
    registry: TaskRegistry, job: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # with the periodic safety re-read pushed out of reach, only the backend's signal can wake wait()
    monkeypatch.setattr(task_result_module, "_SAFETY_WAKE", 10_000.0)
    async with QueueService(make_config(registry)) as service:
        handle = await service.enqueue(job, 1)
        waiting = anyio.Event()

        async def finish_later() -> None:
            await waiting.wait()
            await anyio.sleep(0.05)
            if kind == "cancel":
                await service.cancel(handle.id)
            else:
                await _finish_by_hand(service, handle.id, kind=kind)

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish_later)
            waiting.set()
            with anyio.fail_after(60):
                await handle.wait()
        assert handle.status == {"complete": "completed", "fail": "failed", "cancel": "cancelled"}[kind]
