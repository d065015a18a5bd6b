"""The ``--app`` of ``run-task`` in the trace tests: its spans go to a file the test reads.

``config`` reads the queue URL from ``LQ_TRACE_TEST_URL`` and the file its finished spans are
written to (one JSON object a line) from ``LQ_TRACE_TEST_SPANS``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from litestar_queues import QueueConfig, WorkerConfig, task
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


def config() -> QueueConfig:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ[SPANS_VARIABLE])))
    return QueueConfig(
        queue_backend=os.environ[URL_VARIABLE],
        app=APP,
        worker=WorkerConfig(lease_seconds=5),
        observers=[OpenTelemetryObserver(tracer_provider=provider)],
    )


@task("trace_tests.where")
async def where() -> int:
    """Returns the id of the process it ran in."""
    return os.getpid()
