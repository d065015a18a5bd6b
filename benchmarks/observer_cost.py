"""CPU per call of each observer's hooks, alone: what an enqueue and an attempt cost it.

Calls ``enqueuing`` + ``enqueued`` and ``started`` + ``finished`` of each observer on 20,000
records, outside any queue, and prints the process CPU time per record::

    python benchmarks/observer_cost.py
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from litestar_queues.models import Outcome, TaskRecord
from litestar_queues.observability import OpenTelemetryObserver, PrometheusObserver

if TYPE_CHECKING:
    from litestar_queues import QueueObserver

COUNT = 20_000


class Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def measure(name: str, observer: QueueObserver, records: list[TaskRecord]) -> None:
    for record in records:
        record.metadata = {}
    began = time.process_time()
    for record in records:
        observer.enqueuing(record)
        observer.enqueued(record, created=True, error=None)
    enqueue = time.process_time() - began
    began = time.process_time()
    for record in records:
        observer.started(record, worker_id="w", lag=0.0)
        outcome = Outcome(task_id=record.id, lease_id="lease", kind="complete")
        observer.finished(record, outcome=outcome, error=None, duration=0.001)
    attempt = time.process_time() - began
    print(f"{name:34} enqueue {enqueue / COUNT * 1e6:5.1f} us, attempt {attempt / COUNT * 1e6:5.1f} us")


def main() -> None:
    now = datetime.now(UTC)
    records = [
        TaskRecord(
            id=uuid.uuid4(),
            task_name="bench.noop",
            created_at=now,
            run_at=now,
            started_at=now,
            lease_id="lease",
            attempts=1,
            runs=1,
        )
        for _ in range(COUNT)
    ]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Discard()))
    measure("PrometheusObserver", PrometheusObserver(registry=CollectorRegistry()), records)
    measure("OpenTelemetryObserver, API only", OpenTelemetryObserver(), records)
    measure("OpenTelemetryObserver, SDK", OpenTelemetryObserver(tracer_provider=provider), records)


if __name__ == "__main__":
    main()
