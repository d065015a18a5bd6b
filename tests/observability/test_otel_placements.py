"""The trace continues in another process: the ``process`` placement runs ``run-task`` in a child."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from litestar_queues import QueueConfig, QueueService, WorkerConfig
from litestar_queues.observability import OpenTelemetryObserver
from tests.observability import traced_app

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

ROOT = str(Path(__file__).resolve().parents[2])


def _ids(span: ReadableSpan) -> tuple[int, int]:
    assert span.context is not None
    return span.context.trace_id, span.context.span_id


@pytest.mark.anyio
async def test_the_run_span_in_a_child_process_continues_the_enqueue_s_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/queue.db"
    spans_file = tmp_path / "child-spans.jsonl"
    monkeypatch.setenv(traced_app.URL_VARIABLE, url)
    monkeypatch.setenv(traced_app.SPANS_VARIABLE, str(spans_file))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = QueueConfig(
        queue_backend=url,
        app=traced_app.APP,
        worker=WorkerConfig(lease_seconds=5, poll_interval=0.2),
        execution_profiles={"isolated": {"backend": "process", "cwd": ROOT}},
        observers=[OpenTelemetryObserver(tracer_provider=provider)],
    )
    async with QueueService(config) as service, service.worker():
        with provider.get_tracer("test").start_as_current_span("request"):
            handle = await service.enqueue(traced_app.where, execution_profile="isolated")
        await handle.wait(timeout=60)
    assert handle.status == "completed", handle.error
    child_pid = handle.result
    assert child_pid != os.getpid()
    (publish,) = [s for s in exporter.get_finished_spans() if s.name == "publish default"]
    assert not [s for s in exporter.get_finished_spans() if s.name == "process default"]  # not here
    (run,) = [json.loads(line) for line in spans_file.read_text().splitlines()]
    trace_id, span_id = _ids(publish)
    assert (run["name"], run["kind"], run["pid"]) == ("process default", "CONSUMER", child_pid)
    assert (run["trace_id"], run["parent_id"]) == (trace_id, span_id)
