"""Sinks combined, best-effort versus strict publishing, and the task-side helpers' context."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

from litestar_queues import Backoff, QueueService, TaskRegistry, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueEvent,
    QueueEventConfig,
    TaskExecutionContext,
    current_task_context,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
)
from litestar_queues.exceptions import EventPublishError, NoTaskContextError
from litestar_queues.ports import EventSink
from tests.core._support import make_config

if TYPE_CHECKING:
    from collections.abc import Sequence


class SlowSink:
    """A real sink that takes far longer than the publish timeout for every event."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.attempts = 0
        self.finished = 0

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        self.attempts += 1
        await anyio.sleep(self.seconds)
        self.finished += 1


class FailingSink:
    """A real sink whose delivery always fails (its downstream is gone)."""

    def __init__(self) -> None:
        self.attempts = 0

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        self.attempts += 1
        raise ConnectionError("downstream is gone")


def _config(registry: TaskRegistry, sinks: EventSink | list[EventSink], **event_options: Any) -> Any:
    return make_config(registry, event_config=QueueEventConfig(enabled=True, sink=sinks, **event_options))


def test_sinks_satisfy_the_port() -> None:
    for sink in (InMemoryQueueEventSink(), SlowSink(0), FailingSink()):
        assert isinstance(sink, EventSink)


@pytest.mark.anyio
async def test_several_sinks_each_receive_every_event(registry: TaskRegistry) -> None:
    @task("p.multi", registry=registry)
    async def job() -> None:
        await publish_task_log("hi")

    first, second = InMemoryQueueEventSink(), InMemoryQueueEventSink()
    async with QueueService(_config(registry, [first, second])) as service, service.worker():
        await (await service.enqueue(job)).wait(timeout=10)
    assert [e.type for e in first.events] == ["task.started", "task.log", "task.completed"]
    assert first.events == second.events
    assert first.published == second.published


