"""The apps of the trace tests in other processes: their spans go to a file the test reads.

``config`` (the ``--app`` of ``run-task``) and ``create_app`` (a Litestar app factory, for
``litestar queues worker``) read the queue URL from ``LQ_TRACE_TEST_URL`` and the file finished
spans are appended to (one JSON object a line) from ``LQ_TRACE_TEST_SPANS``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from litestar import Litestar, get, post
from litestar.di import NamedDependency  # noqa: TC002 - Litestar reads handler annotations at run time
from litestar.params import FromPath  # noqa: TC002
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from litestar_queues import QueueConfig, QueuePlugin, QueueService, WorkerConfig, task
from litestar_queues.observability import OpenTelemetryObserver

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import ReadableSpan

APP = "tests.observability.traced_app:config"
URL_VARIABLE = "LQ_TRACE_TEST_URL"
SPANS_VARIABLE = "LQ_TRACE_TEST_SPANS"


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file: what a collector would receive from this process."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as file:
            for span in spans:
                assert span.context is not None
                line = {
                    "name": span.name,
                    "kind": span.kind.name,
                    "trace_id": span.context.trace_id,
                    "span_id": span.context.span_id,
                    "parent_id": span.parent.span_id if span.parent is not None else None,
                    "pid": os.getpid(),
                }
                file.write(json.dumps(line) + "\n")
        return SpanExportResult.SUCCESS


def _provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ[SPANS_VARIABLE])))
    return provider


def config() -> QueueConfig:
    return QueueConfig(
        queue_backend=os.environ[URL_VARIABLE],
        app=APP,
        worker=WorkerConfig(lease_seconds=5),
        observers=[OpenTelemetryObserver(tracer_provider=_provider())],
    )


@post("/reports")
async def enqueue_report(queue_service: NamedDependency[QueueService]) -> dict[str, str]:
    return {"task_id": str((await queue_service.enqueue(where)).id)}


@get("/tasks/{task_id:str}")
async def task_status(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    return {"status": (await queue_service.get_task(task_id)).status}


def create_app() -> Litestar:
    """The web app and its worker processes: traced by the app's OpenTelemetryPlugin provider."""
    queues = QueueConfig(
        queue_backend=os.environ[URL_VARIABLE],
        worker=WorkerConfig(poll_interval=0.1),
        observers=[OpenTelemetryObserver()],  # follows the plugin's provider
    )
    telemetry = OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=_provider()))
    return Litestar([enqueue_report, task_status], plugins=[telemetry, QueuePlugin(queues)])


@task("trace_tests.where")
async def where() -> int:
    """Returns the id of the process it ran in."""
    return os.getpid()
