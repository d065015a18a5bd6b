"""Observing tasks: the observer port, a recording observer, Prometheus metrics and OpenTelemetry traces.

Observers are configured with ``QueueConfig(observers=[...])``. ``PrometheusObserver`` needs
the ``prometheus`` extra and ``OpenTelemetryObserver`` the ``otel`` extra; each imports its
library only when it is built (see ``docs/observability.md``).
"""

from __future__ import annotations

from litestar_queues.observability.observer import QueueObserver
from litestar_queues.observability.otel import OpenTelemetryObserver
from litestar_queues.observability.prometheus import PrometheusObserver
from litestar_queues.observability.recording import Observation, RecordingObserver

__all__ = ("Observation", "OpenTelemetryObserver", "PrometheusObserver", "QueueObserver", "RecordingObserver")
