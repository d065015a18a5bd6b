"""OpenTelemetry traces of tasks: the ``otel`` extra (opentelemetry-api).

The spans follow the OpenTelemetry messaging conventions: an enqueue is a ``publish {queue}``
PRODUCER span whose context is injected (W3C trace context, through the globally configured
propagators) into the record's metadata under :data:`TRACE_CONTEXT_KEY`; each attempt is a
``process {queue}`` CONSUMER span that links to that creation context, and by default is its
child, so the request that enqueued and the run share one trace. The OpenTelemetry API is
imported when an :class:`OpenTelemetryObserver` is built, never before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar_queues.observability._extras import import_extra
from litestar_queues.observability.observer import QueueObserver

if TYPE_CHECKING:
    from uuid import UUID

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from litestar_queues.models import Outcome, TaskRecord

__all__ = ("MESSAGING_SYSTEM", "TRACE_CONTEXT_KEY", "OpenTelemetryObserver")

logger = logging.getLogger("litestar_queues.observers")

TRACE_CONTEXT_KEY = "trace_context"
"""The metadata key of the creation context (``{"traceparent": ..., "tracestate": ...}``)."""

MESSAGING_SYSTEM = "litestar_queues"
"""The ``messaging.system`` attribute of every span."""

_INSTRUMENTATION = "litestar_queues"


def _import(module: str) -> Any:
    return import_extra(module, extra="otel", library="opentelemetry-api", what="OpenTelemetryObserver")


class OpenTelemetryObserver(QueueObserver):
    """Traces enqueues and attempts with OpenTelemetry, per its messaging conventions.

    * Enqueue: a ``publish {queue}`` PRODUCER span, a child of the current span (the HTTP
      request's under Litestar's ``OpenTelemetryPlugin``); its context is stored in
      ``record.metadata["trace_context"]``. A trace context already there (yours) is kept and
      linked instead.
    * Attempt: a ``process {queue}`` CONSUMER span, linked to the creation context and, with
      ``continue_trace`` (the default), its child: one trace from the request to every attempt.
      It is the current span while the task runs, so spans the task opens nest under it. A
      failed attempt records its exception (``error.type``, status ``ERROR``); a retry adds a
      ``retry`` event with the time it runs again; runs lost to expired leases before this one
      add a ``reclaimed`` event; a run stopped before its outcome (lease lost, cancelled,
      released at shutdown) adds a ``stopped`` event.

    Wherever a task runs (a worker, ``immediate``, the ``process`` placement or Cloud Run
    through ``litestar-queues run-task``) its attempt reads the creation context from the
    record, so every placement continues the trace; configure the observer in the
    configuration that process loads.

    Args:
        tracer_provider: The provider of the tracer (default: the global one, which is also
            what Litestar's ``OpenTelemetryPlugin`` uses unless given its own; the Litestar
            plugin hands that one over when this is not set).
        continue_trace: Make each attempt's span a child of its creation context (one trace);
            ``False``: only link to it, each attempt a trace of its own (the strict reading of
            the messaging conventions, for tasks that run long after their enqueue).

    Raises:
        ExtraNotInstalledError: opentelemetry-api is not installed (the message names
            ``pip install "litestar-queues[otel]"``).
    """

    def __init__(self, *, tracer_provider: TracerProvider | None = None, continue_trace: bool = True) -> None:
        self._trace = _import("opentelemetry.trace")
        self._context = _import("opentelemetry.context")
        self._propagate = _import("opentelemetry.propagate")
        self.continue_trace = continue_trace
        self.tracer_provider = tracer_provider
        self._tracer: Tracer = self._trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)
        self._publishing: dict[UUID, Span] = {}
        self._running: dict[tuple[UUID, str | None], tuple[Span, object]] = {}

    def follow(self, tracer_provider: TracerProvider | None) -> None:
        """Use ``tracer_provider`` unless one was given at construction (the Litestar plugin's)."""
        if self.tracer_provider is None and tracer_provider is not None:
            self.tracer_provider = tracer_provider
            self._tracer = self._trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)

    def _attributes(self, record: TaskRecord, operation: str) -> dict[str, Any]:
        return {
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.name": operation,
            "messaging.operation.type": operation,
            "messaging.destination.name": record.queue,
            "messaging.message.id": str(record.id),
            "litestar_queues.task.name": record.task_name,
        }

    def _creation(self, record: TaskRecord) -> Context | None:
        carrier = record.metadata.get(TRACE_CONTEXT_KEY)
        if not isinstance(carrier, dict):
            return None
        creation: Context = self._propagate.extract({str(k): str(v) for k, v in carrier.items()})
        if not self._trace.get_current_span(creation).get_span_context().is_valid:
            return None
        return creation

    def _links(self, creation: Context | None) -> list[Any]:
        if creation is None:
            return []
        return [self._trace.Link(self._trace.get_current_span(creation).get_span_context())]

    def enqueuing(self, record: TaskRecord) -> None:
        """Start the PRODUCER span and inject its context into the record's metadata."""
        given = self._creation(record)
        span = self._tracer.start_span(
            f"publish {record.queue}",
            kind=self._trace.SpanKind.PRODUCER,
            attributes=self._attributes(record, "publish"),
            links=self._links(given),
        )
        if given is None:
            carrier: dict[str, str] = {}
            self._propagate.inject(carrier, context=self._trace.set_span_in_context(span))
            if carrier:
                record.metadata[TRACE_CONTEXT_KEY] = carrier
        self._publishing[record.id] = span

    def enqueued(self, record: TaskRecord, *, created: bool, error: BaseException | None) -> None:
        """End the PRODUCER span: deduplicated, failed or stored."""
        span = self._publishing.pop(record.id, None)
        if span is None:
            return
        if error is not None:
            self._failed(span, error, str(error))
        elif not created:
            span.set_attribute("litestar_queues.deduplicated", True)
        span.end()

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        """Start the CONSUMER span of the attempt and make it current for the task's own spans."""
        creation = self._creation(record)
        attributes = self._attributes(record, "process")
        attributes["litestar_queues.attempt"] = record.attempts
        attributes["litestar_queues.run"] = record.runs
        attributes["litestar_queues.lag_seconds"] = lag
        if worker_id is not None:
            attributes["litestar_queues.worker.id"] = worker_id
        parent = creation if self.continue_trace else None
        span = self._tracer.start_span(
            f"process {record.queue}",
            context=parent,
            kind=self._trace.SpanKind.CONSUMER,
            attributes=attributes,
            links=self._links(creation),
        )
        lost = _lost_runs(record)
        if lost:
            span.add_event(
                "reclaimed",
                {"litestar_queues.lost_runs": lost, "litestar_queues.reclaims": record.reclaims},
            )
        token = self._context.attach(self._trace.set_span_in_context(span))
        self._running[(record.id, record.lease_id)] = (span, token)

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        """End the CONSUMER span with the attempt's outcome, and make the previous span current."""
        entry = self._running.pop((record.id, record.lease_id), None)
        if entry is None:
            return
        span, token = entry
        try:
            if outcome is None:
                span.set_attribute("litestar_queues.outcome", "stopped")
                span.add_event("stopped", {"litestar_queues.reason": "lease lost, cancelled or released"})
            else:
                span.set_attribute("litestar_queues.outcome", outcome.kind)
                if outcome.kind in ("fail", "retry"):
                    self._failed(span, error, outcome.error)
                if outcome.kind == "retry" and outcome.run_at is not None:
                    span.add_event("retry", {"litestar_queues.retry_at": outcome.run_at.isoformat()})
        finally:
            self._context.detach(token)
            span.end()

    def _failed(self, span: Span, error: BaseException | None, text: str | None) -> None:
        if error is not None:
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
        else:
            span.set_attribute("error.type", "_OTHER")
        span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, text))


def _lost_runs(record: TaskRecord) -> int:
    """Runs of ``record`` before this one that ended with an expired lease (not in its history yet)."""
    if not record.reclaims:
        return 0
    last = record.history[-1].run if record.history else 0
    return max(0, record.runs - 1 - last)
