"""OpenTelemetryObserver with the SDK's in-memory exporter: producer and consumer spans, one trace."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from litestar_queues import Backoff, ExtraNotInstalledError, QueueConfig, QueueService, TaskRegistry, task
from litestar_queues.observability import OpenTelemetryObserver
from litestar_queues.observability.otel import TRACE_CONTEXT_KEY
from tests.core._support import ManualClock, fast_worker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan

NO_WAIT = Backoff(initial=0, jitter=0)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


@pytest.mark.anyio
@pytest.mark.parametrize("sync", [False, True])
async def test_one_trace_from_the_enqueuing_span_to_the_task_s_own_spans(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter, sync: bool
) -> None:
    tracer = provider.get_tracer("app")
    if sync:

        @task("t.work", registry=registry)
        def work_sync() -> None:
            with tracer.start_as_current_span("inside the task"):
                pass
    else:

        @task("t.work", registry=registry)
        async def work() -> None:
            with tracer.start_as_current_span("inside the task"):
                await anyio.lowlevel.checkpoint()

    observer = OpenTelemetryObserver(tracer_provider=provider)
    config = QueueConfig(registry=registry, observers=[observer], worker=fast_worker())
    async with QueueService(config) as service, service.worker():
        with tracer.start_as_current_span("request"):
            handle = await service.enqueue("t.work")
        await handle.wait(timeout=10)
    (request,) = _named(exporter, "request")
    (publish,) = _named(exporter, "publish default")
    (process,) = _named(exporter, "process default")
    (inside,) = _named(exporter, "inside the task")
    assert {_trace_id(s) for s in (request, publish, process, inside)} == {_trace_id(request)}
    assert (publish.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert _parent_id(publish) == _span_id(request)
    assert _parent_id(process) == _span_id(publish)
    assert [link.context.span_id for link in process.links] == [_span_id(publish)]
    assert _parent_id(inside) == _span_id(process)
    stored = handle.record.metadata[TRACE_CONTEXT_KEY]
    assert stored["traceparent"].startswith(f"00-{_trace_id(publish):032x}-{_span_id(publish):016x}-")
    assert process.attributes is not None
    assert dict(process.attributes) | {"litestar_queues.lag_seconds": 0} == {
        "messaging.system": "litestar_queues",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": "default",
        "messaging.message.id": str(handle.id),
        "litestar_queues.task.name": "t.work",
        "litestar_queues.attempt": 1,
        "litestar_queues.run": 1,
        "litestar_queues.lag_seconds": 0,
        "litestar_queues.worker.id": handle.record.worker_id,
        "litestar_queues.outcome": "complete",
    }
    assert process.status.status_code is StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


@pytest.mark.anyio
async def test_a_retry_and_a_failure_are_recorded_on_their_attempt_spans(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @task("t.broken", retries=1, backoff=NO_WAIT, registry=registry)
    async def broken() -> None:
        raise ValueError("always")

    config = QueueConfig(
        registry=registry, observers=[OpenTelemetryObserver(tracer_provider=provider)], worker=fast_worker()
    )
    async with QueueService(config) as service, service.worker():
        handle = await (await service.enqueue(broken)).wait(timeout=10)
    assert handle.status == "failed"
    first, second = sorted(_named(exporter, "process default"), key=lambda s: s.start_time or 0)
    assert first.attributes is not None and second.attributes is not None
    assert [first.attributes["litestar_queues.attempt"], second.attributes["litestar_queues.attempt"]] == [
        1,
        2,
    ]
    assert [first.attributes["litestar_queues.outcome"], second.attributes["litestar_queues.outcome"]] == [
        "retry",
        "fail",
    ]
    for span in (first, second):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ValueError: always"
        assert span.attributes is not None and span.attributes["error.type"] == "ValueError"
        assert "exception" in [e.name for e in span.events]
    assert [e.name for e in first.events] == ["exception", "retry"]
    assert "retry" not in [e.name for e in second.events]
    # both attempts continue the one trace of the enqueue
    (publish,) = _named(exporter, "publish default")
    assert _parent_id(first) == _parent_id(second) == _span_id(publish)


@pytest.mark.anyio
async def test_runs_lost_to_expired_leases_are_an_event_on_the_next_attempt(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @task("t.after", registry=registry)
    async def after() -> None:
        return None

    clock = ManualClock()
    observer = OpenTelemetryObserver(tracer_provider=provider)
    config = QueueConfig(registry=registry, observers=[observer], clock=clock)
    async with QueueService(config) as service:
        await service.enqueue(after)
        for _ in range(2):
            await service.attempts.claim(queues=None, worker_id="dies", limit=1, lease_seconds=5)
            clock.advance(6)
            await service.attempts.reclaim_expired()
        (record,) = await service.attempts.claim(queues=None, worker_id="w", limit=1, lease_seconds=5)
        await service.attempts.run(record, "w")
    (process,) = _named(exporter, "process default")
    (event,) = process.events
    assert event.name == "reclaimed"
    assert dict(event.attributes or {}) == {"litestar_queues.lost_runs": 2, "litestar_queues.reclaims": 2}


@pytest.mark.anyio
async def test_a_stopped_run_ends_its_span_with_a_stopped_event(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    started = anyio.Event()

    @task("t.long", registry=registry)
    async def long() -> None:
        started.set()
        await anyio.sleep(30)

    config = QueueConfig(
        registry=registry, observers=[OpenTelemetryObserver(tracer_provider=provider)], worker=fast_worker()
    )
    async with QueueService(config) as service, service.worker():
        handle = await service.enqueue(long)
        await started.wait()
        await service.cancel(handle.id)
        with anyio.fail_after(10):
            while not _named(exporter, "process default"):
                await anyio.sleep(0.01)
    (process,) = _named(exporter, "process default")
    assert process.attributes is not None and process.attributes["litestar_queues.outcome"] == "stopped"
    assert [e.name for e in process.events] == ["stopped"]


@pytest.mark.anyio
async def test_without_continue_trace_each_attempt_is_its_own_trace_linked_to_the_enqueue(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @task("t.linked", registry=registry)
    async def linked() -> None:
        return None

    observer = OpenTelemetryObserver(tracer_provider=provider, continue_trace=False)
    config = QueueConfig(registry=registry, observers=[observer], worker=fast_worker())
    async with QueueService(config) as service, service.worker():
        await (await service.enqueue(linked)).wait(timeout=10)
    (publish,) = _named(exporter, "publish default")
    (process,) = _named(exporter, "process default")
    assert process.parent is None and _trace_id(process) != _trace_id(publish)
    assert [link.context.span_id for link in process.links] == [_span_id(publish)]


@pytest.mark.anyio
async def test_a_trace_context_given_at_enqueue_is_kept_and_linked(
    registry: TaskRegistry, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @task("t.given", registry=registry)
    async def given() -> None:
        return None

    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    config = QueueConfig(registry=registry, observers=[OpenTelemetryObserver(tracer_provider=provider)])
    async with QueueService(config) as service:
        handle = await service.enqueue(given, metadata={TRACE_CONTEXT_KEY: {"traceparent": traceparent}})
        again = await service.enqueue(given, key="k")
        await service.enqueue(given, key="k")
    assert handle.record.metadata[TRACE_CONTEXT_KEY] == {"traceparent": traceparent}
    publishes = sorted(_named(exporter, "publish default"), key=lambda s: s.start_time or 0)
    assert [link.context.span_id for link in publishes[0].links] == [0xB7AD6B7169203331]
    assert [(s.attributes or {}).get("litestar_queues.deduplicated") for s in publishes] == [None, None, True]
    assert again.created


def test_a_missing_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    with pytest.raises(ExtraNotInstalledError) as caught:
        OpenTelemetryObserver()
    assert str(caught.value).endswith('pip install "litestar-queues[otel]"')


def test_follow_adopts_a_provider_only_when_none_was_given(provider: TracerProvider) -> None:
    other = TracerProvider()
    mine = OpenTelemetryObserver(tracer_provider=provider)
    mine.follow(other)
    assert mine.tracer_provider is provider
    default: Any = OpenTelemetryObserver()
    default.follow(other)
    assert default.tracer_provider is other
