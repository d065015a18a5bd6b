"""Lifecycle events of real runs through QueueService + Worker on the memory backend."""

from __future__ import annotations

import os
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from litestar_queues import Backoff, QueueService, TaskRegistry, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueChannels,
    QueueEventConfig,
    TaskExecutionContext,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
)
from tests.core._support import fast_worker, make_config, wait_until

NO_WAIT = Backoff(initial=0, jitter=0)


def _events(registry: TaskRegistry, sink: InMemoryQueueEventSink, **overrides: Any) -> Any:
    # the task channel only: these tests are about it (test_compat_0_1 covers the queue channel)
    event_config = QueueEventConfig(enabled=True, sink=sink, publish_queue_channel=False)
    return make_config(registry, event_config=event_config, **overrides)


@pytest.mark.anyio
async def test_plain_run_gives_exactly_started_then_completed(registry: TaskRegistry) -> None:
    @task("e.plain", queue="reports", registry=registry)
    async def plain() -> int:
        return 1

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        result = await (await service.enqueue(plain)).wait(timeout=10)
    assert [event.type for event in sink.events] == ["task.started", "task.completed"]
    started, completed = sink.events
    for event in sink.events:
        assert (event.scope, event.task_id, event.scope_key) == ("task", str(result.id), str(result.id))
        assert (event.task_name, event.queue, event.attempt) == ("e.plain", "reports", 1)
        assert (event.worker_id, event.execution_backend) == (f"worker-{os.getpid()}", "local")
    assert started.sequence is not None and completed.sequence is not None
    assert started.sequence < completed.sequence
    assert started.occurred_at <= completed.occurred_at
    assert [channels for _, channels in sink.published] == [[QueueChannels.task(result.id)]] * 2


@pytest.mark.anyio
async def test_failure_with_no_retries_left_ends_in_task_failed(registry: TaskRegistry) -> None:
    @task("e.fail", retries=1, backoff=NO_WAIT, registry=registry)
    async def fail() -> None:
        raise ValueError("broken")

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        await (await service.enqueue(fail)).wait(timeout=10)
    assert [e.type for e in sink.events] == ["task.started", "task.retrying", "task.started", "task.failed"]
    retrying, failed = sink.events[1], sink.events[3]
    assert (retrying.level, retrying.message, retrying.attempt) == ("warning", "ValueError: broken", 1)
    assert retrying.payload is not None and retrying.payload["delaySeconds"] == 0
    assert retrying.payload["retryAt"].endswith("Z")
    assert (failed.level, failed.message, failed.attempt) == ("error", "ValueError: broken", 2)


@given(failures=st.integers(0, 4), logs=st.integers(0, 3))
@settings(max_examples=15)
def test_sequence_strictly_increases_across_attempts(failures: int, logs: int) -> None:
    registry = TaskRegistry()
    calls: list[int] = []

    @task("e.seq", retries=3, backoff=NO_WAIT, registry=registry)
    async def seq() -> None:
        calls.append(1)
        for i in range(logs):
            await publish_task_log(f"log {i}")
        await publish_task_progress(current=len(calls), total=5)
        if len(calls) <= failures:
            raise RuntimeError("again")

    sink = InMemoryQueueEventSink()

    async def scenario() -> None:
        async with QueueService(_events(registry, sink)) as service, service.worker():
            await (await service.enqueue(seq)).wait(timeout=10)

    anyio.run(scenario)
    sequences = [e.sequence for e in sink.events]
    assert all(isinstance(s, int) for s in sequences)
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)  # type: ignore[type-var]
    attempts = [e.attempt for e in sink.events]
    assert attempts == sorted(attempts)  # type: ignore[type-var]
    assert sink.events[-1].type == ("task.completed" if failures <= 3 else "task.failed")
    assert [e.type for e in sink.events].count("task.started") == min(failures + 1, 4)


