"""A task enqueued in a Litestar request and run by a worker on SQLite: one trace, HTTP span to run span."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Litestar, get, post
from litestar.di import NamedDependency  # noqa: TC002 - Litestar reads handler annotations at run time
from litestar.params import FromPath  # noqa: TC002
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from litestar_queues import QueueConfig, QueuePlugin, QueueService, TaskRegistry, task
from litestar_queues.observability import OpenTelemetryObserver
from tests.core._support import fast_worker
from tests.litestar.conftest import wait_until

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

registry = TaskRegistry()


@task("otel.report", registry=registry)
async def report(pages: int) -> int:
    return pages


@post("/reports/{pages:int}")
async def enqueue_report(
    pages: FromPath[int], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(report, pages)
    return {"task_id": str(result.id)}


@get("/tasks/{task_id:str}")
async def read_task(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    return {"status": (await queue_service.get_task(task_id)).status}


def _only(spans: list[ReadableSpan], kind: SpanKind, name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.kind is kind and s.name == name]
    return span


def test_the_http_span_the_publish_span_and_the_run_span_share_one_trace(sqlite_url: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # no provider of its own: it follows the app's OpenTelemetryPlugin
    observer = OpenTelemetryObserver()
    config = QueueConfig(
        queue_backend=sqlite_url, registry=registry, observers=[observer], worker=fast_worker()
    )
    app = Litestar(
        route_handlers=[enqueue_report, read_task],
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=provider)), QueuePlugin(config)],
    )
    assert observer.tracer_provider is provider
    with TestClient(app=app) as client:
        assert QueuePlugin in {type(p) for p in app.plugins}
        task_id = client.post("/reports/3").json()["task_id"]
        wait_until(
            lambda: client.get(f"/tasks/{task_id}").json()["status"] == "completed",
            what="the task to complete",
        )
    provider.shutdown()
    spans = list(exporter.get_finished_spans())
    http = _only(spans, SpanKind.SERVER, "POST /reports/3")
    publish = _only(spans, SpanKind.PRODUCER, "publish default")
    process = _only(spans, SpanKind.CONSUMER, "process default")
    assert http.context is not None and publish.context is not None and process.context is not None
    assert publish.context.trace_id == process.context.trace_id == http.context.trace_id
    assert publish.parent is not None and publish.parent.span_id == http.context.span_id
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert process.attributes is not None and process.attributes["messaging.message.id"] == task_id
