"""The queue service: enqueue tasks, look them up, cancel them, count them."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from litestar_queues._active import pop_active, push_active
from litestar_queues._conformance import require_members
from litestar_queues._loading import backend_from_url, unknown_execution_backend, unknown_execution_profile
from litestar_queues.attempts import AttemptDriver
from litestar_queues.config import QueueConfig
from litestar_queues.events.publisher import QueueEventPublisher
from litestar_queues.exceptions import QueueConfigurationError, TaskNotFoundError
from litestar_queues.execution.local import LocalExecutionBackend
from litestar_queues.execution.process import ProcessExecutionBackend
from litestar_queues.models import RETRYABLE_STATUSES, WAITING_STATUSES, TaskRecord
from litestar_queues.ports import ExecutionBackend, QueueBackend
from litestar_queues.serialization import to_json_value
from litestar_queues.task import EnqueueOptions, RunAfter, Task, TaskCall
from litestar_queues.task_result import TaskResult
from litestar_queues.worker import Worker

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

__all__ = ("QueueService", "QueueStats", "TaskCall")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Record counts per queue and status.

    Attributes:
        queues: ``{queue: {status: count}}``.
    """

    queues: dict[str, dict[str, int]]

    def count(self, status: str, queue: str | None = None) -> int:
        """Records with ``status`` in ``queue`` (``None``: all queues)."""
        names = [queue] if queue is not None else list(self.queues)
        return sum(self.queues.get(name, {}).get(status, 0) for name in names)

    @property
    def total(self) -> int:
        """All records."""
        return sum(sum(per.values()) for per in self.queues.values())