@pytest.mark.anyio
async def test_progress_percent_is_derived_from_current_and_total(registry: TaskRegistry) -> None:
    @task("e.progress", registry=registry)
    async def progress() -> None:
        await publish_task_progress(current=1, total=4, message="Fetched source")
        await publish_task_progress(current=3, total=3)
        await publish_task_progress(current=7, total=5)
        await publish_task_progress(current=-1, total=5)
        await publish_task_progress(current=2)
        await publish_task_progress(current=2, total=0)

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        await (await service.enqueue(progress)).wait(timeout=10)
    updates = [e for e in sink.events if e.type == "task.progress"]
    assert [(e.progress_current, e.progress_total, e.progress_percent) for e in updates] == [
        (1, 4, 25.0),
        (3, 3, 100.0),
        (7, 5, 100.0),
        (-1, 5, 0.0),
        (2, None, None),
        (2, 0, None),
    ]
    assert updates[0].message == "Fetched source"


@pytest.mark.anyio
async def test_spec_helpers_publish_log_progress_and_custom_events(registry: TaskRegistry) -> None:
    @task("videos.transcode", registry=registry)
    async def transcode_video(video_id: str) -> None:
        await publish_task_log("Transcode started", payload={"video_id": video_id})
        await publish_task_progress(current=1, total=4, message="Fetched source")
        await publish_task_event(
            "task.event",
            message="Preview ready",
            payload={"video_id": video_id},
            channels=["litestar_queues:custom:videos:events", QueueChannels.task("x")],
            event_key="preview:v1",
        )

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        result = await (await service.enqueue(transcode_video, "v1")).wait(timeout=10)
    types = [e.type for e in sink.events]
    assert types == ["task.started", "task.log", "task.progress", "task.event", "task.completed"]
    log, _, custom = sink.events[1:4]
    assert (log.level, log.message, log.payload) == ("info", "Transcode started", {"video_id": "v1"})
    assert (custom.message, custom.event_key, custom.dedup_key) == (
        "Preview ready",
        "preview:v1",
        "preview:v1",
    )
    assert sink.published[3][1] == [
        QueueChannels.task(result.id),
        "litestar_queues:custom:videos:events",
        QueueChannels.task("x"),
    ]


@pytest.mark.anyio
async def test_global_lifecycle_channel_only_for_lifecycle_events(registry: TaskRegistry) -> None:
    @task("e.global", registry=registry)
    async def job() -> None:
        await publish_task_log("hello")

    sink = InMemoryQueueEventSink()
    config = make_config(
        registry,
        event_config=QueueEventConfig(
            enabled=True, sink=sink, publish_global_lifecycle=True, publish_queue_channel=False
        ),
    )
    async with QueueService(config) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    task_channel, global_channel = QueueChannels.task(result.id), QueueChannels.global_channel()
    assert [(e.type, channels) for e, channels in sink.published] == [
        ("task.started", [task_channel, global_channel]),
        ("task.log", [task_channel]),
        ("task.completed", [task_channel, global_channel]),
    ]


@pytest.mark.anyio
async def test_worker_id_is_null_for_immediate_runs(registry: TaskRegistry) -> None:
    @task("e.immediate", registry=registry)
    async def job() -> None:
        await publish_task_log("inline")

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service:
        await service.enqueue(job, execution_backend="immediate")
    assert [e.type for e in sink.events] == ["task.started", "task.log", "task.completed"]
    assert {e.worker_id for e in sink.events} == {None}
    assert {e.execution_backend for e in sink.events} == {"immediate"}


@pytest.mark.anyio
async def test_configured_worker_id_is_used(registry: TaskRegistry) -> None:
    @task("e.wid", registry=registry)
    async def job() -> None:
        return None

    sink = InMemoryQueueEventSink()
    config = _events(registry, sink, worker=fast_worker(worker_id="box-1"))
    async with QueueService(config) as service, service.worker():
        await (await service.enqueue(job)).wait(timeout=10)
    assert {e.worker_id for e in sink.events} == {"box-1"}