@pytest.mark.anyio
async def test_best_effort_slow_and_failing_sinks_cannot_stall_or_crash_the_worker(
    registry: TaskRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @task("p.best_effort", registry=registry)
    async def job(n: int) -> int:
        await publish_task_progress(current=1, total=2)
        await publish_task_log("halfway")
        return n

    slow, failing, healthy = SlowSink(seconds=3600), FailingSink(), InMemoryQueueEventSink()
    config = _config(registry, [slow, failing, healthy], publish_timeout=0.05)
    caplog.set_level(logging.WARNING, logger="litestar_queues.events")
    async with QueueService(config) as service, service.worker():
        handles = [await service.enqueue(job, n) for n in range(3)]
        results = [await handle.wait(timeout=30) for handle in handles]
    assert [(r.status, r.result) for r in results] == [("completed", 0), ("completed", 1), ("completed", 2)]
    assert slow.attempts == failing.attempts == len(healthy.events) == 12
    assert slow.finished == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SlowSink failed to publish" in w and "TimeoutError" in w for w in warnings)
    assert any("FailingSink failed to publish" in w and "downstream is gone" in w for w in warnings)


@pytest.mark.anyio
async def test_strict_publish_failure_fails_the_attempt(registry: TaskRegistry) -> None:
    calls: list[int] = []

    @task("p.strict", retries=1, backoff=Backoff(initial=0, jitter=0), registry=registry)
    async def job() -> str:
        calls.append(1)
        await publish_task_log("this publish fails")
        return "unreachable"

    async with QueueService(_config(registry, FailingSink(), strict=True)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert result.status == "failed" and result.record.attempts == 2
    assert result.error is not None and "EventPublishError" in result.error and "FailingSink" in result.error
    # the task.started publish already failed, so the task body never ran
    assert calls == []


@pytest.mark.anyio
async def test_strict_slow_sink_times_out_and_fails_the_attempt(registry: TaskRegistry) -> None:
    @task("p.strict_slow", registry=registry)
    async def job() -> str:
        return "unreachable"

    config = _config(registry, SlowSink(3600), strict=True, publish_timeout=0.05)
    async with QueueService(config) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert result.status == "failed" and "EventPublishError" in (result.error or "")


@pytest.mark.anyio
async def test_strict_failure_raised_inside_the_task_body(registry: TaskRegistry) -> None:
    class FailsOnLogs(InMemoryQueueEventSink):
        async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
            if event.type == "task.log":
                raise ConnectionError("logs are down")
            await super().publish(event, channels)

    seen: list[str] = []

    @task("p.strict_body", registry=registry)
    async def job() -> None:
        try:
            await publish_task_log("x")
        except EventPublishError as exc:
            seen.append(str(exc))
            raise

    sink = FailsOnLogs()
    async with QueueService(_config(registry, sink, strict=True)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert result.status == "failed" and len(seen) == 1 and "logs are down" in seen[0]
    assert [e.type for e in sink.events] == ["task.started", "task.failed"]


@pytest.mark.anyio
async def test_helpers_outside_a_task_raise_no_task_context_error() -> None:
    with pytest.raises(NoTaskContextError, match="no task is running"):
        await publish_task_log("x")
    with pytest.raises(NoTaskContextError):
        await publish_task_progress(current=1, total=2)
    with pytest.raises(NoTaskContextError):
        await publish_task_event("custom")
    with pytest.raises(NoTaskContextError):
        current_task_context()
    assert issubclass(NoTaskContextError, RuntimeError)


@pytest.mark.anyio
async def test_concurrent_tasks_never_mix_their_contexts(registry: TaskRegistry) -> None:
    gate = anyio.Event()
    arrived = 0

    @task("p.mix", registry=registry)
    async def job(name: str, _task_context: TaskExecutionContext) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == 8:
            gate.set()
        await gate.wait()  # all eight run at the same time before any publishes
        for step in range(3):
            await publish_task_log(f"{name} step {step}", payload={"name": name})
            assert current_task_context() is _task_context
            await anyio.lowlevel.checkpoint()
        return name

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink)) as service, service.worker():
        handles = [await service.enqueue(job, f"job-{i}") for i in range(8)]
        results = [await h.wait(timeout=10) for h in handles]
    assert all(r.status == "completed" for r in results)
    for handle in handles:
        logs = [e for e in sink.for_task(handle.id) if e.type == "task.log"]
        name = handle.record.args[0]
        assert [e.message for e in logs] == [f"{name} step {s}" for s in range(3)]
        assert all(e.payload == {"name": name} for e in logs)
    # and outside the tasks nothing is bound
    with pytest.raises(NoTaskContextError):
        current_task_context()


@pytest.mark.anyio
async def test_context_methods_are_no_ops_when_events_are_disabled(registry: TaskRegistry) -> None:
    returned: list[Any] = []

    @task("p.disabled", registry=registry)
    async def job(_task_context: TaskExecutionContext) -> str:
        assert not _task_context.events_enabled
        returned.append(await _task_context.progress(current=1, total=10, message="x"))
        returned.append(await _task_context.log("x"))
        returned.append(await _task_context.event("custom.thing", payload={"a": 1}))
        returned.append(await publish_task_log("x"))
        returned.append(await publish_task_progress(current=1))
        returned.append(await publish_task_event("custom"))
        return "ok"

    async with QueueService(make_config(registry)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert (result.status, result.result) == ("completed", "ok")
    assert returned == [None] * 6

    disabled = QueueEventConfig(enabled=False, sink=InMemoryQueueEventSink())
    async with QueueService(make_config(registry, event_config=disabled)) as service, service.worker():
        assert service.publisher is None
        assert (await (await service.enqueue(job)).wait(timeout=10)).status == "completed"
    assert disabled.build_sinks() == []


@pytest.mark.anyio
async def test_context_methods_return_the_published_event(registry: TaskRegistry) -> None:
    returned: list[Any] = []

    @task("p.returns", registry=registry)
    async def job(_task_context: TaskExecutionContext) -> None:
        returned.append(await _task_context.progress(current=5, total=10))
        returned.append(await _task_context.log("warn!", level="warning"))
        returned.append(await _task_context.event("thing.done", actor="u1", entity="e1", event_key="k"))

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink)) as service, service.worker():
        await (await service.enqueue(job)).wait(timeout=10)
    assert returned == sink.events[1:4]
    assert returned[0].progress_percent == 50.0
    assert (returned[1].type, returned[1].level) == ("task.log", "warning")
    assert (returned[2].actor, returned[2].entity, returned[2].event_key) == ("u1", "e1", "k")
