"""The task-side event helpers called as written from a sync task (no ``await``, no ``anyio.from_thread``).

Sync tasks run in a worker thread (``anyio.to_thread.run_sync`` in the worker's loop). Called
there, ``publish_task_log`` and friends (and the context's methods) publish before they return;
in async code they still return an awaitable.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

from litestar_queues import QueueService, TaskRegistry, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueEventConfig,
    TaskExecutionContext,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
)
from litestar_queues.events import context as task_context
from litestar_queues.exceptions import EventPublishError, NoTaskContextError
from tests.core._support import make_config

pytestmark = pytest.mark.anyio


def _events(sink: InMemoryQueueEventSink, task_id: object) -> list[tuple[str, Any]]:
    return [(e.type, e.message or e.progress_current) for e in sink.for_task(task_id)]


async def test_a_sync_task_publishes_log_progress_and_custom_events_as_written() -> None:
    registry = TaskRegistry()
    sink = InMemoryQueueEventSink()
    returned: list[Any] = []

    @task("sync.events", registry=registry)
    def report(_task_context: TaskExecutionContext) -> str:
        returned.append(publish_task_log("starting"))
        publish_task_progress(1, 2, message="half")
        publish_task_event("custom.step", message="step")
        _task_context.log("from the context")
        _task_context.progress(2, 2)
        return threading.current_thread().name

    config = make_config(registry, event_config=QueueEventConfig(enabled=True, sink=sink))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn here
        async with QueueService(config) as service, service.worker():
            result = await service.enqueue(report)
            await result.wait(timeout=10)
    assert result.status == "completed", result.error
    assert result.result != threading.current_thread().name  # it really ran in a worker thread
    assert _events(sink, result.id) == [
        ("task.started", None),
        ("task.log", "starting"),
        ("task.progress", "half"),
        ("custom.step", "step"),
        ("task.log", "from the context"),
        ("task.progress", 2),
        ("task.completed", None),
    ]
    (published,) = returned
    assert isinstance(published, task_context.PublishedEvent)
    assert published.event is not None and published.event.message == "starting"
    # the same object is awaitable, so code shared by sync and async callers keeps working
    assert await published is published.event


async def test_async_tasks_still_await_the_helpers() -> None:
    registry = TaskRegistry()
    sink = InMemoryQueueEventSink()

    @task("async.events", registry=registry)
    async def report(_task_context: TaskExecutionContext) -> None:
        event = await publish_task_log("a")
        assert event is not None and event.message == "a"
        await _task_context.progress(1, 1)

    config = make_config(registry, event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as service, service.worker():
        result = await service.enqueue(report)
        await result.wait(timeout=10)
    assert result.status == "completed", result.error
    assert [t for t, _ in _events(sink, result.id)] == [
        "task.started",
        "task.log",
        "task.progress",
        "task.completed",
    ]


async def test_strict_publish_failure_in_a_sync_task_raises_in_the_task() -> None:
    registry = TaskRegistry()
    seen: list[str] = []

    class FailingSink:
        async def publish(self, event: Any, channels: Any) -> None:
            if event.type == "task.log":
                raise RuntimeError("sink down")

    @task("sync.strict", registry=registry)
    def report() -> None:
        try:
            publish_task_log("x")
        except EventPublishError as exc:
            seen.append(type(exc).__name__)
            raise

    events = QueueEventConfig(enabled=True, sink=FailingSink(), strict=True)
    async with QueueService(make_config(registry, event_config=events)) as service, service.worker():
        result = await service.enqueue(report)
        await result.wait(timeout=10)
    assert seen == ["EventPublishError"]
    assert result.status == "failed"


async def test_a_thread_the_task_started_gets_a_clear_error() -> None:
    registry = TaskRegistry()
    errors: list[str] = []

    @task("sync.own_thread", registry=registry)
    def report(_task_context: TaskExecutionContext) -> None:
        def elsewhere() -> None:
            try:
                _task_context.log("from my own thread")
            except NoTaskContextError as exc:
                errors.append(str(exc))

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()

    sink = InMemoryQueueEventSink()
    config = make_config(registry, event_config=QueueEventConfig(enabled=True, sink=sink))
    async with QueueService(config) as service, service.worker():
        result = await service.enqueue(report)
        await result.wait(timeout=10)
    assert result.status == "completed", result.error
    (message,) = errors
    assert "not from a thread the task started" in message
