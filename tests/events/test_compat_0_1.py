"""Code written against litestar-queues 0.1.0 keeps working (issue 15, items 1, 2 and 5).

Each test is written the way a 0.1.0 user wrote the code: a custom sink, the progress helpers,
channel names, a subscriber on the queue channel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from litestar_queues import Backoff, QueueService, TaskRegistry, task
from litestar_queues.events import (
    InMemoryQueueEventSink,
    QueueChannels,
    QueueEvent,
    QueueEventConfig,
    QueueEventPublisher,
    TaskExecutionContext,
    publish_task_progress,
)
from litestar_queues.ports import EventSink
from tests.core._support import make_config

if TYPE_CHECKING:
    from collections.abc import Sequence


def _config(registry: TaskRegistry, sink: Any, **event_options: Any) -> Any:
    return make_config(registry, event_config=QueueEventConfig(enabled=True, sink=sink, **event_options))


def _progress(sink: InMemoryQueueEventSink) -> list[tuple[Any, Any, Any]]:
    return [
        (e.progress_current, e.progress_total, e.progress_percent)
        for e in sink.events
        if e.type == "task.progress"
    ]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- item 1: a sink whose ``channels`` parameter is keyword-only ---------------------------------


class KeywordOnlySink:
    """A custom sink as 0.1.0 users wrote it: ``channels`` is keyword-only."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def publish(self, event: QueueEvent, *, channels: Sequence[str]) -> None:
        self.received.append((event.type, list(channels)))


