"""Metrics and traces in a Litestar app: /metrics from Litestar's PrometheusController, one trace per task."""

import time
from typing import Any

from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.testing import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from litestar_queues import QueueConfig, QueuePlugin, QueueService, task
from litestar_queues.observability import OpenTelemetryObserver, PrometheusObserver

exporter = InMemorySpanExporter()  # in production: an OTLP exporter in a BatchSpanProcessor
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))


@task("invoices.render")
async def render_invoice(order_id: int) -> str:
    return f"invoice-{order_id}.pdf"


@post("/orders/{order_id:int}/invoice")
async def order_invoice(
    order_id: FromPath[int], queue_service: NamedDependency[QueueService]
) -> dict[str, str]:
    result = await queue_service.enqueue(render_invoice, order_id)
    return {"task_id": str(result.id)}


@get("/tasks/{task_id:str}")
async def task_status(task_id: FromPath[str], queue_service: NamedDependency[QueueService]) -> dict[str, Any]:
    return {"status": (await queue_service.get_task(task_id)).status}


queues = QueueConfig(
    # metrics in prometheus-client's global REGISTRY, the one PrometheusController serves;
    # traces through the tracer provider of the app's OpenTelemetryPlugin (handed over by QueuePlugin)
    observers=[PrometheusObserver(), OpenTelemetryObserver()],
)
app = Litestar(
    route_handlers=[order_invoice, task_status, PrometheusController],
    middleware=[PrometheusConfig().middleware],
    plugins=[OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=tracer_provider)), QueuePlugin(queues)],
)


def main() -> None:
    with TestClient(app=app) as client:
        task_id = client.post("/orders/42/invoice").json()["task_id"]
        while client.get(f"/tasks/{task_id}").json()["status"] != "completed":
            time.sleep(0.01)
        metrics = client.get("/metrics").text
    print([line for line in metrics.splitlines() if line.startswith("litestar_queues_tasks_completed_total")])
    names = ("POST /orders/42/invoice", "publish default", "process default")
    spans = [span for span in exporter.get_finished_spans() if span.name in names]
    print([(span.name, span.kind.name) for span in spans])
    print("one trace:", len({span.context.trace_id for span in spans}) == 1)


if __name__ == "__main__":
    main()
