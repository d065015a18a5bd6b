"""Configuration of the queue service and its workers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar_queues._conformance import require_members
from litestar_queues._limit_ops import check_limits
from litestar_queues._loading import unknown_execution_backend
from litestar_queues.exceptions import QueueConfigurationError, ScheduleError
from litestar_queues.observability.observer import QueueObserver
from litestar_queues.ports import SystemClock
from litestar_queues.registry import TaskRegistry, default_registry
from litestar_queues.retention import Retention
from litestar_queues.schedules.definition import Schedule

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from litestar_queues.events.config import QueueEventConfig
    from litestar_queues.limits import QueueLimit
    from litestar_queues.ports import Clock, ExecutionBackend, QueueBackend

__all__ = ("QueueConfig", "WorkerConfig")

BUILTIN_EXECUTION_BACKENDS = ("local", "immediate", "process")


@dataclass(kw_only=True, slots=True)
class WorkerConfig:
    """How a worker claims and runs tasks.

    Attributes:
        concurrency: Tasks run at the same time by one worker.
        queues: Queues served (``None``: every queue).
        lease_seconds: How long a claim is held without a heartbeat. A worker that dies loses
            its tasks to other workers at most this long after its last heartbeat.
        heartbeat_interval: Seconds between lease extensions (default: a third of the lease).
        reclaim_interval: Seconds between sweeps that return expired leases to the queue
            (default: a sixth of the lease).
        poll_interval: Longest idle wait between claim attempts when no wake-up arrives.
        shutdown_grace: Seconds running tasks get to finish on shutdown; the rest are released
            back to the queue.
        sync_threads: Threads for sync task functions (default: ``concurrency``).
        worker_id: Identity in records and events (default: ``worker-{pid}``).
        in_app: Whether the Litestar plugin runs a worker inside the app process (``None``: yes
            for the in-process memory backend and SQLite files, no for shared backends such as
            Redis and PostgreSQL, whose workers run as ``litestar queues worker`` processes).
        processes: Worker processes started by ``litestar queues worker``.
        isolate_reclaimed: Run a record whose lease expired before (its worker died or
            stalled) alone in this worker, claiming nothing else meanwhile, so that only a task
            that kills or stalls its worker is charged again and its neighbours get a fair run.
        watchdog: Keep leases alive from a thread while a task blocks the event loop (needs a
            queue backend given by URL and shared across processes; see ``docs/workers.md``).
        scheduler: Run the schedules (``QueueConfig.schedules`` and ``@task(cron=...)``) in this
            worker. Every worker may: the store lets one record per due time through, so no
            leader is needed (``docs/schedules.md``). ``False`` leaves them to other workers.
        scheduler_interval: Seconds between the scheduler's looks at the schedules: a due time
            is enqueued at most about this late.
    """

    concurrency: int = 10
    queues: Sequence[str] | None = None
    lease_seconds: float = 30.0
    heartbeat_interval: float | None = None
    reclaim_interval: float | None = None
    poll_interval: float = 1.0
    shutdown_grace: float = 30.0
    sync_threads: int | None = None
    worker_id: str | None = None
    in_app: bool | None = None
    processes: int = 1
    isolate_reclaimed: bool = True
    watchdog: bool = True
    scheduler: bool = True
    scheduler_interval: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise QueueConfigurationError(
                f"concurrency must be a whole number >= 1, got {self.concurrency!r}"
            )
        if self.processes < 1:
            raise QueueConfigurationError(f"processes must be >= 1, got {self.processes!r}")
        if not self.lease_seconds > 0:
            raise QueueConfigurationError(f"lease_seconds must be > 0, got {self.lease_seconds!r}")
        for name in ("heartbeat_interval", "reclaim_interval"):
            value = getattr(self, name)
            if value is not None and not 0 < value < self.lease_seconds:
                raise QueueConfigurationError(f"{name} must be > 0 and shorter than lease_seconds")
        if not self.poll_interval > 0:
            raise QueueConfigurationError("poll_interval must be > 0")
        interval = self.scheduler_interval
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
            raise QueueConfigurationError(f"scheduler_interval must be seconds > 0, got {interval!r}")
        if self.shutdown_grace < 0:
            raise QueueConfigurationError("shutdown_grace must be >= 0")
        if self.sync_threads is not None and self.sync_threads < 1:
            raise QueueConfigurationError("sync_threads must be >= 1")
        if self.queues is not None:
            if isinstance(self.queues, str):
                self.queues = [q for q in self.queues.split(",") if q]
            if not self.queues or not all(isinstance(q, str) and q for q in self.queues):
                raise QueueConfigurationError("queues must be None or a non-empty list of queue names")

    @property
    def effective_heartbeat_interval(self) -> float:
        """Seconds between lease extensions."""
        return self.heartbeat_interval or self.lease_seconds / 3

    @property
    def effective_reclaim_interval(self) -> float:
        """Seconds between sweeps for expired leases."""
        return self.reclaim_interval or self.lease_seconds / 6

    @property
    def effective_worker_id(self) -> str:
        """The worker's identity."""
        return self.worker_id or f"worker-{os.getpid()}"