class PositionalSink:
    """The other form: ``channels`` positional-or-keyword."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        self.received.append(event.type)


def test_both_sink_forms_satisfy_the_port() -> None:
    sinks: list[EventSink] = [KeywordOnlySink(), PositionalSink(), InMemoryQueueEventSink()]
    assert all(isinstance(sink, EventSink) for sink in sinks)


@pytest.mark.anyio
@pytest.mark.parametrize("strict", [False, True], ids=["best-effort", "strict"])
async def test_keyword_only_sink_receives_every_event(
    registry: TaskRegistry, caplog: pytest.LogCaptureFixture, strict: bool
) -> None:
    @task("compat.sink.keyword", registry=registry)
    async def job() -> str:
        await publish_task_progress(current=1, total=2)
        return "done"

    keyword, positional = KeywordOnlySink(), PositionalSink()
    caplog.set_level(logging.WARNING, logger="litestar_queues")
    async with (
        QueueService(_config(registry, [keyword, positional], strict=strict)) as service,
        service.worker(),
    ):
        handle = await service.enqueue(job)
        result = await handle.wait(timeout=10)
    assert (result.status, result.result) == ("completed", "done")
    channels = [QueueChannels.task(handle.id), QueueChannels.queue("default")]
    assert keyword.received == [
        ("task.started", channels),
        ("task.progress", channels),
        ("task.completed", channels),
    ]
    assert positional.received == ["task.started", "task.progress", "task.completed"]
    assert _warnings(caplog) == []


# -- item 2: progress with ``current=None`` and malformed values ---------------------------------


@pytest.mark.anyio
async def test_progress_with_current_none_does_not_fail_the_task(registry: TaskRegistry) -> None:
    @task("compat.progress.none", registry=registry)
    async def job(_task_context: TaskExecutionContext) -> str:
        await publish_task_progress(current=None, total=10)
        await _task_context.progress(current=None, total=10, message="waiting for the source")
        return "ok"

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert (result.status, result.result) == ("completed", "ok")
    progress = [e for e in sink.events if e.type == "task.progress"]
    assert [(e.progress_current, e.progress_total, e.progress_percent) for e in progress] == [
        (None, 10, None),
        (None, 10, None),
    ]
    assert progress[1].message == "waiting for the source"


@pytest.mark.anyio
async def test_progress_with_current_none_behaves_the_same_with_events_disabled(
    registry: TaskRegistry,
) -> None:
    @task("compat.progress.none_disabled", registry=registry)
    async def job() -> str:
        await publish_task_progress(current=None, total=10)
        return "ok"

    async with QueueService(make_config(registry)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert (result.status, result.result) == ("completed", "ok")


@pytest.mark.anyio
async def test_malformed_progress_never_fails_a_task_in_best_effort_mode(
    registry: TaskRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    @task("compat.progress.malformed", registry=registry)
    async def job() -> str:
        await publish_task_progress(current="3", total=10)  # type: ignore[arg-type]
        await publish_task_progress(current=float("nan"), total=10)
        await publish_task_progress(current=3, total="ten")  # type: ignore[arg-type]
        await publish_task_progress(current=3, total=10, percent="high")  # type: ignore[arg-type]
        await publish_task_progress(current=True, total=10)
        await publish_task_progress(current=5, total=0)
        return "ok"

    sink = InMemoryQueueEventSink()
    caplog.set_level(logging.WARNING, logger="litestar_queues.events")
    async with QueueService(_config(registry, sink)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert (result.status, result.result) == ("completed", "ok")
    progress = _progress(sink)
    # the malformed value is dropped (null on the wire), the rest of the event is published
    assert progress == [
        (None, 10, None),
        (None, 10, None),
        (3, None, None),
        (3, 10, 30.0),
        (None, 10, None),
        (5, 0, None),
    ]
    # logged once per run and argument: current, total, percent
    warnings = _warnings(caplog)
    assert len(warnings) == 3, warnings
    assert all("malformed progress" in w and "compat.progress.malformed" in w for w in warnings)
    assert ["current '3'" in warnings[0], "total 'ten'" in warnings[1], "percent 'high'" in warnings[2]] == [
        True,
        True,
        True,
    ]


@pytest.mark.anyio
async def test_malformed_progress_in_strict_mode_fails_the_attempt(registry: TaskRegistry) -> None:
    @task("compat.progress.strict", retries=0, backoff=Backoff(initial=0, jitter=0), registry=registry)
    async def job() -> str:
        await publish_task_progress(current="3", total=10)  # type: ignore[arg-type]
        return "unreachable"

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink, strict=True)) as service, service.worker():
        result = await (await service.enqueue(job)).wait(timeout=10)
    assert result.status == "failed"
    assert "EventPublishError" in (result.error or "") and "progress current" in (result.error or "")
    assert [e.type for e in sink.events] == ["task.started", "task.failed"]


@pytest.mark.anyio
async def test_current_none_is_not_malformed_in_strict_mode(registry: TaskRegistry) -> None:
    @task("compat.progress.strict_none", registry=registry)
    async def job() -> str:
        await publish_task_progress(current=None, total=10)
        return "ok"

    config = _config(registry, InMemoryQueueEventSink(), strict=True)
    async with QueueService(config) as service, service.worker():
        assert (await (await service.enqueue(job)).wait(timeout=10)).status == "completed"


# -- item 5: percent=, topic=, task events on the queue channel -----------------------------------


@pytest.mark.anyio
async def test_progress_helpers_take_percent(registry: TaskRegistry) -> None:
    @task("compat.progress.percent", registry=registry)
    async def job(_task_context: TaskExecutionContext) -> None:
        await publish_task_progress(percent=40, message="uploading")
        await _task_context.progress(percent=55.5)
        await publish_task_progress(current=1, total=4, percent=30)  # an explicit percent wins
        await publish_task_progress(percent=250)  # clamped to 0..100

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink)) as service, service.worker():
        assert (await (await service.enqueue(job)).wait(timeout=10)).status == "completed"
    progress = _progress(sink)
    assert progress == [(None, None, 40), (None, None, 55.5), (1, 4, 30), (None, None, 100.0)]


def test_channel_builders_take_a_topic() -> None:
    assert QueueChannels.task("abc", topic="progress") == "litestar_queues:task:abc:progress"
    assert QueueChannels.queue("reports", topic="logs") == "litestar_queues:queue:reports:logs"
    assert QueueChannels.worker("worker-12", topic="health") == "litestar_queues:worker:worker-12:health"
    assert QueueChannels.global_channel(topic="audit") == "litestar_queues:global:audit"
    assert QueueChannels.custom("tenant-1", topic="billing") == "litestar_queues:custom:tenant-1:billing"
    # the 0.1.0 names are the topic "events"
    assert QueueChannels.task("abc") == QueueChannels.task("abc", topic="events")
    assert QueueChannels.global_channel() == QueueChannels.global_channel(topic="events")
    with pytest.raises(ValueError, match="topic"):
        QueueChannels.task("abc", topic="")


@pytest.mark.anyio
async def test_topic_channels_are_explicit_channels_of_the_helpers(registry: TaskRegistry) -> None:
    @task("compat.topic", registry=registry)
    async def job(_task_context: TaskExecutionContext) -> None:
        progress_channel = QueueChannels.task(_task_context.task_id, topic="progress")
        await publish_task_progress(current=1, total=2, channels=[progress_channel])

    sink = InMemoryQueueEventSink()
    async with QueueService(_config(registry, sink)) as service, service.worker():
        handle = await service.enqueue(job)
        await handle.wait(timeout=10)
    (channels,) = [channels for event, channels in sink.published if event.type == "task.progress"]
    assert channels == [
        QueueChannels.task(handle.id),
        QueueChannels.queue("default"),
        f"litestar_queues:task:{handle.id}:progress",
    ]


@pytest.mark.anyio
async def test_task_events_also_go_to_their_queue_channel_by_default(registry: TaskRegistry) -> None:
    # a 0.1.0 app subscribed to QueueChannels.queue(...) to follow every task of a queue
    @task("compat.queue_channel", queue="reports", registry=registry)
    async def job() -> None:
        await publish_task_progress(current=1, total=1)

    sink = InMemoryQueueEventSink()
    config = _config(registry, sink, publish_global_lifecycle=True)
    async with QueueService(config) as service, service.worker():
        handle = await service.enqueue(job)
        await handle.wait(timeout=10)
    task_channel, queue_channel = QueueChannels.task(handle.id), QueueChannels.queue("reports")
    global_channel = QueueChannels.global_channel()
    assert [(e.type, channels) for e, channels in sink.published] == [
        ("task.started", [task_channel, queue_channel, global_channel]),
        ("task.progress", [task_channel, queue_channel]),
        ("task.completed", [task_channel, queue_channel, global_channel]),
    ]


@pytest.mark.anyio
async def test_the_queue_channel_can_be_switched_off(registry: TaskRegistry) -> None:
    @task("compat.queue_channel_off", queue="reports", registry=registry)
    async def job() -> None:
        await publish_task_progress(current=1, total=1)

    sink = InMemoryQueueEventSink()
    async with (
        QueueService(_config(registry, sink, publish_queue_channel=False)) as service,
        service.worker(),
    ):
        handle = await service.enqueue(job)
        await handle.wait(timeout=10)
    assert QueueEventConfig().publish_queue_channel is True
    assert [channels for _, channels in sink.published] == [[QueueChannels.task(handle.id)]] * 3


def test_the_switch_reaches_the_publisher() -> None:
    publisher = QueueEventPublisher.from_config(QueueEventConfig(enabled=True, sink=InMemoryQueueEventSink()))
    assert publisher is not None
    event = QueueEvent(type="task.log", scope="task", task_id="t1", queue="q")
    assert publisher.channels_for(event) == [QueueChannels.task("t1"), QueueChannels.queue("q")]
    # events of other scopes are not copied
    queue_event = QueueEvent(type="queue.paused", scope="queue", queue="q")
    assert publisher.channels_for(queue_event) == [QueueChannels.queue("q")]