class QueueService:
    """Enqueues tasks and reads their state, through the configured queue backend.

    Open it with ``async with QueueService(config) as service:``; while open it is the active
    service of the process, the one ``Task.enqueue`` uses.

    Args:
        config: The configuration (default: ``QueueConfig()``, the in-memory backend).
    """

    def __init__(self, config: QueueConfig | None = None) -> None:
        self.config = config or QueueConfig()
        backend = self.config.queue_backend
        self.backend: QueueBackend = backend_from_url(backend) if isinstance(backend, str) else backend
        require_members(self.backend, QueueBackend, "the queue backend")
        local = LocalExecutionBackend()
        self.execution_backends: dict[str, ExecutionBackend] = {
            "local": local,
            "immediate": local,
            "process": ProcessExecutionBackend(),
        }
        self.execution_backends.update(self.config.execution_backends)
        for name, execution in self.config.execution_backends.items():
            require_members(execution, ExecutionBackend, f"execution backend {name!r}")
        for execution in dict.fromkeys(self.execution_backends.values()):
            execution.configure(self.config)
        self.publisher = QueueEventPublisher.from_config(self.config.event_config)
        worker = self.config.worker
        self.attempts = AttemptDriver(
            self.config,
            self.backend,
            self.execution_backends,
            self.publisher,
            sync_threads=worker.sync_threads or worker.concurrency,
        )
        """The attempt driver every run of a task goes through (workers, ``immediate``, ``run-task``)."""
        self._opened = False

    async def __aenter__(self) -> QueueService:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the backends and make this the active service."""
        if self._opened:
            return
        await self.backend.open()
        opened: list[ExecutionBackend] = []
        try:
            for execution in dict.fromkeys(self.execution_backends.values()):
                await execution.open()
                opened.append(execution)
        except BaseException:
            for execution in reversed(opened):
                await execution.close()
            await self.backend.close()
            raise
        self._opened = True
        push_active(self)

    async def close(self) -> None:
        """Close the backends; the previously opened service becomes active again."""
        if not self._opened:
            return
        self._opened = False
        pop_active(self)
        try:
            for execution in reversed(list(dict.fromkeys(self.execution_backends.values()))):
                await execution.close()
        finally:
            await self.backend.close()

    @property
    def is_open(self) -> bool:
        """Whether the service is open."""
        return self._opened

    # -- enqueue --------------------------------------------------------------------------------

    def _resolve(self, task: Task[..., R] | str) -> Task[..., R]:
        if isinstance(task, Task):
            return task
        if isinstance(task, str):
            return self.config.registry.get(task)
        raise TypeError(f"enqueue takes a Task or a registered task name, got {type(task).__name__}")

    def build_record(
        self,
        task: Task[..., Any] | str,
        args: Iterable[Any],
        kwargs: Mapping[str, Any],
        options: EnqueueOptions,
    ) -> TaskRecord:
        """Validate an enqueue request and build its record (nothing is stored).

        Raises:
            UnknownTaskError: ``task`` names no registered task.
            SerializationError: Arguments or metadata are not JSON-serialisable.
            PayloadTooLargeError: They encode to more than ``max_payload_bytes``.
            QueueConfigurationError: An override is invalid.
        """
        resolved = self._resolve(task)
        opts = resolved.resolve(options)
        assert opts.queue is not None and opts.priority is not None and opts.retries is not None
        execution_backend, profile = self._placement(opts)
        what = f"arguments of task {resolved.name!r}"
        payload = to_json_value(
            {"args": list(args), "kwargs": dict(kwargs), "metadata": dict(opts.metadata or {})},
            what=what,
            max_bytes=self.config.max_payload_bytes,
        )
        now = self.config.clock.now()
        run_at = _due_time(now, opts.run_after)
        return TaskRecord(
            id=uuid.uuid4(),
            task_name=resolved.name,
            queue=opts.queue,
            priority=opts.priority,
            args=payload["args"],
            kwargs=payload["kwargs"],
            key=opts.key,
            status="scheduled" if run_at > now else "pending",
            max_retries=opts.retries,
            max_reclaims=self.config.max_reclaims,
            timeout=opts.timeout,
            metadata=payload["metadata"],
            execution_backend=execution_backend,
            execution_profile=profile,
            created_at=now,
            run_at=run_at,
        )

    def _placement(self, opts: EnqueueOptions) -> tuple[str | None, str | None]:
        execution_backend, profile = opts.execution_backend, opts.execution_profile
        if execution_backend is not None and execution_backend not in self.execution_backends:
            raise unknown_execution_backend(execution_backend, self.execution_backends)
        if profile is not None:
            if profile not in self.config.execution_profiles:
                raise unknown_execution_profile(profile, self.config.execution_profiles, execution_backend)
            profile_backend = self.config.execution_profiles[profile].get("backend")
            if execution_backend is None:
                execution_backend = profile_backend
            elif profile_backend is not None and profile_backend != execution_backend:
                raise QueueConfigurationError(
                    f"execution profile {profile!r} belongs to execution backend {profile_backend!r}, "
                    f"not {execution_backend!r}"
                )
        name = execution_backend if execution_backend is not None else self.config.execution_backend
        placement = self.execution_backends[name]
        placement.check(profile)
        if placement.needs_shared_queue and not self.backend.reach.shared_across_processes:
            raise QueueConfigurationError(
                f"the {name} execution backend runs tasks in other processes and needs a queue backend "
                f"shared between processes (SQLite file, PostgreSQL, Redis); {type(self.backend).__name__} "
                "lives in this process only"
            )
        return execution_backend, profile

    async def enqueue(
        self,
        task: Task[..., R] | str,
        *args: Any,
        key: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        run_after: RunAfter | None = None,
        execution_backend: str | None = None,
        execution_profile: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> TaskResult[R]:
        """Enqueue one task and return its handle.

        Keyword arguments other than the overrides below (the fields of
        :class:`~litestar_queues.task.EnqueueOptions`) go to the task function.

        Args:
            task: A :class:`Task` or a registered task name.
            *args: Positional arguments of the task (JSON-serialisable).
            key: Dedup key: while an active record holds it, that record is returned instead.
            queue: Queue override.
            priority: Priority override (higher runs first).
            retries: Retries override.
            timeout: Timeout override in seconds.
            run_after: Delay: seconds, a ``timedelta`` or an aware ``datetime``.
            execution_backend: Execution backend override (``"immediate"`` runs it now, inline).
            execution_profile: Execution profile override.
            metadata: JSON metadata stored on the record.
            **kwargs: Keyword arguments of the task (JSON-serialisable).

        Returns:
            A :class:`TaskResult` for the stored (or deduplicated) record.
        """
        options = EnqueueOptions.from_call(locals())
        (handle,) = await self._store([self.build_record(task, args, kwargs, options)])
        return handle

    async def enqueue_many(self, calls: Iterable[TaskCall]) -> list[TaskResult[Any]]:
        """Enqueue several tasks in one backend round trip where the backend allows it.

        Every call is validated before anything is stored: one bad call stores nothing.
        """
        records = [self.build_record(c.task, c.args, c.kwargs, EnqueueOptions()) for c in calls]
        return await self._store(records) if records else []

    async def _store(self, records: list[TaskRecord]) -> list[TaskResult[Any]]:
        stored = await self.backend.enqueue(records)
        handles: list[TaskResult[Any]] = [
            TaskResult(self.backend, s.record, created=s.created) for s in stored
        ]
        for handle, record in zip(handles, records, strict=True):
            if handle.created and (record.execution_backend or self.config.execution_backend) == "immediate":
                await self._run_immediately(handle)
        return handles

    async def _run_immediately(self, handle: TaskResult[Any]) -> None:
        # attempts run inline one after another (waiting out the backoff) until one is final
        while True:
            claimed = await self.attempts.claim_task(handle.id, worker_id="immediate")
            if claimed is None:
                break
            attempt = await self.attempts.drive(claimed, None)
            outcome = attempt.outcome
            retrying = outcome is not None and outcome.kind == "retry" and outcome.run_at is not None
            if attempt.applied is None or not retrying:
                break
            assert outcome is not None and outcome.run_at is not None
            await anyio.sleep(max(0.0, (outcome.run_at - self.config.clock.now()).total_seconds()))
        await handle.refresh()

    # -- reads and changes ----------------------------------------------------------------------

    async def get_task(self, task_id: uuid.UUID | str) -> TaskResult[Any]:
        """Return the handle of a stored record.

        Raises:
            TaskNotFoundError: No record has that id.
        """
        record = await self.backend.get(_as_uuid(task_id))
        if record is None:
            raise TaskNotFoundError(task_id)
        return TaskResult(self.backend, record)

    async def cancel(self, task_id: uuid.UUID | str) -> TaskResult[Any]:
        """Cancel a task that is not terminal yet (a running one is stopped by its worker).

        Raises:
            TaskNotFoundError: No record has that id.
        """
        key = _as_uuid(task_id)
        # a running task's task.cancelled comes from its worker; a waiting one's from here
        before = await self.backend.get(key) if self.publisher is not None else None
        record = await self.backend.cancel(key, now=self.config.clock.now())
        if record is None:
            raise TaskNotFoundError(task_id)
        if before is not None and before.status in WAITING_STATUSES and record.status == "cancelled":
            await self.attempts.announce_cancelled(record)
        return TaskResult(self.backend, record)

    async def retry(self, task_id: uuid.UUID | str) -> TaskResult[Any]:
        """Enqueue a fresh copy of a failed or cancelled task (terminal records never change).

        Raises:
            TaskNotFoundError: No record has that id.
            QueueConfigurationError: The task is not failed or cancelled.
        """
        original = await self.backend.get(_as_uuid(task_id))
        if original is None:
            raise TaskNotFoundError(task_id)
        if original.status not in RETRYABLE_STATUSES:
            raise QueueConfigurationError(
                f"only failed or cancelled tasks can be retried; {task_id} is {original.status}"
            )
        now = self.config.clock.now()
        copy = TaskRecord(
            id=uuid.uuid4(),
            task_name=original.task_name,
            queue=original.queue,
            priority=original.priority,
            args=original.args,
            kwargs=original.kwargs,
            key=original.key,
            max_retries=original.max_retries,
            max_reclaims=original.max_reclaims,
            timeout=original.timeout,
            metadata={**original.metadata, "retry_of": str(original.id)},
            execution_backend=original.execution_backend,
            execution_profile=original.execution_profile,
            created_at=now,
            run_at=now,
        )
        (stored,) = await self.backend.enqueue([copy])
        return TaskResult(self.backend, stored.record, created=stored.created)

    async def stats(self) -> QueueStats:
        """Count records per queue and status."""
        return QueueStats(await self.backend.counts())

    def worker(self, **overrides: Any) -> Worker:
        """Build a :class:`~litestar_queues.Worker` for this service (``WorkerConfig`` overrides)."""
        return Worker(self, **overrides)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise TaskNotFoundError(value) from None


def _due_time(now: datetime, run_after: RunAfter | None) -> datetime:
    if run_after is None:
        return now
    if isinstance(run_after, datetime):
        if run_after.tzinfo is None or run_after.utcoffset() is None:
            raise QueueConfigurationError("run_after datetime must be timezone-aware")
        return run_after.astimezone(UTC)
    if isinstance(run_after, timedelta):
        delay = run_after
    elif isinstance(run_after, int | float) and not isinstance(run_after, bool):
        if not math.isfinite(run_after):
            raise QueueConfigurationError(f"run_after must be a finite number of seconds, got {run_after!r}")
        try:
            delay = timedelta(seconds=run_after)
        except OverflowError:
            raise QueueConfigurationError(f"run_after is out of range: {run_after!r}") from None
    else:
        raise QueueConfigurationError(
            f"run_after must be seconds, a timedelta or a datetime, got {run_after!r}"
        )
    if delay < timedelta(0):
        raise QueueConfigurationError("run_after must not be negative")
    try:
        return now + delay
    except OverflowError:
        raise QueueConfigurationError(f"run_after is out of range: {run_after!r}") from None
