"""The observer's own reading of a stored W3C trace context agrees with OpenTelemetry's propagator."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from litestar_queues.observability.otel import _w3c_span_context

HEX = "0123456789abcdef"


def _hex(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=HEX, min_size=size, max_size=size)


_field = st.one_of(_hex(2), _hex(16), _hex(32), st.text(alphabet=HEX + "ABCDEFxz- \t", max_size=34))
_versions = st.sampled_from(["00", "01", "ff", "cc"])
traceparents = st.one_of(
    st.builds(lambda *parts: "-".join(parts), _hex(2), _hex(32), _hex(16), _hex(2)),
    st.builds(lambda *parts: "-".join(parts), _versions, _field, _field, _field),
    st.builds(lambda a, b: f"{a}-{b}", st.sampled_from(["00-" + "a" * 32 + "-" + "b" * 16 + "-01"]), _field),
    st.text(max_size=60),
)


def _reference(carrier: dict[str, Any]) -> trace.SpanContext | None:
    context = TraceContextTextMapPropagator().extract(carrier)
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None


@given(traceparent=traceparents, tracestate=st.one_of(st.none(), st.just("vendor=value,other=1")))
@example(traceparent="00-" + "0" * 32 + "-" + "b" * 16 + "-01", tracestate=None)  # zero trace id
@example(traceparent="00-" + "a" * 32 + "-" + "0" * 16 + "-01", tracestate=None)  # zero span id
@example(traceparent="ff-" + "a" * 32 + "-" + "b" * 16 + "-01", tracestate=None)  # forbidden version
@example(traceparent="00-" + "A" * 32 + "-" + "b" * 16 + "-01", tracestate=None)  # upper case
@example(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01-extra", tracestate=None)  # 00 has 4 parts
@example(traceparent="cc-" + "a" * 32 + "-" + "b" * 16 + "-01-extra", tracestate=None)  # later may add
@example(traceparent=" 00-" + "a" * 32 + "-" + "b" * 16 + "-01\t", tracestate=None)  # blanks around
def test_reads_what_the_w3c_propagator_reads(traceparent: str, tracestate: str | None) -> None:
    carrier = {"traceparent": traceparent}
    if tracestate is not None:
        carrier["tracestate"] = tracestate
    ours = _w3c_span_context(carrier, trace)
    reference = _reference(carrier)
    if reference is None:
        assert ours is None
    else:
        assert ours is not None
        assert (ours.trace_id, ours.span_id, ours.trace_flags, ours.is_remote) == (
            reference.trace_id,
            reference.span_id,
            reference.trace_flags,
            reference.is_remote,
        )
        assert dict(ours.trace_state) == dict(reference.trace_state)
