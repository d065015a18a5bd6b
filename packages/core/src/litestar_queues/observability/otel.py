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
    from opentelemetry.trace import Span, SpanContext, Tracer, TracerProvider

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
        self._textmap: object = None
        self._starts: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._textmap_reads_w3c = False

    def follow(self, tracer_provider: TracerProvider | None) -> None:
        """Use ``tracer_provider`` unless one was given at construction (the Litestar plugin's)."""
        if self.tracer_provider is None and tracer_provider is not None:
            self.tracer_provider = tracer_provider
            self._tracer = self._trace.get_tracer(_INSTRUMENTATION, tracer_provider=tracer_provider)

    def _attributes(self, record: TaskRecord, operation: str) -> dict[str, Any]:
        return {
            **self._start(record.queue, operation)[1],
            "messaging.message.id": str(record.id),
            "litestar_queues.task.name": record.task_name,
        }

    def _start(self, queue: str, operation: str) -> tuple[str, dict[str, Any]]:
        """The span name and the attributes a sampler sees, for one queue and operation (cached)."""
        known = self._starts.get((queue, operation))
        if known is None:
            known = (
                f"{operation} {queue}",
                {
                    "messaging.system": MESSAGING_SYSTEM,
                    "messaging.operation.name": operation,
                    "messaging.operation.type": operation,
                    "messaging.destination.name": queue,
                },
            )
            if len(self._starts) < _STARTS_CACHED:
                self._starts[(queue, operation)] = known
        return known

    def _creation(self, record: TaskRecord) -> SpanContext | None:
        """The creation context stored with ``record`` (``None``: none, or not a valid one)."""
        carrier = record.metadata.get(TRACE_CONTEXT_KEY)
        if not isinstance(carrier, dict):
            return None
        if carrier.keys() <= _W3C_FIELDS and self._reads_w3c():
            # what the W3C propagator would extract, without its regex and context churn
            return _w3c_span_context(carrier, self._trace)
        creation: Context = self._propagate.extract({str(k): str(v) for k, v in carrier.items()})
        span_context: SpanContext = self._trace.get_current_span(creation).get_span_context()
        return span_context if span_context.is_valid else None

    def _reads_w3c(self) -> bool:
        """The global propagators read W3C ``traceparent`` (the default; checked when they change)."""
        textmap = self._propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._textmap = textmap
            self._textmap_reads_w3c = "traceparent" in textmap.fields
        return self._textmap_reads_w3c

    def enqueuing(self, record: TaskRecord) -> None:
        """Start the PRODUCER span and inject its context into the record's metadata."""
        given = self._creation(record)
        span = self._tracer.start_span(
            f"publish {record.queue}",
            kind=self._trace.SpanKind.PRODUCER,
            attributes=self._attributes(record, "publish"),
            links=None if given is None else [self._trace.Link(given)],
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
        name, sampled_on = self._start(record.queue, "process")
        parent: Context | None = None
        links: list[Any] | None = None
        if creation is not None:
            # the messaging conventions: link to the creation context (even when it is the parent)
            links = [self._trace.Link(creation)]
            if self.continue_trace:
                parent = self._trace.set_span_in_context(self._trace.NonRecordingSpan(creation))
        span = self._tracer.start_span(
            name, context=parent, kind=self._trace.SpanKind.CONSUMER, attributes=sampled_on, links=links
        )
        # a sampler sees the messaging attributes; the rest is built only for a span it records
        if span.is_recording():
            attributes: dict[str, Any] = {
                "messaging.message.id": str(record.id),
                "litestar_queues.task.name": record.task_name,
                "litestar_queues.attempt": record.attempts,
                "litestar_queues.run": record.runs,
                "litestar_queues.lag_seconds": lag,
            }
            if worker_id is not None:
                attributes["litestar_queues.worker.id"] = worker_id
            span.set_attributes(attributes)
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


_STARTS_CACHED = 1000  # (queue, operation) pairs whose span name and attributes are kept

_W3C_FIELDS = frozenset(("traceparent", "tracestate"))
_HEX = frozenset("0123456789abcdef")


def _w3c_span_context(carrier: dict[Any, Any], trace: Any) -> SpanContext | None:
    """The span context of a W3C ``traceparent`` (and ``tracestate``), ``None`` if it is invalid.

    Accepts what the W3C trace context propagator accepts: a version other than ``ff``, a
    non-zero 32-hex trace id and 16-hex span id, 2-hex flags (a future version may append more).
    """
    header = carrier.get("traceparent")
    if not isinstance(header, str):
        return None
    parts = header.strip().split("-")
    if len(parts) < 4 or (parts[0] == "00" and len(parts) != 4):
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if (
        len(version) != 2
        or version == "ff"
        or len(trace_id) != 32
        or len(span_id) != 16
        or len(flags) != 2
        or not _HEX.issuperset(version + trace_id + span_id + flags)
    ):
        return None
    trace_int, span_int = int(trace_id, 16), int(span_id, 16)
    if not trace_int or not span_int:
        return None
    state = carrier.get("tracestate")
    span_context: SpanContext = trace.SpanContext(
        trace_id=trace_int,
        span_id=span_int,
        is_remote=True,
        trace_flags=trace.TraceFlags(int(flags, 16)),
        trace_state=trace.TraceState.from_header([state]) if isinstance(state, str) else None,
    )
    return span_context


def _lost_runs(record: TaskRecord) -> int:
    """Runs of ``record`` before this one that ended with an expired lease (not in its history yet)."""
    if not record.reclaims:
        return 0
    last = record.history[-1].run if record.history else 0
    return max(0, record.runs - 1 - last)
