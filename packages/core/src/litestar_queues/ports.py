"""The ports of the hexagon: what the core needs from the outside world.

* :class:`QueueBackend` stores task records and schedule states, and changes them atomically.
* :class:`ExecutionBackend` decides where a claimed task runs.
* :class:`EventSink` delivers queue events to application-owned infrastructure.
* :class:`Clock` tells the time, so the core and its tests never depend on sleeping.

Each port is a small :class:`typing.Protocol`. Conformance of a queue backend is decided by the
contract kit in :mod:`litestar_queues.testing`, not by inheritance.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from uuid import UUID

    from litestar_queues.config import QueueConfig
    from litestar_queues.events.envelope import QueueEvent
    from litestar_queues.limits import QueueLimit
    from litestar_queues.models import (
        EnqueueResult,
        Outcome,
        RecordQuery,
        ScheduleState,
        TaskRecord,
        WorkerInfo,
    )

__all__ = (
    "BackendReach",
    "Clock",
    "EventSink",
    "ExecutionBackend",
    "QueueBackend",
    "SystemClock",
)


class BackendReach(enum.Enum):
    """Which processes see the records of a queue backend: its one sharing capability.

    Every caller that must know whether another process can reach the queue (the ``process``
    execution backend, the Litestar plugin's worker placement, the CLIs' warnings) reads
    :attr:`QueueBackend.reach`; nothing guesses from a class or a URL scheme.
    """

    PROCESS = "process"
    """Only this process (the memory backend, an in-memory SQLite database)."""
    HOST = "host"
    """Processes on this machine (a SQLite file)."""
    NETWORK = "network"
    """Processes on any machine that reaches the server (Redis, PostgreSQL)."""

    @property
    def shared_across_processes(self) -> bool:
        """Whether a worker or task in another process sees the same records."""
        return self is not BackendReach.PROCESS


@runtime_checkable
class QueueBackend(Protocol):
    """Stores task records and schedule states, and changes them atomically.

    All policy (retries, backoff, timeouts, events) lives in the core; a backend only stores and
    applies the state changes below, each atomically. Times are passed in by the caller, so a
    backend never reads a clock of its own.

    Rules every backend follows (checked by :class:`litestar_queues.testing.QueueBackendContract`):

    * **enqueue**: a record with a ``key`` that an active (pending, scheduled, running) record
      already holds is not stored; the active record is returned with ``created=False``.
    * **claim**: hands out due records (pending, or scheduled with ``run_at <= now``) from the
      given queues that are not paused (see :meth:`set_paused`), highest ``priority`` first,
      then in enqueue order; each becomes ``running``
      with a fresh ``lease_id``, ``lease_expires_at=lease_until``, ``worker_id``,
      ``started_at=now``, ``attempts + 1`` and ``runs + 1``. A record is never handed to two
      claimers while its lease is live.
    * **limits** (see :meth:`set_limit`): ``claim`` and ``claim_task`` hold back a record of a
      queue with a :class:`~litestar_queues.QueueLimit` when starting it would make the queue's
      running records more than ``concurrency``, those with its ``limit_key`` more than
      ``key_concurrency``, or when the queue's token bucket holds less than one token at ``now``
      (the records started earlier in the same call counted). A held-back record stays where
      it is (due, in its priority and enqueue order place); the claim goes on with the next
      one. Each record started from a rate-limited queue takes a token; the bucket (tokens, and
      the time they were counted) is stored in the same atomic step, as
      :meth:`QueueLimit.tokens <litestar_queues.QueueLimit.tokens>` counts it.
    * **extend_leases**: moves ``lease_expires_at`` of held records to ``until``; returns the ids
      whose lease is no longer held (expired and reclaimed, cancelled, or finished).
    * **finish**: applies :class:`~litestar_queues.models.Outcome` values, each only when the
      record is running under the same ``lease_id``; otherwise that outcome is rejected (``None``
      in the returned list) and nothing changes.
    * **reclaim_expired**: every running record whose lease expired before ``now`` goes back to
      ``pending`` (``attempts - 1``, ``reclaims + 1``, ``error`` explains), or to ``failed`` once
      ``reclaims`` exceeds ``max_reclaims``.
    * **cancel**: a pending, scheduled or running record becomes ``cancelled`` (a running one
      loses its lease); a terminal record is returned unchanged.
    * **requeue**: a failed or cancelled record becomes ``pending`` again; nothing else does.
    * **query**: filters, ``(created_at, id)`` order and keyset pages (see :meth:`query`).
    * **delete**: removes what ``query`` would list, never a running record; a deleted active
      record frees its dedup key.
    * **set_paused** / **paused_queues**: a paused queue keeps its records and takes enqueues,
      but ``claim`` hands out none of them until it is resumed.
    * **set_limit** / **limits**: a queue's limit is stored, replaced or removed, and applies
      to every claim that starts after the call returned.
    * **take_turn**: at most one holder holds a duty at a time, until its turn ends.
    * **record_worker** / **live_workers** / **forget_worker**: the latest
      :class:`~litestar_queues.models.WorkerInfo` per ``worker_id``, listed while its
      ``expires_at`` is after ``now``; expired entries do not pile up.
    * **finished_counts**: how many records finished (completed, failed, cancelled) at or after
      a time, per queue and status (stored ones: a requeued or deleted record is not counted).
    * **advance_schedule**: a compare-and-set of a schedule's ``next_fire`` that enqueues the
      fire's record in the same atomic step: of any number of callers passing the same
      ``expected``, exactly one gets the new state and at most one record is stored; a refused
      call changes nothing and stores nothing. ``paused`` is kept as stored.
    * **set_schedule_paused** / **delete_schedule** / **schedule_states**: schedule states live
      in the store; deleting one leaves the records its fires enqueued.
    * A terminal record never changes again, but through ``requeue`` and ``delete``.

    A backend also declares :attr:`reach`: which processes see its records.
    """

    reach: BackendReach
    """Which processes see this backend's records (see :class:`BackendReach`)."""

    async def open(self) -> None:
        """Connect and prepare storage. Called once before any other method."""
        ...

    async def close(self) -> None:
        """Release connections. Called once; no other method is called afterwards."""
        ...

    async def enqueue(self, records: Sequence[TaskRecord]) -> Sequence[EnqueueResult]:
        """Store new records (in order), honouring dedup keys.

        Args:
            records: Records built by the core, status ``pending`` or ``scheduled``.

        Returns:
            One result per record, in the same order.
        """
        ...

    async def claim(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
    ) -> Sequence[TaskRecord]:
        """Claim up to ``limit`` due records from ``queues`` (``None``: every queue).

        Records the queues' limits hold back are passed over and keep their place (see
        :meth:`set_limit`).

        Returns:
            The claimed records, already ``running``, in claim order.
        """
        ...

    async def claim_task(
        self, task_id: UUID, *, worker_id: str, now: datetime, lease_until: datetime
    ) -> TaskRecord | None:
        """Claim one pending or scheduled record by id, whether or not it is due or its queue paused.

        Its queue's limit applies as in :meth:`claim`: a record the limit holds back is not
        claimed (and stays where it is).

        Returns:
            The claimed record, or ``None`` when it does not exist, is not pending/scheduled, or
            its queue's limit holds it back.
        """
        ...

    async def extend_leases(self, leases: Sequence[tuple[UUID, str]], *, until: datetime) -> set[UUID]:
        """Extend the leases ``(task_id, lease_id)`` to ``until``.

        Returns:
            The ids whose lease is no longer held by that lease id.
        """
        ...

    async def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> Sequence[TaskRecord | None]:
        """Apply outcomes reported by workers, each under its lease.

        Returns:
            Per outcome, the updated record, or ``None`` when it was rejected (lease lost).
        """
        ...

    async def reclaim_expired(self, *, now: datetime) -> Sequence[TaskRecord]:
        """Return running records whose lease expired before ``now`` to the queue (or fail them).

        Returns:
            The records changed.
        """
        ...

    async def cancel(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Cancel a record that is not terminal yet.

        Returns:
            The record after the call, or ``None`` when no record has that id.
        """
        ...

    async def requeue(self, task_id: UUID, *, now: datetime) -> TaskRecord | None:
        """Put a failed or cancelled record back in its queue: the one way a terminal record changes.

        The record becomes ``pending`` with ``run_at=now``, ``attempts=0``, ``reclaims=0``,
        ``finished_at``, ``result`` and the lease fields cleared; ``runs``, ``error`` and
        ``history`` are kept. Any other status is left unchanged (so a second call is a no-op),
        and so is a record whose dedup ``key`` another active record holds meanwhile.

        Returns:
            The record after the call, or ``None`` when no record has that id.
        """
        ...

    async def query(self, query: RecordQuery) -> Sequence[TaskRecord]:
        """List the records that match ``query``'s filters, in its order, from its position on.

        Records are ordered by ``(created_at, id)``, newest or oldest first; at most
        ``query.limit`` are returned, each strictly beyond ``query.after``. Paging with the
        position of each page's last record returns every record that matches throughout, once.

        Returns:
            The page of records.
        """
        ...

    async def delete(self, query: RecordQuery) -> Sequence[UUID]:
        """Delete the records that :meth:`query` would list for ``query``, except running ones.

        A running record is never deleted, whatever the filter says: it belongs to its worker
        until it finishes or its lease expires (the core never asks, but the check is the
        backend's, made atomically when the record is deleted). Everything stored for a
        deleted record goes with it (its result, history, listing and dedup key entries); a
        deleted pending or scheduled record is never handed out afterwards.

        Returns:
            The ids deleted, at most ``query.limit``, in the query's order.
        """
        ...

    async def set_paused(self, queue: str, *, paused: bool) -> None:
        """Pause a queue (``claim`` skips it from now on) or resume it (and wake its workers).

        The state is stored in the backend, so every worker and process sees it. Pausing a queue
        that has no records yet is allowed; pausing twice or resuming a running queue is a no-op.
        """
        ...

    async def paused_queues(self) -> set[str]:
        """The names of the queues paused now."""
        ...

    async def set_limit(self, queue: str, limit: QueueLimit | None) -> None:
        """Store ``limit`` as the limit of ``queue`` (replacing its limit), or remove it (``None``).

        Every claim that starts after this returns applies it. The queue's token bucket is kept
        while the queue keeps a rate (a full bucket when it had none: its tokens are capped at
        the new rate by the next claim), and forgotten when the limit or its rate is removed.
        The queue's waiting workers are woken (a raised or removed limit may let records
        start). Setting a queue's limit to the limit it has changes nothing else: workers write
        their configured limits each time they start.
        """
        ...

    async def limits(self) -> dict[str, QueueLimit]:
        """The stored limit of every queue that has one, by queue name."""
        ...

    async def take_turn(self, duty: str, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take the duty named ``duty`` until ``until``, when nobody else holds it.

        The turn is given when the duty was never held, its holder's turn has ended
        (``until <= now`` as stored), or ``holder`` already holds it (then it is moved to
        ``until``). Atomic: two holders asking at once never both get a live turn. Workers use it
        so that one of them at a time runs a maintenance sweep.

        Returns:
            Whether ``holder`` holds the duty until ``until`` now.
        """
        ...

    async def record_worker(self, info: WorkerInfo) -> None:
        """Store ``info`` as the presence of ``info.worker_id``, replacing what was stored for it.

        Workers call it when they start, at each heartbeat and when they begin draining. The
        backend may also drop the entries of other workers that expired at or before
        ``info.seen_at`` (``expires_at <= info.seen_at``) while at it: it must keep expired
        entries from piling up, here or in :meth:`live_workers`.
        """
        ...

    async def live_workers(self, *, now: datetime) -> Sequence[WorkerInfo]:
        """The stored presences with ``expires_at`` after ``now``, by ``(started_at, worker_id)``.

        Each is returned as recorded (equal to the :class:`~litestar_queues.models.WorkerInfo`
        given to :meth:`record_worker`, times to the microsecond).
        """
        ...

    async def forget_worker(self, worker_id: str) -> None:
        """Remove the presence of ``worker_id`` (a clean stop); an unknown id is a no-op."""
        ...

    async def finished_counts(self, *, since: datetime) -> dict[str, dict[str, int]]:
        """Count the records that finished at or after ``since``, per queue and finished status.

        A record counts when its status is ``completed``, ``failed`` or ``cancelled`` and its
        ``finished_at >= since``. Queues and statuses without such records are left out (no
        zeros). Operators' dashboards call it often: a backend meant for many records reads an
        index by finish time (an index range, a sorted set count), not every record (the memory
        backend, holding one process's records, scans them).

        Returns:
            ``{queue: {status: n}}``.
        """
        ...

    async def schedule_states(self) -> Sequence[ScheduleState]:
        """Every stored schedule state, sorted by name."""
        ...

    async def advance_schedule(
        self,
        name: str,
        *,
        expected: datetime | None,
        next_fire: datetime,
        record: TaskRecord | None,
        now: datetime,
    ) -> ScheduleState | None:
        """Move the schedule ``name`` on to ``next_fire`` if it still fires at ``expected``.

        An atomic compare-and-set. It applies only when the stored state's ``next_fire`` equals
        ``expected`` (the same instant, to the microsecond), or, with ``expected=None``, when no
        state is stored for ``name`` (the state is created, not paused). Then, in one atomic
        step:

        * ``next_fire`` and ``updated_at=now`` are stored; ``paused`` is kept as stored;
        * with a ``record`` (a fire), the record is enqueued by the rules of :meth:`enqueue`
          (when an active record holds its dedup ``key`` it is not stored, and the holder's id
          is used; workers are woken as by an enqueue), ``last_fire=expected``, and
          ``last_task_id`` is the id stored or held;
        * without one (the first state, or a skipped due time), ``last_fire`` and
          ``last_task_id`` are kept.

        Otherwise (another caller moved the state first, the state was deleted, or it exists
        while ``expected`` is ``None``) nothing changes and no record is stored. So of several
        schedulers racing on one due time, exactly one gets the state back, and one record is
        enqueued for it.

        Args:
            name: The schedule's name.
            expected: The due time the caller read as ``next_fire`` (``None``: the caller found
                no state).
            next_fire: The due time to store (aware UTC).
            record: The record a fire enqueues, due at ``expected`` (``None``: create or skip).
                The core passes one only with an ``expected`` due time.
            now: The time of the change (``updated_at``).

        Returns:
            The state after the change, or ``None`` when it was refused.
        """
        ...

    async def set_schedule_paused(self, name: str, *, paused: bool, now: datetime) -> ScheduleState | None:
        """Pause or resume the schedule ``name``: store ``paused`` and ``updated_at=now``.

        ``next_fire``, ``last_fire`` and ``last_task_id`` are kept: when a resumed schedule's due
        time passed meanwhile, what to do is the scheduler's decision (its misfire policy).

        Returns:
            The state after the change, or ``None`` when no state is stored for ``name`` (none
            is created).
        """
        ...

    async def delete_schedule(self, name: str) -> bool:
        """Delete the state of the schedule ``name`` (a schedule removed from code).

        The records its fires enqueued stay. A later ``advance_schedule(name, expected=None,
        ...)`` starts the schedule afresh.

        Returns:
            Whether a state was deleted.
        """
        ...

    async def get(self, task_id: UUID) -> TaskRecord | None:
        """Load one record, or ``None`` when no record has that id."""
        ...

    async def counts(self) -> dict[str, dict[str, int]]:
        """Count records per queue and status: ``{queue: {status: n}}`` (zero counts may be left out)."""
        ...

    async def wait_for_work(self, queues: Sequence[str] | None, timeout: float) -> None:
        """Return when new work may be due in ``queues``, or after ``timeout`` seconds.

        A hint only: the caller claims afterwards and copes with finding nothing. A wake-up that
        arrives while nobody waits (during a claim) must not be lost: the next call returns at
        once. Backends without notifications return after a short poll interval.
        """
        ...

    async def wait_for_finish(self, task_id: UUID, timeout: float) -> TaskRecord | None:
        """Return when the record ``task_id`` may have become terminal, or after ``timeout``.

        Must not miss a change made after the call started: implementations subscribe first and
        then look at the stored record once, returning at once when it is already terminal (or
        gone).

        Returns:
            The terminal record, when the backend has it at hand: from its own look at the stored
            record, or carried by the finish notification. It must be the record ``task_id``, as
            stored (what ``get`` returns then), and terminal. Otherwise ``None``, which always
            means "it may have changed: read it": after the timeout, on a notification without the
            record, when no record has the id. A backend that never carries the record returns
            ``None`` every time and stays correct; the caller then reads the record with ``get``.
        """
        ...

    async def wait_for_cancel(self, worker_id: str, timeout: float) -> set[UUID]:
        """The ids of ``worker_id``'s running records cancelled since its last call, or ``set()``.

        Returns as soon as one is known, else after ``timeout`` seconds. A hint that lets a
        worker stop a cancelled task at once rather than at its next heartbeat (which finds the
        lease gone in any case, so a missed hint only costs time). Cancels made through this
        backend object must be reported, and must not be lost between two calls; cancels made
        by other processes are reported where the store can notify them (Redis, PostgreSQL).
        """
        ...


@runtime_checkable
class ExecutionBackend(Protocol):
    """Decides where a claimed task runs.

    The attempt driver holds the record's lease and applies retry and timeout policy; the
    execution backend only runs the task and reports its return value, or raises its failure.

    Besides :meth:`open`, :meth:`close` and :meth:`execute`, a backend declares its
    capabilities. Subclass this protocol to inherit the defaults below (an in-process backend
    then writes only the three methods); a class that implements the protocol without
    subclassing it declares every member itself. The service refuses a backend that lacks one.
    """

    writes_outcomes: ClassVar[bool] = False
    """``True``: the task runs elsewhere through ``litestar-queues run-task``, which applies the
    timeout, publishes the lifecycle events and writes the outcome under the worker's lease.
    ``execute`` then returns once that happened and raises only when the run ended without an
    outcome (a killed process, a failed container); the driver then decides retry or failure as
    for a local error. No timeout is applied around ``execute``: such a backend enforces its own
    hard limit. Default ``False``: ``execute`` returns the task's result here."""

    needs_shared_queue: ClassVar[bool] = False
    """``True``: the task runs in another process that must reach the same records, so an
    enqueue that places a task here on a queue backend whose :attr:`QueueBackend.reach` is
    :attr:`BackendReach.PROCESS` is refused. Default ``False``."""

    def configure(self, config: QueueConfig) -> None:
        """Read the service's configuration once, when the service is built.

        Decode this backend's execution profiles here; raise
        :class:`~litestar_queues.exceptions.QueueConfigurationError` on bad settings. The
        default reads nothing.
        """
        return None

    def check(self, profile: str | None) -> None:
        """Validate a placement at enqueue (``profile``: the chosen profile name, or ``None``).

        Raise :class:`~litestar_queues.exceptions.QueueConfigurationError` when this backend
        cannot run a task so placed; nothing is stored then. The default accepts every placement.
        """
        return None

    async def open(self) -> None:
        """Prepare resources (process pools, clients)."""
        ...

    async def close(self) -> None:
        """Release resources."""
        ...

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        """Run the task of ``record`` and return its JSON-serialisable result.

        Args:
            record: The claimed record (running, under the worker's lease).
            run_here: Runs the task in this process with the core's rules (context, events,
                sync functions in a thread). In-process backends just await it.

        Returns:
            The task's return value.
        """
        ...


@runtime_checkable
class EventSink(Protocol):
    """Delivers queue events to application-owned infrastructure (Channels, logs, tests).

    The core always calls ``await sink.publish(event, channels=[...])``: the event
    positionally, the channels **by keyword**. Either form of the method therefore works:
    ``async def publish(self, event, channels)`` or, as litestar-queues 0.1.0 users often wrote
    it, ``async def publish(self, event, *, channels)``. The parameter must be named
    ``channels``.
    """

    async def publish(self, event: QueueEvent, *, channels: Sequence[str]) -> None:
        """Publish ``event`` on each of ``channels``.

        Args:
            event: The event; encode it with :func:`~litestar_queues.events.encode_event` for
                its JSON wire form.
            channels: The resolved channel names, without duplicates (may be empty).
        """
        ...


@runtime_checkable
class Clock(Protocol):
    """Tells the time. The core reads time only through this port."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock: :func:`datetime.now` in UTC."""

    __slots__ = ()

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC)