@pytest.mark.anyio
async def test_cancelled_running_task_emits_task_cancelled_in_sequence(registry: TaskRegistry) -> None:
    started = anyio.Event()

    @task("e.cancel", registry=registry)
    async def job() -> None:
        await publish_task_log("working")
        started.set()
        await anyio.sleep_forever()

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        handle = await service.enqueue(job)
        await started.wait()
        await service.cancel(handle.id)
        await sink.wait_for("task.cancelled", timeout=10)
    assert [e.type for e in sink.events] == ["task.started", "task.log", "task.cancelled"]
    sequences = [e.sequence for e in sink.events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3  # type: ignore[type-var]


@pytest.mark.anyio
async def test_timeout_emits_failed(registry: TaskRegistry) -> None:
    @task("e.timeout", timeout=0.05, registry=registry)
    async def job() -> None:
        await anyio.sleep_forever()

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        await (await service.enqueue(job)).wait(timeout=10)
    assert [e.type for e in sink.events] == ["task.started", "task.failed"]
    assert "timed out" in (sink.events[-1].message or "")


@pytest.mark.anyio
async def test_sink_wait_for_and_helpers(registry: TaskRegistry) -> None:
    sink = InMemoryQueueEventSink()
    with pytest.raises(TimeoutError):
        await sink.wait_for("task.started", timeout=0.01)

    @task("e.sinkhelp", registry=registry)
    async def job() -> None:
        return None

    async with QueueService(_events(registry, sink)) as service, service.worker():
        one = await service.enqueue(job)
        await sink.wait_for("task.completed", timeout=10)
        two = await (await service.enqueue(job)).wait(timeout=10)
        await wait_until(lambda: _count(sink, 4))
    assert [e.type for e in sink.for_task(one.id)] == ["task.started", "task.completed"]
    assert len(sink.for_task(two.id)) == 2
    sink.clear()
    assert sink.events == [] and sink.published == []


async def _count(sink: InMemoryQueueEventSink, n: int) -> bool:
    return len(sink.events) >= n


@pytest.mark.anyio
async def test_a_sync_task_publishes_through_from_thread(registry: TaskRegistry) -> None:
    import anyio.from_thread

    @task("e.sync_publish", registry=registry)
    def resize(_task_context: TaskExecutionContext) -> str:
        anyio.from_thread.run(publish_task_log, "from the worker thread")
        anyio.from_thread.run(lambda: _task_context.progress(current=1, total=2))
        return "ok"

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink)) as service, service.worker():
        result = await (await service.enqueue(resize)).wait(timeout=10)
    assert result.status == "completed"
    assert [e.type for e in sink.events] == ["task.started", "task.log", "task.progress", "task.completed"]
    assert {e.task_id for e in sink.events} == {str(result.id)}


@pytest.mark.anyio
async def test_cancelling_a_waiting_task_emits_task_cancelled_after_its_earlier_events(
    registry: TaskRegistry,
) -> None:
    from tests.core._support import ManualClock

    clock = ManualClock()

    @task("e.cancel_waiting", retries=1, backoff=Backoff(initial=60, jitter=0), registry=registry)
    async def job() -> None:
        raise RuntimeError("first attempt fails")

    sink = InMemoryQueueEventSink()
    async with QueueService(_events(registry, sink, clock=clock)) as service:
        never_ran = await service.enqueue(job, run_after=10)
        await service.cancel(never_ran.id)
        await service.cancel(never_ran.id)  # already cancelled: nothing more
        async with service.worker():
            waiting = await service.enqueue(job)
            await sink.wait_for("task.retrying", timeout=10)
        assert (await waiting.refresh()).status == "scheduled"
        await service.cancel(waiting.id)
    assert [e.type for e in sink.for_task(never_ran.id)] == ["task.cancelled"]
    events = sink.for_task(waiting.id)
    assert [e.type for e in events] == ["task.started", "task.retrying", "task.cancelled"]
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3  # type: ignore[type-var]
    assert events[-1].worker_id is None and events[-1].message == "cancelled before it ran"