@dataclass(kw_only=True, slots=True)
class QueueConfig:
    """Everything a :class:`~litestar_queues.QueueService` needs.

    Attributes:
        queue_backend: A backend instance, or a URL resolved by scheme through the
            ``litestar_queues.backends`` entry points (``memory://``, ``redis://``,
            ``sqlite:///queue.db``, ``postgresql://...``).
        execution_backend: Name of the default execution backend (``"local"``).
        execution_backends: Extra execution backends by name, beside the built-in ones.
        execution_profiles: Per-profile settings by profile name, read by execution backends.
            A profile's ``"backend"`` key names the execution backend it belongs to (an
            enqueue naming only the profile runs there); that backend decodes the other keys
            (see ``docs/execution.md``).
        app: ``MODULE:ATTR`` where this configuration (or a service built from it) can be
            imported: the ``--app`` of ``litestar-queues run-task``, which the ``process`` and
            remote execution backends start to run a task elsewhere.
        event_config: Event publishing (disabled by default).
        worker: Worker settings.
        max_payload_bytes: Largest encoded arguments + metadata of one task.
        max_reclaims: Expired leases a record survives before it fails (poison-task guard).
        clock: The time source (a manual clock in tests).
        registry: The task registry workers look names up in.
        retention: How long finished records are kept (completed one day, failed and
            cancelled seven days by default) and how often workers sweep older ones away.
        schedules: Periodic enqueues (:class:`~litestar_queues.Schedule`), beside those declared
            with ``@task(cron=...)``; names must be unique. Each names a registered task,
            which is checked when the service opens and when a worker is built.
        observers: Told what happens to tasks (:class:`~litestar_queues.QueueObserver`):
            Prometheus metrics, OpenTelemetry traces, your own hooks (``docs/observability.md``).
            None by default, and then the core makes no call at all.
        limits: Global limits per queue (:class:`~litestar_queues.QueueLimit`), enforced by the
            queue backend across every worker: ``{"emails": QueueLimit(concurrency=5)}``. Each
            worker writes them to the store when it starts; the store holds the effective
            limits (a change made at run time stays until a worker starts with a configuration
            that says otherwise; a queue left out keeps what is stored). See ``docs/limits.md``.
    """

    queue_backend: QueueBackend | str = "memory://"
    execution_backend: str = "local"
    execution_backends: Mapping[str, ExecutionBackend] = field(default_factory=dict)
    execution_profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    event_config: QueueEventConfig | None = None
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    max_payload_bytes: int = 1024 * 1024
    max_reclaims: int = 3
    clock: Clock = field(default_factory=SystemClock)
    registry: TaskRegistry = field(default_factory=lambda: default_registry)
    app: str | None = None
    retention: Retention = field(default_factory=Retention)
    schedules: Sequence[Schedule] = ()
    observers: Sequence[QueueObserver] = ()
    limits: Mapping[str, QueueLimit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.queue_backend, str) and not hasattr(self.queue_backend, "claim"):
            raise QueueConfigurationError(
                f"queue_backend must be a URL or a QueueBackend, got {type(self.queue_backend).__name__}"
            )
        if isinstance(self.queue_backend, str) and "://" not in self.queue_backend:
            raise QueueConfigurationError(f"queue_backend URL must have a scheme, got {self.queue_backend!r}")
        known = set(BUILTIN_EXECUTION_BACKENDS) | set(self.execution_backends)
        if self.execution_backend not in known:
            raise unknown_execution_backend(self.execution_backend, known)
        for name, settings in self.execution_profiles.items():
            if not hasattr(settings, "get"):
                raise QueueConfigurationError(f"execution profile {name!r} must be a mapping of settings")
            profile_backend = settings.get("backend")
            if profile_backend is not None and profile_backend not in known:
                raise QueueConfigurationError(
                    f"execution profile {name!r} names an unknown execution backend: "
                    f"{unknown_execution_backend(profile_backend, known)}"
                )
        if self.app is not None and (":" not in self.app or self.app.startswith(":")):
            raise QueueConfigurationError(f"app must be MODULE:ATTR, got {self.app!r}")
        if self.max_payload_bytes < 1:
            raise QueueConfigurationError("max_payload_bytes must be >= 1")
        if self.max_reclaims < 0:
            raise QueueConfigurationError("max_reclaims must be >= 0")
        if not isinstance(self.worker, WorkerConfig):
            raise QueueConfigurationError("worker must be a WorkerConfig")
        if not isinstance(self.retention, Retention):
            raise QueueConfigurationError(
                "retention must be a Retention (from litestar_queues import Retention), "
                f"got {type(self.retention).__name__}"
            )
        self._check_schedules()
        observers: object = self.observers
        if isinstance(observers, str | bytes) or not hasattr(observers, "__iter__"):
            raise QueueConfigurationError(f"observers must be a list of observers, got {self.observers!r}")
        self.observers = tuple(self.observers)
        for observer in self.observers:
            require_members(observer, QueueObserver, "an observer")
        self.limits = check_limits(self.limits)

    def _check_schedules(self) -> None:
        if not isinstance(self.schedules, list | tuple) or not all(
            isinstance(s, Schedule) for s in self.schedules
        ):
            raise QueueConfigurationError(
                "schedules must be a list of Schedule (from litestar_queues import Schedule), "
                f"got {self.schedules!r}"
            )
        self.schedules = tuple(self.schedules)
        names = [s.name for s in self.schedules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ScheduleError(
                f"schedule names must be unique, and {', '.join(map(repr, repeated))} is given more "
                "than once in QueueConfig.schedules: rename one (the name keys its stored state)"
            )

    def execution_backend_names(self) -> set[str]:
        """Names an enqueue may choose as ``execution_backend``."""
        return set(BUILTIN_EXECUTION_BACKENDS) | set(self.execution_backends)
