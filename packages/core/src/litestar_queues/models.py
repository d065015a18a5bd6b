"""The stored task record and the values exchanged through the queue backend port."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

__all__ = (
    "ACTIVE_STATUSES",
    "ALL_STATUSES",
    "HISTORY_LIMIT",
    "TRACEBACK_LIMIT",
    "AttemptRecord",
    "AttemptVerdict",
    "EnqueueResult",
    "RETRYABLE_STATUSES",
    "TERMINAL_STATUSES",
    "WAITING_STATUSES",
    "Outcome",
    "OutcomeKind",
    "QueryPosition",
    "RecordQuery",
    "ScheduleState",
    "TaskRecord",
    "TaskStatus",
    "WorkerInfo",
)

TaskStatus = Literal["pending", "scheduled", "running", "completed", "failed", "cancelled"]
"""The status of a task record."""

OutcomeKind = Literal["complete", "fail", "retry", "release"]
"""What a worker reports for a task it holds: see :class:`Outcome`."""

ALL_STATUSES: tuple[TaskStatus, ...] = ("pending", "scheduled", "running", "completed", "failed", "cancelled")
"""Every status, in lifecycle order."""

WAITING_STATUSES: frozenset[str] = frozenset({"pending", "scheduled"})
"""Statuses of records that wait to be claimed (a claim by id takes only these)."""

ACTIVE_STATUSES: frozenset[str] = frozenset({"pending", "scheduled", "running"})
"""Statuses of records that may still run; a dedup key is held while a record has one of them."""

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""Statuses a record never leaves."""

RETRYABLE_STATUSES: frozenset[str] = frozenset({"failed", "cancelled"})
"""Statuses of records that :meth:`QueueService.retry <litestar_queues.QueueService.retry>` copies."""


AttemptVerdict = Literal["completed", "failed", "retried", "released", "lease_expired", "cancelled"]
"""How one attempt ended (see :class:`AttemptRecord`)."""

HISTORY_LIMIT = 10
"""Attempts kept in a record's history: the latest ones."""

TRACEBACK_LIMIT = 8192
"""Characters of a traceback kept in the history (the end of it: where the error was raised)."""


class AttemptRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One past attempt of a task, kept in :attr:`TaskRecord.history`.

    Attributes:
        run: The run number (``TaskRecord.runs`` when it was claimed).
        worker_id: The worker that ran it.
        started_at: When it was claimed.
        finished_at: When its end was recorded (for a lost lease: when that was noticed).
        verdict: How it ended.
        error: The error text of a failed, retried or lost attempt.
        traceback: The end of the formatted traceback of a failed or retried attempt.
    """

    run: int
    worker_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: AttemptVerdict
    error: str | None = None
    traceback: str | None = None


class TaskRecord(msgspec.Struct, kw_only=True):
    """One task as the queue backend stores it.

    The core builds records at enqueue and interprets them; backends store them and change
    them atomically according to the port's rules (:class:`~litestar_queues.ports.QueueBackend`).

    Attributes:
        id: Unique id of the record.
        task_name: Registered name of the task to run.
        queue: Queue the record waits in.
        priority: Higher runs first; equal priorities run in enqueue order.
        args: Positional arguments, as JSON values.
        kwargs: Keyword arguments, as JSON values.
        key: Dedup key: at most one active record holds a key at a time.
        limit_key: Partition key of the queue's limit (``customer:42``): with the queue's
            ``key_concurrency`` (:class:`~litestar_queues.QueueLimit`), at most that many records
            with the same limit key run at once in the queue.
        status: Current status.
        attempts: Attempts counted against ``max_retries`` (incremented by each claim; an
            attempt whose lease expired or that was released is not counted).
        max_retries: Retries allowed after the first attempt.
        runs: How many times the record was claimed; never decreases.
        reclaims: How many times the record's lease expired while running.
        max_reclaims: Past this many expired leases the record fails instead of returning
            to the queue (protects the queue from a task that kills its worker every time).
        timeout: Seconds an attempt may run before it is cancelled and counted as failed.
        metadata: Free JSON metadata supplied at enqueue.
        execution_backend: Name of the execution backend that runs the task (``None``: default).
        execution_profile: Name of the execution profile (``None``: default).
        created_at: When the record was enqueued.
        run_at: When the record becomes due.
        started_at: When the latest attempt started.
        finished_at: When the record became terminal.
        lease_id: Token of the current lease while running.
        lease_expires_at: When the current lease expires while running.
        worker_id: Worker holding (or that last held) the record.
        result: The task's return value once completed.
        error: Text of the last failure.
        history: The latest attempts (at most :data:`HISTORY_LIMIT`), oldest first. The core
            writes it with each outcome; backends store it as given. A task that completed at
            its first run keeps none: ``worker_id``, ``started_at`` and ``finished_at`` describe
            that run.
    """

    id: UUID
    task_name: str
    queue: str = "default"
    priority: int = 0
    args: list[Any] = msgspec.field(default_factory=list)
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    key: str | None = None
    limit_key: str | None = None
    status: TaskStatus = "pending"
    attempts: int = 0
    max_retries: int = 0
    runs: int = 0
    reclaims: int = 0
    max_reclaims: int = 3
    timeout: float | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    execution_backend: str | None = None
    execution_profile: str | None = None
    created_at: datetime
    run_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_id: str | None = None
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    result: Any = None
    error: str | None = None
    history: list[AttemptRecord] = msgspec.field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        """Whether the record reached a status it never leaves."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """Whether the record may still run (pending, scheduled or running)."""
        return self.status in ACTIVE_STATUSES


class Outcome(msgspec.Struct, kw_only=True):
    """What a worker reports for a task it holds under a lease.

    Kinds:
        ``complete``: the task returned ``result``; the record becomes ``completed``.
        ``fail``: the task failed for good; the record becomes ``failed`` with ``error``.
        ``retry``: the attempt failed and the task runs again at ``run_at``; the record becomes
            ``scheduled`` (or ``pending`` when ``run_at`` is not in the future).
        ``release``: the worker gives the task back without an outcome (graceful shutdown);
            the record becomes ``pending`` and the attempt is not counted.

    Attributes:
        task_id: The record the outcome is for.
        lease_id: The lease under which the worker holds the record; a mismatch is rejected.
        kind: One of the kinds above.
        result: Return value for ``complete``.
        error: Error text for ``fail`` and ``retry``.
        run_at: When a ``retry`` becomes due.
        history: The record's attempt history including this attempt (``None``: unchanged);
            the backend stores it as given with the outcome.
    """

    task_id: UUID
    lease_id: str
    kind: OutcomeKind
    result: Any = None
    error: str | None = None
    run_at: datetime | None = None
    history: list[AttemptRecord] | None = None


class QueryPosition(msgspec.Struct, frozen=True):
    """A place in the order of :meth:`~litestar_queues.ports.QueueBackend.query`: ``(created_at, id)``.

    Records are ordered by ``created_at``, then ``id``; a page continues strictly after (or,
    newest first, strictly before) the position of the last record of the previous page.
    """

    created_at: datetime
    id: UUID

    @classmethod
    def of(cls, record: TaskRecord) -> QueryPosition:
        """The position of ``record``."""
        return cls(record.created_at, record.id)


class RecordQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which records :meth:`~litestar_queues.ports.QueueBackend.query` lists, in which order.

    Every filter that is set must hold (``None``: no filter). ``*_after`` bounds are inclusive
    (``>=``), ``*_before`` bounds exclusive (``<``); a record without ``finished_at`` never
    matches a ``finished_*`` bound.

    Attributes:
        queues: Records in one of these queues.
        statuses: Records with one of these statuses.
        task_names: Records of one of these tasks.
        key: Records with this dedup key.
        created_after: ``created_at >= created_after``.
        created_before: ``created_at < created_before``.
        finished_after: ``finished_at >= finished_after``.
        finished_before: ``finished_at < finished_before``.
        newest_first: Order by ``(created_at, id)`` descending (else ascending).
        after: Continue after this position (keyset pagination).
        limit: At most this many records.
    """

    queues: tuple[str, ...] | None = None
    statuses: tuple[TaskStatus, ...] | None = None
    task_names: tuple[str, ...] | None = None
    key: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None
    newest_first: bool = True
    after: QueryPosition | None = None
    limit: int = 50

    def matches(self, record: TaskRecord) -> bool:
        """Whether ``record`` passes every filter (the position and limit aside)."""
        finished = record.finished_at
        return (
            (self.queues is None or record.queue in self.queues)
            and (self.statuses is None or record.status in self.statuses)
            and (self.task_names is None or record.task_name in self.task_names)
            and (self.key is None or record.key == self.key)
            and (self.created_after is None or record.created_at >= self.created_after)
            and (self.created_before is None or record.created_at < self.created_before)
            and (self.finished_after is None or (finished is not None and finished >= self.finished_after))
            and (self.finished_before is None or (finished is not None and finished < self.finished_before))
        )

    def beyond(self, record: TaskRecord) -> bool:
        """Whether ``record`` lies after :attr:`after` in this query's order."""
        if self.after is None:
            return True
        place = (record.created_at, record.id.bytes)
        mark = (self.after.created_at, self.after.id.bytes)
        return place < mark if self.newest_first else place > mark


