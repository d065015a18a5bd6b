"""The observers a benchmark turns on: Prometheus plus OpenTelemetry with an SDK that records.

``mode`` (``BENCH_OBSERVED`` for ``ours.py``, the third argument of ``drain_cpu.py``):

* ``all``: both; the OpenTelemetry SDK samples every trace (its default sampler);
* ``sampled``: both; the SDK samples one trace in ten, ``ParentBased(TraceIdRatioBased(0.1))``,
  the usual setting of a busy service;
* ``prometheus``, ``otel-all``, ``otel-sampled``: one observer alone, as above;
* ``otel-api``: ``OpenTelemetryObserver`` without an SDK (the API's no-op tracer).

Spans go through the SDK's ``BatchSpanProcessor`` (what production uses) to an exporter that
drops them, so the figure is the cost of the observers and of the SDK, not of an exporter's
network. Prometheus counts on a registry of its own, without the depth gauges' timer.
"""

from __future__ import annotations

from typing import Any

MODES = ("all", "sampled", "prometheus", "otel-all", "otel-sampled", "otel-api")


def bench_observers(mode: str) -> list[Any]:
    """Both observers, the OpenTelemetry SDK sampling per ``mode`` (see the module docstring)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
    from prometheus_client import CollectorRegistry

    from litestar_queues.observability import OpenTelemetryObserver, PrometheusObserver

    if mode not in MODES:
        raise ValueError(f"observer mode must be one of {MODES}, got {mode!r}")

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    observers: list[Any] = []
    if mode in ("all", "sampled", "prometheus"):
        observers.append(PrometheusObserver(registry=CollectorRegistry(), depth_interval=None))
    if mode == "otel-api":
        observers.append(OpenTelemetryObserver())
    elif mode != "prometheus":
        sampler = ALWAYS_ON if mode.endswith("all") else ParentBased(TraceIdRatioBased(0.1))
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        observers.append(OpenTelemetryObserver(tracer_provider=provider))
    return observers
