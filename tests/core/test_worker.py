"""The worker through QueueService + Worker on the memory backend."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litestar_queues import (
    Backoff,
    NonRetryableError,
    QueueService,
    TaskRegistry,
    non_retryable,
    task,
)
from litestar_queues.events import TaskExecutionContext
from tests.core._support import ManualClock, fast_worker, make_config, wait_until

if TYPE_CHECKING:
    import uuid

NO_WAIT = Backoff(initial=0, jitter=0)


@pytest.mark.anyio
async def test_a_task_runs_and_its_result_is_stored(registry: TaskRegistry) -> None:
    @task("w.add", registry=registry)
    async def add(a: int, b: int) -> int:
        return a + b

    async with QueueService(make_config(registry)) as service, service.worker() as worker:
        result = await service.enqueue(add, 2, b=3)
        await result.wait(timeout=10)
    record = result.record
    assert (result.status, result.result, result.error) == ("completed", 5, None)
    assert (record.attempts, record.runs, record.lease_id, record.lease_expires_at) == (1, 1, None, None)
    assert record.worker_id == f"worker-{os.getpid()}" == worker.worker_id
    assert record.started_at is not None and record.finished_at is not None
    assert (worker.completed, worker.failed, worker.running_count) == (1, 0, 0)


@given(retries=st.integers(0, 3), failures=st.integers(0, 5))
@settings(max_examples=25)
def test_retries_n_means_at_most_n_plus_one_attempts(retries: int, failures: int) -> None:
    registry = TaskRegistry()
    calls: list[int] = []

    @task("w.flaky", retries=retries, backoff=NO_WAIT, registry=registry)
    async def flaky() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError(f"failure {len(calls)}")
        return "ok"

    async def scenario() -> None:
        async with QueueService(make_config(registry)) as service, service.worker():
            result = await (await service.enqueue(flaky)).wait(timeout=10)
        assert len(calls) == min(failures + 1, retries + 1)
        assert result.record.attempts == len(calls) == result.record.runs
        if failures <= retries:
            assert (result.status, result.result) == ("completed", "ok")
            assert result.error == (f"RuntimeError: failure {failures}" if failures else None)
        else:
            assert (result.status, result.error) == ("failed", f"RuntimeError: failure {retries + 1}")

    anyio.run(scenario)


@pytest.mark.anyio
async def test_retry_waits_for_the_backoff_delay(registry: TaskRegistry) -> None:
    clock = ManualClock()
    calls: list[int] = []

    @task("w.backoff", retries=2, backoff=Backoff(initial=10, multiplier=3, jitter=0), registry=registry)
    async def always_fails() -> None:
        calls.append(1)
        raise ValueError("nope")

    async with QueueService(make_config(registry, clock=clock)) as service, service.worker():
        handle = await service.enqueue(always_fails)

        async def status_is(status: str, attempts: int) -> bool:
            record = (await handle.refresh()).record
            return record.status == status and record.attempts == attempts

        await wait_until(lambda: status_is("scheduled", 1))
        assert handle.record.run_at == clock.now() + anyio_seconds(10)
        assert handle.error == "ValueError: nope"
        await anyio.sleep(0.2)  # several poll intervals: still not due on the manual clock
        assert len(calls) == 1
        clock.advance(10)
        await wait_until(lambda: status_is("scheduled", 2))
        assert handle.record.run_at == clock.now() + anyio_seconds(30)
        clock.advance(30)
        await handle.wait(timeout=10)
    assert (handle.status, handle.record.attempts, len(calls)) == ("failed", 3, 3)


def anyio_seconds(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


@given(
    initial=st.floats(0, 100),
    multiplier=st.floats(1, 5),
    maximum=st.floats(0, 1000),
    jitter=st.floats(0, 1),
    retry=st.integers(1, 30),
)
def test_backoff_delay_stays_within_its_jitter_band(
    initial: float, multiplier: float, maximum: float, jitter: float, retry: int
) -> None:
    import random

    backoff = Backoff(initial=initial, multiplier=multiplier, maximum=maximum, jitter=jitter)
    base = min(maximum, initial * multiplier ** (retry - 1))
    delay = backoff.delay(retry, random.Random(retry))
    assert max(0.0, base * (1 - jitter)) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    no_jitter = Backoff(initial=initial, multiplier=multiplier, maximum=maximum, jitter=0)
    assert no_jitter.delay(retry) <= no_jitter.delay(retry + 1) <= maximum


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["raise", "helper"])
async def test_non_retryable_fails_at_once(registry: TaskRegistry, how: str) -> None:
    calls: list[int] = []

    @task("w.fatal", retries=5, backoff=NO_WAIT, registry=registry)
    async def fatal() -> None:
        calls.append(1)
        if how == "raise":
            raise NonRetryableError("bad input")
        non_retryable("bad input")

    async with QueueService(make_config(registry)) as service, service.worker():
        result = await (await service.enqueue(fatal)).wait(timeout=10)
    assert (result.status, result.error, len(calls)) == ("failed", "NonRetryableError: bad input", 1)


@pytest.mark.anyio
async def test_timeout_cancels_the_attempt_and_counts_it_as_failed(registry: TaskRegistry) -> None:
    cancelled: list[bool] = []

    @task("w.slow", retries=1, timeout=0.1, backoff=NO_WAIT, registry=registry)
    async def slow() -> None:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async with QueueService(make_config(registry)) as service, service.worker() as worker:
        result = await (await service.enqueue(slow)).wait(timeout=10)
        fast = await (await service.enqueue(slow.using(timeout=30, retries=0))).refresh()
        await service.cancel(fast.id)
    assert (result.status, result.record.attempts) == ("failed", 2)
    assert result.error == "TimeoutError: task timed out after 0.1 s"
    assert cancelled == [True, True]
    assert worker.failed == 1


@pytest.mark.anyio
async def test_job_id_and_task_context_are_injected(registry: TaskRegistry) -> None:
    seen: dict[str, Any] = {}

    @task("w.inject", queue="q1", registry=registry)
    async def inject(path: str, _job_id: object, _task_context: TaskExecutionContext) -> str:
        seen.update(job_id=_job_id, context=_task_context)
        await _task_context.progress(current=1, total=10, message=f"Started {_job_id}")
        return path

    @task("w.only_id", registry=registry)
    def only_id(_job_id: uuid.UUID) -> str:
        return str(_job_id)

    async with QueueService(make_config(registry)) as service, service.worker():
        first = await (await service.enqueue(inject, "file.csv", metadata={"m": 1})).wait(timeout=10)
        second = await (await service.enqueue(only_id)).wait(timeout=10)
    assert first.result == "file.csv" and seen["job_id"] == first.id
    context = seen["context"]
    assert isinstance(context, TaskExecutionContext)
    assert (context.task_id, context.task_name, context.queue, context.attempt) == (
        first.id,
        "w.inject",
        "q1",
        1,
    )
    assert (context.metadata, context.events_enabled, context.execution_backend) == ({"m": 1}, False, "local")
    assert second.result == str(second.id)
    assert "_job_id" not in second.record.kwargs


@given(priorities=st.lists(st.integers(-3, 3), min_size=1, max_size=12))
@settings(max_examples=40)
def test_higher_priority_first_then_enqueue_order(priorities: list[int]) -> None:
    registry = TaskRegistry()
    order: list[int] = []

    @task("w.ordered", registry=registry)
    async def ordered(index: int) -> None:
        order.append(index)

    async def scenario() -> None:
        async with QueueService(make_config(registry, worker=fast_worker(concurrency=1))) as service:
            for index, priority in enumerate(priorities):
                await service.enqueue(ordered, index, priority=priority, queue=f"q{index % 2}")
            async with service.worker():
                await wait_until(lambda: _done(service, len(priorities)))

    anyio.run(scenario)
    expected = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    assert order == expected


async def _done(service: QueueService, count: int) -> bool:
    return (await service.stats()).count("completed") == count


@pytest.mark.anyio
async def test_worker_serves_only_its_queues(registry: TaskRegistry) -> None:
    @task("w.q", registry=registry)
    async def job() -> None:
        return None

    async with QueueService(make_config(registry)) as service:
        mine = await service.enqueue(job, queue="mine")
        other = await service.enqueue(job, queue="other")
        async with service.worker(queues=["mine"]):
            await mine.wait(timeout=10)
            await anyio.sleep(0.2)
        assert (await other.refresh()).status == "pending"


@pytest.mark.anyio
async def test_sync_tasks_run_in_a_thread_not_on_the_event_loop(registry: TaskRegistry) -> None:
    loop_thread = threading.get_ident()

    @task("w.sync", registry=registry)
    def blocking(x: int) -> int:
        return threading.get_ident()

    @task("w.async", registry=registry)
    async def on_loop() -> int:
        return threading.get_ident()

    async with QueueService(make_config(registry)) as service, service.worker():
        sync_result = await (await service.enqueue(blocking, 1)).wait(timeout=10)
        async_result = await (await service.enqueue(on_loop)).wait(timeout=10)
    assert sync_result.status == "completed" and sync_result.result != loop_thread
    assert async_result.result == loop_thread


@pytest.mark.anyio
async def test_sync_tasks_run_concurrently_in_the_bounded_pool(registry: TaskRegistry) -> None:
    barrier = threading.Barrier(3, timeout=10)

    @task("w.barrier", registry=registry)
    def meet() -> bool:
        barrier.wait()  # only returns once three threads run at the same time
        return True

    config = make_config(registry, worker=fast_worker(concurrency=3))
    async with QueueService(config) as service, service.worker():
        handles = [await service.enqueue(meet) for _ in range(3)]
        for handle in handles:
            await handle.wait(timeout=15)
    assert [h.result for h in handles] == [True, True, True]


@pytest.mark.anyio
async def test_unregistered_task_fails_clearly_and_the_worker_goes_on(registry: TaskRegistry) -> None:
    elsewhere = TaskRegistry()

    @task("w.not_here", registry=elsewhere)
    async def not_here() -> None:
        return None

    @task("w.here", registry=registry)
    async def here() -> str:
        return "fine"

    async with QueueService(make_config(registry)) as service, service.worker() as worker:
        orphan = await service.enqueue(not_here)
        await orphan.wait(timeout=10)
        good = await (await service.enqueue(here)).wait(timeout=10)
    assert orphan.status == "failed"
    assert orphan.error is not None and "'w.not_here'" in orphan.error and "not" in orphan.error
    assert (good.status, good.result, worker.failed, worker.completed) == ("completed", "fine", 1, 1)


@pytest.mark.anyio
async def test_unserialisable_result_fails_the_task_clearly(registry: TaskRegistry) -> None:
    @task("w.bad_result", retries=3, registry=registry)
    async def bad_result() -> object:
        return object()

    async with QueueService(make_config(registry)) as service, service.worker():
        result = await (await service.enqueue(bad_result)).wait(timeout=10)
    assert result.status == "failed" and result.record.attempts == 1
    assert result.error is not None and "result of task 'w.bad_result' cannot be serialised" in result.error


@pytest.mark.anyio
async def test_concurrency_limits_running_tasks(registry: TaskRegistry) -> None:
    running = 0
    peak = 0
    release = anyio.Event()

    @task("w.limited", registry=registry)
    async def limited() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    config = make_config(registry, worker=fast_worker(concurrency=2))
    async with QueueService(config) as service, service.worker() as worker:
        handles = [await service.enqueue(limited) for _ in range(5)]

        async def two_running() -> bool:
            return worker.running_count == 2

        await wait_until(two_running)
        await anyio.sleep(0.1)
        assert (await service.stats()).count("pending") == 3
        release.set()
        for handle in handles:
            await handle.wait(timeout=10)
    assert peak == 2


@given(jobs=st.lists(st.tuples(st.integers(-2, 2), st.sampled_from([0, 5, 50])), min_size=1, max_size=10))
@settings(max_examples=30)
def test_delayed_tasks_join_the_order_by_priority_then_enqueue_order_once_due(
    jobs: list[tuple[int, int]],
) -> None:
    registry = TaskRegistry()
    order: list[int] = []

    @task("w.delayed_order", registry=registry)
    async def ordered(index: int) -> None:
        order.append(index)

    async def scenario() -> None:
        clock = ManualClock()
        config = make_config(registry, clock=clock, worker=fast_worker(concurrency=1))
        async with QueueService(config) as service:
            for index, (priority, delay) in enumerate(jobs):
                await service.enqueue(ordered, index, priority=priority, run_after=delay)
            clock.advance(10)  # the 0 s and 5 s ones are due, the 50 s ones are not
            due = sum(1 for _, delay in jobs if delay <= 10)
            async with service.worker():
                await wait_until(lambda: _done(service, due))
                await anyio.sleep(0.1)
            assert (await service.stats()).count("scheduled") == len(jobs) - due

    anyio.run(scenario)
    due_indexes = [i for i, (_, delay) in enumerate(jobs) if delay <= 10]
    assert order == sorted(due_indexes, key=lambda i: (-jobs[i][0], i))