class EnqueueResult(msgspec.Struct, frozen=True):
    """What :meth:`~litestar_queues.ports.QueueBackend.enqueue` returns for each record.

    Attributes:
        record: The stored record: the new one, or the active record already holding the key.
        created: ``False`` when an active record with the same dedup key was returned instead.
    """

    record: TaskRecord
    created: bool


class ScheduleState(msgspec.Struct, frozen=True, kw_only=True):
    """What the queue backend stores for one periodic schedule: when it fires next.

    The backend only stores it and changes it with an atomic compare-and-set
    (:meth:`~litestar_queues.ports.QueueBackend.advance_schedule`); when a schedule is due, what
    comes next and what to do after downtime are decided by the core's scheduler.

    Attributes:
        name: The schedule's unique name.
        next_fire: The due time at which the schedule fires next (aware UTC).
        paused: Whether the schedule is paused (the scheduler fires nothing while it is).
        last_fire: The due time of the last fire (``None``: it never fired).
        last_task_id: The id of the record the last fire enqueued (or that already held its
            dedup key).
        updated_at: When the state was last changed.
    """

    name: str
    next_fire: datetime
    paused: bool = False
    last_fire: datetime | None = None
    last_task_id: UUID | None = None
    updated_at: datetime


class WorkerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker tells the queue backend about itself: its presence, for operators.

    A worker records one at start, at every heartbeat and when it begins draining
    (:meth:`~litestar_queues.ports.QueueBackend.record_worker`), and forgets it on a clean stop.
    It is live while ``expires_at`` is in the future: a worker killed without a clean stop is
    listed until then, and never after.

    Attributes:
        worker_id: The worker's identity, as in the records it runs (``TaskRecord.worker_id``).
        hostname: The machine it runs on.
        pid: Its process id there.
        queues: The queues it serves (``None``: every queue).
        concurrency: Tasks it runs at once, at most.
        started_at: When it started serving.
        seen_at: When it recorded this (its latest heartbeat).
        expires_at: Until when it counts as live without another heartbeat.
        running: Tasks it ran when it recorded this.
        stopping: Whether it is draining: it claims nothing more and stops once its running
            tasks finish (or are released).
    """

    worker_id: str
    hostname: str
    pid: int
    queues: tuple[str, ...] | None
    concurrency: int
    started_at: datetime
    seen_at: datetime
    expires_at: datetime
    running: int
    stopping: bool = False
