"""The queue service: enqueue tasks, look them up, cancel them, count them."""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from litestar_queues._active import pop_active, push_active
from litestar_queues._conformance import require_members
from litestar_queues._limit_ops import set_limit, stored_limits
from litestar_queues._loading import backend_from_url, unknown_execution_backend, unknown_execution_profile
from litestar_queues._operator import finished_counts, live_workers
from litestar_queues._query import MAX_PAGE, build_query, encode_cursor
from litestar_queues.attempts import AttemptDriver
from litestar_queues.config import QueueConfig
from litestar_queues.events.publisher import QueueEventPublisher
from litestar_queues.exceptions import QueueConfigurationError, TaskNotFoundError
from litestar_queues.execution.local import LocalExecutionBackend
from litestar_queues.execution.process import ProcessExecutionBackend
from litestar_queues.models import (
    ACTIVE_STATUSES,
    RETRYABLE_STATUSES,
    WAITING_STATUSES,
    QueryPosition,
    RecordQuery,
    TaskRecord,
)
from litestar_queues.ports import ExecutionBackend, QueueBackend
from litestar_queues.retention import prune
from litestar_queues.schedules.declared import declared_schedules
from litestar_queues.schedules.operations import (
    ScheduleInfo,
    delete_schedule,
    list_schedules,
    set_schedule_paused,
)
from litestar_queues.schedules.scheduler import Scheduler
from litestar_queues.serialization import to_json_value
from litestar_queues.task import EnqueueOptions, RunAfter, Task, TaskCall
from litestar_queues.task_result import TaskResult
from litestar_queues.worker import Worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping
    from types import TracebackType

    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import WorkerInfo
    from litestar_queues.schedules.definition import Schedule

__all__ = ("QueueService", "QueueStats", "TaskCall", "TaskPage")

