"""OpenTelemetry traces of a task: a PRODUCER span at enqueue, a CONSUMER span per attempt, one trace."""

from __future__ import annotations

import os

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from litestar_queues import QueueConfig, QueueService, task
from litestar_queues.observability import OpenTelemetryObserver

exporter = InMemorySpanExporter()  # in production: an OTLP exporter in a BatchSpanProcessor
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("shop")


@task("invoices.render")
async def render_invoice(order_id: int) -> str:
    with tracer.start_as_current_span("render pdf"):  # nests under the attempt's span
        return f"invoice-{order_id}.pdf"


config = QueueConfig(
    queue_backend=os.environ.get("QUEUE_URL", "memory://"),
    observers=[OpenTelemetryObserver()],  # the global tracer provider
)


async def main() -> None:
    async with QueueService(config) as service, service.worker():
        with tracer.start_as_current_span("POST /orders"):
            handle = await service.enqueue(render_invoice, 42)
        await handle.wait(timeout=30)
    print("stored:", sorted(handle.record.metadata["trace_context"]))
    spans = {span.context.span_id: span for span in exporter.get_finished_spans()}
    for span in sorted(spans.values(), key=lambda s: s.start_time or 0):
        parent = spans.get(span.parent.span_id) if span.parent else None
        print(f"{span.name} ({span.kind.name}) <- {parent.name if parent else 'root'}")
    print("one trace:", len({span.context.trace_id for span in spans.values()}) == 1)


if __name__ == "__main__":
    anyio.run(main)
