"""Prometheus metrics of tasks: the ``prometheus`` extra (prometheus-client).

prometheus-client is imported when a :class:`PrometheusObserver` is built, never before: the
core does not depend on it. The metric names and the queries they answer are listed in
``docs/observability.md``.
"""

from __future__ import annotations

import importlib
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

import anyio

from litestar_queues.exceptions import QueueConfigurationError
from litestar_queues.models import ALL_STATUSES
from litestar_queues.observability._extras import import_extra
from litestar_queues.observability.observer import QueueObserver

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from litestar_queues.models import Outcome, TaskRecord
    from litestar_queues.service import QueueService

__all__ = (
    "DURATION_BUCKETS",
    "LAG_BUCKETS",
    "OTHER_LABEL",
    "PrometheusObserver",
    "forget_process",
)

logger = logging.getLogger("litestar_queues.observers")

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Default buckets of the run duration histogram, in seconds (10 ms to an hour)."""

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Default buckets of the queue lag histogram, in seconds (10 ms to an hour)."""

OTHER_LABEL = "_other"
"""The label value of the queues (or task names) seen after ``max_label_values`` others."""

_SERIES_CACHED = 10_000
"""Distinct raw ``(queue, task)`` pairs whose metric children are kept resolved."""

_MULTIPROC_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def forget_process(pid: int) -> None:
    """Drop the live gauges of the exited worker process ``pid`` (prometheus multiprocess mode).

    What a supervisor calls when a child exits (``litestar queues worker --processes N`` does),
    as gunicorn's ``child_exit`` hook calls ``mark_process_dead``. A no-op unless
    ``PROMETHEUS_MULTIPROC_DIR`` is set and prometheus-client is installed.
    """
    if not any(name in os.environ for name in _MULTIPROC_VARIABLES):
        return
    try:
        multiprocess: Any = importlib.import_module("prometheus_client.multiprocess")
    except ImportError:
        return
    multiprocess.mark_process_dead(pid)


class _Bounded:
    """Label values of one kind: the first ``limit`` distinct ones pass, later ones are ``_other``."""

    __slots__ = ("limit", "seen")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER_LABEL
        self.seen.add(value)
        return value