logger = logging.getLogger("litestar_queues.admin")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of :meth:`QueueService.list_tasks`.

    Attributes:
        tasks: The tasks of the page, in the requested order.
        next_cursor: Pass it as ``cursor`` for the next page; ``None`` on the last page.
    """

    tasks: list[TaskResult[Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Record counts per queue and status, the paused queues and the queues' limits.

    Attributes:
        queues: ``{queue: {status: count}}``.
        paused: Names of the queues paused now (workers claim nothing from them).
        limits: The stored limit of each queue that has one (``docs/limits.md``).
    """

    queues: dict[str, dict[str, int]]
    paused: frozenset[str] = frozenset()
    limits: Mapping[str, QueueLimit] = field(default_factory=dict)

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
        """Open the backends and make this the active service.

        Raises:
            ScheduleError: A declared schedule names a task not registered in this process, or
                two share a name (checked before anything opens).
        """
        if self._opened:
            return
        Scheduler(self)  # checks the declared schedules: a mistake fails at start-up
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
        *,
        now: datetime | None = None,
    ) -> TaskRecord:
        """Validate an enqueue request and build its record (nothing is stored).

        ``now`` is the enqueue time (default: the configured clock's); a scheduler passes the
        time of its tick.

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
        now = self.config.clock.now() if now is None else now
        run_at = _due_time(now, opts.run_after)
        return TaskRecord(
            id=uuid.uuid4(),
            task_name=resolved.name,
            queue=opts.queue,
            priority=opts.priority,
            args=payload["args"],
            kwargs=payload["kwargs"],
            key=opts.key,
            limit_key=opts.limit_key,
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
        limit_key: str | None = None,
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
            limit_key: Partition key of the queue's limit: with its ``key_concurrency``, at most
                that many tasks with the same limit key run at once (``docs/limits.md``).
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
        observers = self.attempts.observers
        if observers is None:
            stored = await self.backend.enqueue(records)
        else:
            stored = await observers.store(records, self.backend.enqueue)
        handles: list[TaskResult[Any]] = [
            TaskResult(self.backend, s.record, created=s.created) for s in stored
        ]
        for handle, record in zip(handles, records, strict=True):
            if handle.created and (record.execution_backend or self.config.execution_backend) == "immediate":
                await self._run_immediately(handle)
        return handles

    async def _run_immediately(self, handle: TaskResult[Any]) -> None:
        # attempts run inline one after another (waiting out the backoff) until one is final
        held_back = False
        while True:
            claimed = await self.attempts.claim_task(handle.id, worker_id="immediate")
            if claimed is None:
                held_back = True  # unless it is no longer waiting: checked below
                break
            attempt = await self.attempts.drive(claimed, None)
            outcome = attempt.outcome
            retrying = outcome is not None and outcome.kind == "retry" and outcome.run_at is not None
            if attempt.applied is None or not retrying:
                break
            assert outcome is not None and outcome.run_at is not None
            await anyio.sleep(max(0.0, (outcome.run_at - self.config.clock.now()).total_seconds()))
        record = (await handle.refresh()).record
        if held_back and record.status in WAITING_STATUSES:
            # the queue's limit held it back (docs/limits.md): it waits in its queue for a worker
            logger.info(
                "task %s (%s) was not run immediately: the limit of queue %s holds it back; a worker runs it",
                record.id,
                record.task_name,
                record.queue,
            )

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
        observers = self.attempts.observers
        # a running task's task.cancelled comes from its worker; a waiting one's from here
        looks = self.publisher is not None or observers is not None
        before = await self.backend.get(key) if looks else None
        record = await self.backend.cancel(key, now=self.config.clock.now())
        if record is None:
            raise TaskNotFoundError(task_id)
        if before is not None and before.status in ACTIVE_STATUSES and record.status == "cancelled":
            if observers is not None:
                observers.cancelled(record)
            if self.publisher is not None and before.status in WAITING_STATUSES:
                await self.attempts.announce_cancelled(record)
        return TaskResult(self.backend, record)

    async def retry(self, task_id: uuid.UUID | str) -> TaskResult[Any]:
        """Put a failed or cancelled task back in its queue: the same record runs again.

        Idempotent: a task that is already pending, scheduled or running again is returned as
        it is (check ``result.status``), so retrying twice does not run it twice. The record
        keeps its id, ``runs`` and attempt ``history``; its ``attempts`` and ``reclaims`` start
        again from 0.

        Raises:
            TaskNotFoundError: No record has that id.
            QueueConfigurationError: The task completed (there is nothing to retry), or another
                active record holds its dedup key now.
        """
        record = await self.backend.requeue(_as_uuid(task_id), now=self.config.clock.now())
        if record is None:
            raise TaskNotFoundError(task_id)
        if record.status == "completed":
            raise QueueConfigurationError(
                f"only failed or cancelled tasks can be retried; {task_id} is completed"
            )
        if record.status in RETRYABLE_STATUSES:
            raise QueueConfigurationError(
                f"task {task_id} cannot be retried now: another active record holds its dedup key "
                f"{record.key!r}; retry it once that record has finished"
            )
        return TaskResult(self.backend, record)

    async def list_tasks(
        self,
        *,
        queues: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        task_names: Iterable[str] | None = None,
        key: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        finished_after: datetime | None = None,
        finished_before: datetime | None = None,
        newest_first: bool = True,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """List stored tasks, newest (or oldest) first, one page at a time.

        Args:
            queues: Only these queues.
            statuses: Only these statuses (``pending``, ``scheduled``, ``running``,
                ``completed``, ``failed``, ``cancelled``).
            task_names: Only these registered task names.
            key: Only records with this dedup key.
            created_after: Enqueued at or after this aware datetime.
            created_before: Enqueued before this aware datetime.
            finished_after: Finished at or after this aware datetime.
            finished_before: Finished before this aware datetime.
            newest_first: Newest enqueued first (else oldest first).
            limit: Page size, 1 to 1000.
            cursor: ``next_cursor`` of the previous page (same filters and order).

        Returns:
            The page, with ``next_cursor`` for the following one (``None``: this is the last).

        Raises:
            QueueConfigurationError: A filter, the limit or the cursor is invalid.
        """
        query = build_query(
            queues=queues,
            statuses=statuses,
            task_names=task_names,
            key=key,
            created_after=created_after,
            created_before=created_before,
            finished_after=finished_after,
            finished_before=finished_before,
            newest_first=newest_first,
            limit=limit,
            cursor=cursor,
        )
        records = list(await self.backend.query(query))
        next_cursor = encode_cursor(QueryPosition.of(records[-1])) if len(records) == query.limit else None
        return TaskPage([TaskResult(self.backend, r) for r in records], next_cursor)

    async def retry_failed(
        self, *, queues: Iterable[str] | None = None, task_names: Iterable[str] | None = None
    ) -> list[TaskResult[Any]]:
        """Retry every failed task (of ``queues`` / ``task_names`` when given), oldest first.

        Returns:
            The handles of the tasks put back in their queues (ones whose key is held are skipped).
        """
        retried: list[TaskResult[Any]] = []
        async for record in self._matching(queues=queues, statuses=("failed",), task_names=task_names):
            updated = await self.backend.requeue(record.id, now=self.config.clock.now())
            if updated is not None and updated.status not in RETRYABLE_STATUSES:
                retried.append(TaskResult(self.backend, updated))
        return retried

    async def cancel_matching(
        self,
        *,
        queues: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        task_names: Iterable[str] | None = None,
    ) -> list[TaskResult[Any]]:
        """Cancel every task that is not finished and matches the filters (at least one given).

        Raises:
            QueueConfigurationError: No filter is given (cancelling everything needs a filter),
                or a status is not pending, scheduled or running.
        """
        if queues is None and statuses is None and task_names is None:
            raise QueueConfigurationError(
                "cancel_matching needs at least one filter (queues, statuses or task_names)"
            )
        wanted = tuple(statuses) if statuses is not None else tuple(sorted(ACTIVE_STATUSES))
        if not set(wanted) <= ACTIVE_STATUSES:
            raise QueueConfigurationError(
                f"only pending, scheduled or running tasks can be cancelled, got {sorted(wanted)}"
            )
        cancelled: list[TaskResult[Any]] = []
        async for record in self._matching(queues=queues, statuses=wanted, task_names=task_names):
            cancelled.append(await self.cancel(record.id))
        return cancelled

    async def _matching(
        self,
        *,
        queues: Iterable[str] | None,
        statuses: Iterable[str] | None,
        task_names: Iterable[str] | None,
    ) -> AsyncIterator[TaskRecord]:
        # pages read before any change is made to them, oldest first: a change never moves a
        # record to a later page (the order is by enqueue time), so none is missed or seen twice
        cursor: str | None = None
        while True:
            page = await self.list_tasks(
                queues=queues,
                statuses=statuses,
                task_names=task_names,
                newest_first=False,
                limit=500,
                cursor=cursor,
            )
            for handle in page.tasks:
                yield handle.record
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def stats(self) -> QueueStats:
        """Count records per queue and status; name the paused queues and the queues' limits."""
        return QueueStats(
            dict(await self.backend.counts()),
            frozenset(await self.backend.paused_queues()),
            await stored_limits(self.backend),
        )

    async def workers(self) -> list[WorkerInfo]:
        """The live workers, by start time: each worker's latest presence that has not expired.

        A worker records its presence when it starts, at every heartbeat and when it begins
        draining (``stopping``), and forgets it on a clean stop; a worker killed without one is
        listed until its presence expires (three heartbeat intervals after its last beat).
        """
        return await live_workers(self.backend, self.config.clock)

    async def finished_counts(
        self, since: datetime | None = None, window: timedelta = timedelta(hours=1)
    ) -> dict[str, dict[str, int]]:
        """How many tasks completed, failed or were cancelled lately, per queue and status.

        Args:
            since: Count tasks finished at or after this aware datetime.
            window: Without ``since``: count those finished within this long before now.

        Returns:
            ``{queue: {status: count}}`` for the statuses ``completed``, ``failed`` and
            ``cancelled``, without zeros (a queue with none is left out).

        Raises:
            QueueConfigurationError: ``since`` is naive, or ``window`` is not positive.
        """
        return await finished_counts(self.backend, self.config.clock, since=since, window=window)

    async def purge(
        self,
        *,
        statuses: Iterable[str],
        queues: Iterable[str] | None = None,
        task_names: Iterable[str] | None = None,
        created_before: datetime | None = None,
        finished_before: datetime | None = None,
    ) -> int:
        """Delete every task with one of ``statuses`` that matches the other filters.

        Finished tasks (``completed``, ``failed``, ``cancelled``) and waiting ones (``pending``,
        ``scheduled``: they will not run) can be purged; running tasks cannot (cancel them
        first). Deleted records are gone with their results and history.

        Returns:
            The number of tasks deleted.

        Raises:
            QueueConfigurationError: ``statuses`` is empty, names ``running`` or an unknown
                status, or another filter is invalid; nothing is deleted then.
        """
        wanted = list(statuses) if not isinstance(statuses, str) else [statuses]
        if not wanted:
            raise QueueConfigurationError("purge needs the statuses to delete (for example completed,failed)")
        if "running" in wanted:
            raise QueueConfigurationError(
                "running tasks cannot be purged: cancel them first (cancel --status running), "
                "then purge the cancelled ones"
            )
        query = build_query(
            queues=queues,
            statuses=wanted,
            task_names=task_names,
            key=None,
            created_after=None,
            created_before=created_before,
            finished_after=None,
            finished_before=finished_before,
            newest_first=False,
            limit=MAX_PAGE,
            cursor=None,
        )
        total = 0
        while True:
            deleted = len(await self.backend.delete(query))
            total += deleted
            if deleted < query.limit:
                break
        logger.info("purged %d task(s): %s", total, _describe_filters(query))
        return total

    async def prune(self) -> dict[str, int]:
        """Delete finished tasks older than ``config.retention`` allows, now.

        Workers do this on their own every ``retention.interval`` seconds (one worker at a
        time); call it to sweep on demand, e.g. after lowering an age.

        Returns:
            The number of tasks deleted per status.
        """
        return await prune(self.backend, self.config.retention, self.config.clock.now())

    async def pause(self, queue: str) -> None:
        """Pause ``queue``: workers claim nothing from it (from their next claim on) until resumed.

        Enqueues still go in, running tasks finish, and the state lives in the backend, so every
        worker of every process sees it.
        """
        await self.backend.set_paused(_queue_name(queue), paused=True)
        logger.info("queue %s paused", queue)

    async def resume(self, queue: str) -> None:
        """Resume a paused queue; its waiting workers wake up."""
        await self.backend.set_paused(_queue_name(queue), paused=False)
        logger.info("queue %s resumed", queue)

    async def paused_queues(self) -> set[str]:
        """The names of the queues paused now."""
        return set(await self.backend.paused_queues())

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Set the global limit of ``queue`` for every worker (``None`` removes it).

        Stored in the queue backend, so every worker's next claim applies it; it stays until a
        worker starts with a ``QueueConfig.limits`` entry for the queue that says otherwise.

        Raises:
            QueueLimitError: ``queue`` is empty or ``limit`` is not a QueueLimit (nothing stored).
        """
        await set_limit(self.backend, queue, limit)

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limit of every queue that has one, by queue name."""
        return await stored_limits(self.backend)

    # -- schedules ------------------------------------------------------------------------------

    def declared_schedules(self) -> tuple[Schedule, ...]:
        """The schedules this process declares: ``QueueConfig.schedules`` and ``@task(cron=...)``.

        Raises:
            ScheduleError: Two share a name, or one names a task not registered here.
        """
        return declared_schedules(self.config)

    async def schedules(self) -> list[ScheduleInfo]:
        """Every schedule declared here or stored in the backend: definition, state, last and next fire.

        A stored schedule that this process does not declare is listed as ``removed``.
        """
        return await list_schedules(self)

    async def pause_schedule(self, name: str) -> ScheduleInfo:
        """Pause the schedule ``name`` in every process: its due times pass without a record.

        Raises:
            ScheduleNotFoundError: No schedule of that name is declared or stored.
        """
        return await set_schedule_paused(self, name, paused=True)

    async def resume_schedule(self, name: str) -> ScheduleInfo:
        """Resume a paused schedule: it fires again from its next due time (no catching up).

        Raises:
            ScheduleNotFoundError: No schedule of that name is declared or stored.
        """
        return await set_schedule_paused(self, name, paused=False)

    async def delete_schedule(self, name: str, *, force: bool = False) -> None:
        """Delete the stored state of a schedule removed from the code; its records stay.

        Args:
            name: The schedule's name.
            force: Delete a schedule that is still declared too: its schedulers store it again
                at their next tick, as new (its next due time counted from then).

        Raises:
            ScheduleError: The schedule is still declared here and ``force`` is not set.
            ScheduleNotFoundError: No state is stored under ``name``.
        """
        await delete_schedule(self, name, force=force)

    def scheduler(self, **options: Any) -> Scheduler:
        """Build a :class:`~litestar_queues.schedules.scheduler.Scheduler` for this service.

        Workers run their own; this one is for driving ``tick(now)`` yourself (tests, a
        scheduler-only process). Keyword options go to the ``Scheduler``.
        """
        return Scheduler(self, **options)

    def worker(self, **overrides: Any) -> Worker:
        """Build a :class:`~litestar_queues.Worker` for this service (``WorkerConfig`` overrides)."""
        return Worker(self, **overrides)


def _queue_name(queue: str) -> str:
    if not isinstance(queue, str) or not queue:
        raise QueueConfigurationError(f"a queue name must be a non-empty string, got {queue!r}")
    return queue


def _describe_filters(query: RecordQuery) -> str:
    shown = {
        name: value
        for name in ("statuses", "queues", "task_names", "created_before", "finished_before")
        if (value := getattr(query, name)) is not None
    }
    return ", ".join(f"{name}={value}" for name, value in shown.items())


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