class _Metrics:
    """The metric families of one registry and prefix, built once (a registry refuses duplicates)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        prefix: str,
        duration_buckets: Sequence[float],
        lag_buckets: Sequence[float],
    ) -> None:
        client: Any = import_extra(
            "prometheus_client", extra="prometheus", library="prometheus-client", what="PrometheusObserver"
        )
        self.buckets = (tuple(duration_buckets), tuple(lag_buckets))
        labels = ("queue", "task")

        def counter(name: str, what: str) -> Counter:
            counter: Counter = client.Counter(
                f"{prefix}_tasks_{name}", f"Tasks {what}.", labels, registry=registry
            )
            return counter

        self.enqueued = counter("enqueued", "enqueued (new records stored; deduplicated enqueues are not)")
        self.started = counter("started", "attempts started")
        self.completed = counter("completed", "attempts that completed")
        self.failed = counter("failed", "that failed for good (an attempt, or a reclaim past max_reclaims)")
        self.retried = counter("retried", "attempts that failed and were scheduled again")
        self.cancelled = counter("cancelled", "cancelled while waiting or running")
        self.reclaimed = counter("reclaimed", "taken back after their lease expired (worker died or stalled)")
        self.duration: Histogram = client.Histogram(
            f"{prefix}_task_duration_seconds",
            "Seconds an attempt ran, to its decided outcome.",
            labels,
            buckets=duration_buckets,
            registry=registry,
        )
        self.lag: Histogram = client.Histogram(
            f"{prefix}_task_lag_seconds",
            "Seconds from when a task was due to when its attempt started.",
            labels,
            buckets=lag_buckets,
            registry=registry,
        )
        self.running: Gauge = client.Gauge(
            f"{prefix}_tasks_running",
            "Attempts running now in this process (multiprocess mode: one series per live process).",
            labels,
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.depth: Gauge = client.Gauge(
            f"{prefix}_queue_tasks",
            "Records per queue and status, as the queue backend counts them (refreshed on a timer).",
            ("queue", "status"),
            registry=registry,
            multiprocess_mode="mostrecent",
        )


class _Series:
    """The children of every metric for one ``(queue, task)`` label pair."""

    __slots__ = (
        "cancelled",
        "completed",
        "duration",
        "enqueued",
        "failed",
        "lag",
        "reclaimed",
        "retried",
        "running",
        "started",
    )

    def __init__(self, metrics: _Metrics, queue: str, task: str) -> None:
        self.enqueued = metrics.enqueued.labels(queue, task)
        self.started = metrics.started.labels(queue, task)
        self.completed = metrics.completed.labels(queue, task)
        self.failed = metrics.failed.labels(queue, task)
        self.retried = metrics.retried.labels(queue, task)
        self.cancelled = metrics.cancelled.labels(queue, task)
        self.reclaimed = metrics.reclaimed.labels(queue, task)
        self.duration = metrics.duration.labels(queue, task)
        self.lag = metrics.lag.labels(queue, task)
        self.running = metrics.running.labels(queue, task)


_BUILT: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = weakref.WeakKeyDictionary()


def _metrics(
    registry: CollectorRegistry, prefix: str, duration_buckets: Sequence[float], lag_buckets: Sequence[float]
) -> _Metrics:
    built = _BUILT.setdefault(registry, {})
    metrics = built.get(prefix)
    if metrics is None:
        metrics = built[prefix] = _Metrics(registry, prefix, duration_buckets, lag_buckets)
    elif metrics.buckets != (tuple(duration_buckets), tuple(lag_buckets)):
        raise QueueConfigurationError(
            f"the {prefix}_* metrics of this registry were built with other buckets: give every "
            "PrometheusObserver of one registry the same buckets, or another prefix"
        )
    return metrics


class PrometheusObserver(QueueObserver):
    """Counts tasks, times their attempts and gauges queue depth with prometheus-client.

    Labels are bounded: ``queue`` and ``task`` (the registered task name), never an id; past
    ``max_label_values`` distinct queues (or task names) the rest count under ``_other``. Two
    observers on one registry share its metrics, so an app built twice (tests, reloads) does not
    fail on duplicate names.

    Works with prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, for
    ``litestar queues worker --processes N``): counters and histograms add up across processes,
    ``tasks_running`` keeps one series per live process, ``queue_tasks`` the latest refresh.

    Args:
        registry: Where the metrics are registered (default: prometheus-client's global
            ``REGISTRY``, which Litestar's ``PrometheusController`` serves on ``/metrics``).
        prefix: The metric names' prefix.
        depth_interval: Seconds between refreshes of the queue depth gauges, in each worker
            (``await service.stats()``); ``None``: only :meth:`refresh_depth` refreshes them.
        max_label_values: Distinct queues, and distinct task names, labelled by name.
        duration_buckets: Buckets of the run duration histogram (seconds).
        lag_buckets: Buckets of the queue lag histogram (seconds).

    Raises:
        ExtraNotInstalledError: prometheus-client is not installed (the message names
            ``pip install "litestar-queues[prometheus]"``).
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        prefix: str = "litestar_queues",
        depth_interval: float | None = 15.0,
        max_label_values: int = 100,
        duration_buckets: Sequence[float] = DURATION_BUCKETS,
        lag_buckets: Sequence[float] = LAG_BUCKETS,
    ) -> None:
        if depth_interval is not None and not depth_interval > 0:
            raise QueueConfigurationError(
                f"depth_interval must be seconds > 0 or None, got {depth_interval!r}"
            )
        if max_label_values < 1:
            raise QueueConfigurationError(f"max_label_values must be >= 1, got {max_label_values!r}")
        client: Any = import_extra(
            "prometheus_client", extra="prometheus", library="prometheus-client", what="PrometheusObserver"
        )
        self.registry: CollectorRegistry = registry if registry is not None else client.REGISTRY
        self.metrics = _metrics(self.registry, prefix, duration_buckets, lag_buckets)
        self.depth_interval = depth_interval
        self._queue = _Bounded(max_label_values)
        self._task = _Bounded(max_label_values)
        self._depth_queues: set[str] = set()
        self._by_key: dict[tuple[str, str], _Series] = {}

    def _series(self, record: TaskRecord) -> _Series:
        key = (record.queue, record.task_name)
        series = self._by_key.get(key)
        if series is None:
            # labels() validates and locks on every call: each (queue, task) resolves it once
            series = _Series(self.metrics, self._queue(key[0]), self._task(key[1]))
            if len(self._by_key) < _SERIES_CACHED:
                self._by_key[key] = series
        return series

    def enqueued(self, record: TaskRecord, *, created: bool, error: BaseException | None) -> None:
        """Count a new record."""
        if created:
            self._series(record).enqueued.inc()

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        """Count the attempt, observe its lag, and gauge it running."""
        series = self._series(record)
        series.started.inc()
        series.lag.observe(lag)
        series.running.inc()

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        """Count the outcome and observe the duration (a run stopped without one is only ungauged)."""
        series = self._series(record)
        series.running.dec()
        if outcome is None:
            return
        series.duration.observe(duration)
        if outcome.kind == "complete":
            series.completed.inc()
        elif outcome.kind == "fail":
            series.failed.inc()
        elif outcome.kind == "retry":
            series.retried.inc()

    def reclaimed(self, record: TaskRecord) -> None:
        """Count the reclaim (and the failure, when it was one too many)."""
        series = self._series(record)
        series.reclaimed.inc()
        if record.status == "failed":
            series.failed.inc()

    def cancelled(self, record: TaskRecord) -> None:
        """Count the cancellation."""
        self._series(record).cancelled.inc()

    async def refresh_depth(self, service: QueueService) -> None:
        """Set the queue depth gauges from ``await service.stats()`` (one count query)."""
        stats = await service.stats()
        depth = self.metrics.depth
        totals: dict[str, dict[str, int]] = {}
        for name, counts in stats.queues.items():
            total = totals.setdefault(self._queue(name), {})
            for status, count in counts.items():
                total[status] = total.get(status, 0) + count
        # a queue seen before but empty now reads 0, not its last count
        for queue in self._depth_queues - set(totals):
            totals[queue] = {}
        for queue, counts in totals.items():
            for status in ALL_STATUSES:
                depth.labels(queue, status).set(counts.get(status, 0))
        self._depth_queues = set(totals)

    async def watch(self, service: QueueService) -> None:
        """Refresh the queue depth gauges every ``depth_interval`` seconds while the worker serves."""
        if self.depth_interval is None:
            return
        while True:
            try:
                await self.refresh_depth(service)
            except Exception as exc:
                logger.warning("could not refresh the queue depth gauges (trying again): %r", exc)
            await anyio.sleep(self.depth_interval)
