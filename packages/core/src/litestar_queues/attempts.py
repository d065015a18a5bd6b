"""The attempt driver: the one place where a task is claimed, run, judged and reported.

Every way a task runs goes through :class:`AttemptDriver`:

* the :class:`~litestar_queues.Worker` claims batches (:meth:`AttemptDriver.claim`), runs each
  record (:meth:`AttemptDriver.run`), keeps leases alive (:meth:`AttemptDriver.extend_leases`)
  and reports outcomes in batches (:meth:`AttemptDriver.report`);
* the ``immediate`` execution backend claims the record it just stored
  (:meth:`AttemptDriver.claim_task`) and drives it to its outcome inline
  (:meth:`AttemptDriver.drive`);
* ``litestar-queues run-task`` claims or adopts a record (:meth:`AttemptDriver.adopt`) and
  drives it the same way in another process or container.

The rules (task lookup, context and injection, timeout, retry or failure with backoff, lifecycle
events, lease keeping) therefore live once, and metrics, tracing and history hook in here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from litestar_queues.events.context import TaskExecutionContext, reset_task_context, set_task_context
from litestar_queues.exceptions import (
    EventPublishError,
    NonRetryableError,
    QueueError,
    SerializationError,
    UnknownTaskError,
)
from litestar_queues.execution.local import LocalExecutionBackend
from litestar_queues.execution.protocol import ExitCode
from litestar_queues.models import (
    HISTORY_LIMIT,
    TRACEBACK_LIMIT,
    AttemptRecord,
    AttemptVerdict,
    Outcome,
    OutcomeKind,
)
from litestar_queues.observability._fanout import fanout, lag_of
from litestar_queues.serialization import to_json_value

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from uuid import UUID

    from litestar_queues.config import QueueConfig
    from litestar_queues.events.publisher import QueueEventPublisher
    from litestar_queues.models import TaskRecord
    from litestar_queues.observability._fanout import ObserverFanout
    from litestar_queues.ports import ExecutionBackend, QueueBackend
    from litestar_queues.task import Task

__all__ = ("AttemptDriver", "DrivenAttempt", "describe_error")

logger = logging.getLogger("litestar_queues.worker")

_HERE = LocalExecutionBackend()
"""The placement of ``run-task``: it *is* the process the record asked for."""


def describe_error(exc: BaseException) -> str:
    """Render an exception as the error text stored on a record."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_own_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is this run being cancelled (lease lost, timeout, shutdown).

    Anything else a task raises is the task's own failure, ``BaseException`` included: a
    ``CancelledError`` it raised itself (say it awaited a future another task cancelled), a
    ``SystemExit`` or a ``KeyboardInterrupt``. On asyncio a real cancellation is a pending
    cancel request on the current task (``Task.cancelling()``); a ``CancelledError`` without one
    came from the task's code.
    """
    if not isinstance(exc, anyio.get_cancelled_exc_class()):
        return False
    if not isinstance(exc, asyncio.CancelledError):
        return True  # another event loop (trio): its cancellation cannot be raised by user code
    current = asyncio.current_task()
    return current is None or current.cancelling() > 0


def _log_base_exception(record: TaskRecord, exc: BaseException) -> None:
    logger.warning(
        "task %s (%s) attempt %s raised %s: counted as the task's failure, the worker keeps serving",
        record.id,
        record.task_name,
        record.attempts,
        type(exc).__name__,
    )


_OUTCOME_WORDS = {"complete": "completed", "fail": "failed", "retry": "retrying", "release": "released"}


def _log_outcome(outcome: Outcome, record: TaskRecord, now: datetime) -> None:
    """The one INFO line per applied outcome: task name, id, queue, attempt, duration, outcome."""
    started = record.started_at
    duration = (now - started).total_seconds() if started is not None else 0.0
    word = _OUTCOME_WORDS[outcome.kind]
    if outcome.kind == "retry" and outcome.run_at is not None:
        word = f"retrying at {_rfc3339(outcome.run_at)}"
    logger.info(
        "task %s id=%s queue=%s attempt=%d duration=%.3fs outcome=%s",
        record.task_name,
        record.id,
        record.queue,
        _attempt_of(outcome, record),
        duration,
        word,
    )


def _attempt_of(outcome: Outcome, record: TaskRecord) -> int:
    """The attempt number an applied outcome was for (a released attempt is given back, uncounted)."""
    return record.attempts + 1 if outcome.kind == "release" else record.attempts


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class DrivenAttempt:
    """How one attempt driven by :meth:`AttemptDriver.drive` ended.

    Attributes:
        outcome: The outcome decided here (``None``: the lease was lost first, or an execution
            backend that writes outcomes reported it elsewhere).
        applied: The record after the outcome was applied (``None``: not applied).
        lease_lost: The lease was lost (task cancelled or reclaimed) before an outcome was applied.
    """

    outcome: Outcome | None
    applied: TaskRecord | None
    lease_lost: bool


class AttemptDriver:
    """Claims or adopts records under leases, runs attempts with the core's rules, reports outcomes.

    Built by :class:`~litestar_queues.QueueService` (``service.attempts``); callers never talk to
    the queue backend about a running attempt except through it.

    Args:
        config: The service configuration (clock, registry, lease length, default placement).
        backend: The queue backend.
        execution_backends: Execution backends by name.
        publisher: Lifecycle event publisher (``None``: events disabled).
        sync_threads: Threads that run sync task functions at once.
    """

    __slots__ = ("_backend", "_config", "_execution_backends", "_limiter", "observers", "publisher")

    def __init__(
        self,
        config: QueueConfig,
        backend: QueueBackend,
        execution_backends: Mapping[str, ExecutionBackend],
        publisher: QueueEventPublisher | None,
        *,
        sync_threads: int,
    ) -> None:
        self._config = config
        self._backend = backend
        self._execution_backends = execution_backends
        self.publisher = publisher
        self._limiter = anyio.CapacityLimiter(sync_threads)
        self.observers: ObserverFanout | None = fanout(config.observers)
        """The configured observers (``None``: none, and nothing is called)."""

    # -- leases ---------------------------------------------------------------------------------

    def _lease(self, lease_seconds: float | None = None) -> tuple[datetime, datetime]:
        now = self._config.clock.now()
        seconds = self._config.worker.lease_seconds if lease_seconds is None else lease_seconds
        return now, now + timedelta(seconds=seconds)

    async def claim(
        self, *, queues: Sequence[str] | None, worker_id: str, limit: int, lease_seconds: float
    ) -> Sequence[TaskRecord]:
        """Claim up to ``limit`` due records under fresh leases of ``lease_seconds``."""
        now, until = self._lease(lease_seconds)
        return await self._backend.claim(
            queues=queues, worker_id=worker_id, limit=limit, now=now, lease_until=until
        )

    async def claim_task(self, task_id: UUID, *, worker_id: str) -> TaskRecord | None:
        """Claim one pending or scheduled record by id, due or not (``None``: not claimable)."""
        now, until = self._lease()
        return await self._backend.claim_task(task_id, worker_id=worker_id, now=now, lease_until=until)

    async def adopt(self, task_id: UUID, *, lease_id: str | None, worker_id: str) -> TaskRecord | ExitCode:
        """Take the record ``task_id`` for a run in this process.

        With ``lease_id`` the record must be running under that lease (a dispatcher claimed it
        and keeps it alive); it is extended once here to prove the lease is still held. Without
        it the record is claimed by id.

        Returns:
            The record under its lease, or why it could not be taken: ``ExitCode.NOT_CLAIMABLE``
            (no such record, or not pending/scheduled when claiming) or ``ExitCode.LEASE_LOST``.
        """
        if lease_id is None:
            claimed = await self.claim_task(task_id, worker_id=worker_id)
            return ExitCode.NOT_CLAIMABLE if claimed is None else claimed
        record = await self._backend.get(task_id)
        if record is None:
            return ExitCode.NOT_CLAIMABLE
        if record.status != "running" or record.lease_id != lease_id:
            return ExitCode.LEASE_LOST
        if await self.extend_leases([(task_id, lease_id)]):
            return ExitCode.LEASE_LOST
        return record

    async def extend_leases(
        self, leases: Sequence[tuple[UUID, str]], *, lease_seconds: float | None = None
    ) -> set[UUID]:
        """Extend ``(task_id, lease_id)`` leases by one lease length; return the ids no longer held."""
        _, until = self._lease(lease_seconds)
        return await self._backend.extend_leases(leases, until=until)

    async def report(self, outcomes: Sequence[Outcome]) -> Sequence[TaskRecord | None]:
        """Apply outcomes under their leases; a rejected one (lease lost) is logged and ``None``.

        Each applied outcome is logged at INFO on ``litestar_queues.worker``: task name, id, queue,
        attempt, duration since the attempt started, and the outcome.
        """
        now = self._config.clock.now()
        applied = await self._backend.finish(outcomes, now=now)
        # one level check per batch: the per-task line costs nothing when INFO is off
        log_each = logger.isEnabledFor(logging.INFO)
        for outcome, record in zip(outcomes, applied, strict=True):
            if record is None:
                logger.warning(
                    "outcome %s of task %s rejected: its lease was lost", outcome.kind, outcome.task_id
                )
            elif log_each:
                _log_outcome(outcome, record, now)
        return applied

    async def reclaim_expired(self) -> Sequence[TaskRecord]:
        """Return records whose lease expired to the queue (or fail them), logging each."""
        reclaimed = await self._backend.reclaim_expired(now=self._config.clock.now())
        for record in reclaimed:
            logger.warning(
                "task %s (%s) %s after its lease expired",
                record.id,
                record.task_name,
                "failed" if record.status == "failed" else "returned to the queue",
            )
            if self.observers is not None:
                self.observers.reclaimed(record)
        return reclaimed

    # -- placement --------------------------------------------------------------------------------

    def placement(self, record: TaskRecord) -> ExecutionBackend | None:
        """The execution backend ``record`` asks for (``None``: no backend has that name)."""
        return self._execution_backends.get(record.execution_backend or self._config.execution_backend)

    def writes_outcomes(self, record: TaskRecord) -> bool:
        """Whether the outcome of ``record`` is written by the place that runs it (``run-task``)."""
        backend = self.placement(record)
        return backend is not None and backend.writes_outcomes

    # -- events -----------------------------------------------------------------------------------

    def context_for(
        self, record: TaskRecord, worker_id: str | None, *, run_number: int | None = None
    ) -> TaskExecutionContext:
        """Build the execution context of one run of ``record``.

        Args:
            record: The record.
            worker_id: The worker running it (``None`` for runs without a worker).
            run_number: The run the events belong to (default: ``record.runs``, the latest claim);
                it keeps event sequence numbers increasing across runs.
        """
        return TaskExecutionContext(
            task_id=record.id,
            task_name=record.task_name,
            queue=record.queue,
            attempt=record.attempts,
            run_number=record.runs if run_number is None else run_number,
            worker_id=worker_id,
            execution_backend=record.execution_backend or self._config.execution_backend,
            execution_profile=record.execution_profile,
            metadata=record.metadata,
            publisher=self.publisher,
            clock=self._config.clock,
        )

    async def emit(self, context: TaskExecutionContext, event_type: str, **fields: Any) -> None:
        """Publish a lifecycle event of the run (no-op with events disabled)."""
        if self.publisher is not None:
            await self.publisher.publish(context.build_event(event_type, **fields))

    async def emit_quietly(self, context: TaskExecutionContext, event_type: str, **fields: Any) -> None:
        """Publish a lifecycle event, logging instead of raising (after the outcome is decided)."""
        try:
            await self.emit(context, event_type, **fields)
        except EventPublishError as exc:
            logger.warning("%s", exc)

    async def announce_lost(self, context: TaskExecutionContext) -> None:
        """Publish ``task.cancelled`` for a run stopped because its lease was lost or it was cancelled."""
        with anyio.CancelScope(shield=True):
            await self.emit_quietly(context, "task.cancelled", message="lease lost or task cancelled")

    async def announce_cancelled(self, record: TaskRecord) -> None:
        """Publish ``task.cancelled`` for a record cancelled while it waited (not running).

        Its events continue after those of its last run, so ``sequence`` keeps increasing.
        """
        context = self.context_for(record, None, run_number=record.runs + 1)
        await self.emit_quietly(context, "task.cancelled", message="cancelled before it ran")

    # -- one attempt ------------------------------------------------------------------------------

    async def run(
        self,
        record: TaskRecord,
        worker_id: str | None,
        *,
        here: bool = False,
        context: TaskExecutionContext | None = None,
    ) -> Outcome | None:
        """Run ``record`` once and decide its outcome (nothing is reported yet).

        Cancellation (lease lost, shutdown) propagates to the caller, which decides what to do.

        Args:
            record: The claimed record.
            worker_id: Identity of the worker holding the lease.
            here: Run the task in this process whatever its execution backend (what the
                ``run-task`` command does: it *is* the placement the record asked for).
            context: The run's context when the caller needs it afterwards (so that every event
                of the run, ``task.cancelled`` included, continues one sequence); built otherwise.

        Returns:
            The outcome to report, or ``None`` when an execution backend that writes outcomes
            itself (``writes_outcomes``) already reported it elsewhere.
        """
        try:
            task = self._config.registry.get(record.task_name)
        except UnknownTaskError as exc:
            logger.error("failing task %s: %s", record.id, exc)
            failed = self._outcome(record, "fail", error=f"{exc}; the worker does not run it")
            return self._observe_decided(record, worker_id, failed, exc, 0.0)
        if context is None:
            context = self.context_for(record, worker_id)
        backend = _HERE if here else self.placement(record)
        if backend is None:
            name = record.execution_backend or self._config.execution_backend
            failed = self._outcome(record, "fail", error=f"unknown execution backend {name!r}")
            return self._observe_decided(record, worker_id, failed, None, 0.0)
        run_here = functools.partial(self._call, task, record, context)
        if backend.writes_outcomes:
            return await self._run_remote(record, task, context, backend, run_here)
        if self.observers is None:
            outcome, _ = await self._attempt(record, task, context, backend, run_here)
            return outcome
        attempt = functools.partial(self._attempt, record, task, context, backend, run_here)
        return await self._observed(self.observers, record, worker_id, attempt)

    async def _attempt(
        self,
        record: TaskRecord,
        task: Task[..., Any],
        context: TaskExecutionContext,
        backend: ExecutionBackend,
        run_here: Callable[[], Awaitable[Any]],
    ) -> tuple[Outcome, BaseException | None]:
        """Run one attempt here: the outcome, and the error it judged (``None``: completed)."""
        timed_out = False
        try:
            await self.emit(context, "task.started")
            if record.timeout is None:
                value = await backend.execute(record, run_here)
            else:
                with anyio.move_on_after(record.timeout) as scope:
                    value = await backend.execute(record, run_here)
                if scope.cancelled_caught:
                    timed_out = True
                    raise TimeoutError(f"task timed out after {record.timeout} s")
            # None (the common result) needs no JSON round trip
            result = None
            if value is not None:
                result = to_json_value(value, what=f"result of task {record.task_name!r}")
        except BaseException as exc:
            return await self._judge(record, task, context, exc, log=not timed_out), exc
        await self.emit_quietly(context, "task.completed")
        return self._outcome(record, "complete", result=result), None

    async def _observed(
        self,
        observers: ObserverFanout,
        record: TaskRecord,
        worker_id: str | None,
        attempt: Callable[[], Awaitable[tuple[Outcome, BaseException | None]]],
    ) -> Outcome:
        """Run ``attempt`` between the observers' ``started`` and ``finished`` (always called)."""
        observers.started(record, worker_id=worker_id, lag=lag_of(record))
        began = time.perf_counter()
        outcome: Outcome | None = None
        error: BaseException | None = None
        try:
            outcome, error = await attempt()
        finally:
            observers.finished(record, outcome=outcome, error=error, duration=time.perf_counter() - began)
        return outcome

    def _observe_decided(
        self,
        record: TaskRecord,
        worker_id: str | None,
        outcome: Outcome,
        error: BaseException | None,
        duration: float,
    ) -> Outcome:
        """Tell the observers of an attempt decided here without running here (no task, remote)."""
        if self.observers is not None:
            self.observers.started(record, worker_id=worker_id, lag=lag_of(record))
            self.observers.finished(record, outcome=outcome, error=error, duration=duration)
        return outcome

    async def drive(self, record: TaskRecord, worker_id: str | None, *, here: bool = False) -> DrivenAttempt:
        """Run one attempt of a claimed record to its reported outcome, keeping its lease alive.

        For callers that run one record at a time (``immediate``, ``run-task``); the worker runs
        many and batches the same steps itself. The task is cancelled when its lease is lost.

        Args:
            record: The record, running under its lease.
            worker_id: Identity in the events (``None``: no worker).
            here: Run it in this process whatever its execution backend.
        """
        if record.lease_id is None:
            raise QueueError(f"task {record.id} is not held under a lease")
        context = self.context_for(record, worker_id)
        scope = anyio.CancelScope()
        outcome: Outcome | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep_lease, record.id, record.lease_id, scope)
            with scope:
                outcome = await self.run(record, worker_id, here=here, context=context)
            tg.cancel_scope.cancel()
        if scope.cancelled_caught:
            await self.announce_lost(context)
            return DrivenAttempt(outcome=None, applied=None, lease_lost=True)
        if outcome is None:
            return DrivenAttempt(outcome=None, applied=None, lease_lost=False)
        (applied,) = await self.report([outcome])
        return DrivenAttempt(outcome=outcome, applied=applied, lease_lost=applied is None)

    async def _keep_lease(self, task_id: UUID, lease_id: str, scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(self._config.worker.effective_heartbeat_interval)
            try:
                lost = await self.extend_leases([(task_id, lease_id)])
            except Exception as exc:
                logger.warning("could not extend the lease of task %s: %r", task_id, exc)
                continue
            if lost:
                logger.warning("task %s lost its lease (cancelled or reclaimed): cancelling it", task_id)
                scope.cancel()
                return

    async def _run_remote(
        self,
        record: TaskRecord,
        task: Task[..., Any],
        context: TaskExecutionContext,
        backend: ExecutionBackend,
        run_here: Callable[[], Awaitable[Any]],
    ) -> Outcome | None:
        # The remote side runs the ``run-task`` protocol: it applies the timeout, publishes the
        # lifecycle events and writes the outcome under this lease. ``execute`` returns once it
        # did (or had nothing to write); it raises when the run ended without an outcome (the
        # process was killed, the container failed), and then this side decides as for a local
        # failure.
        began = time.perf_counter()
        try:
            await backend.execute(record, run_here)
        except BaseException as exc:
            outcome = await self._judge(record, task, context, exc, log=True)
            # the run ended without writing its outcome: observed here, where it is decided
            return self._observe_decided(record, context.worker_id, outcome, exc, time.perf_counter() - began)
        return None

    async def _call(self, task: Task[..., Any], record: TaskRecord, context: TaskExecutionContext) -> Any:
        kwargs = dict(record.kwargs)
        if task.wants_job_id:
            kwargs["_job_id"] = record.id
        if task.wants_context:
            kwargs["_task_context"] = context
        token = set_task_context(context)
        try:
            if task.is_async:
                return await task.fn(*record.args, **kwargs)
            call = functools.partial(task.fn, *record.args, **kwargs)
            return await anyio.to_thread.run_sync(call, limiter=self._limiter, abandon_on_cancel=True)
        finally:
            reset_task_context(token)

    async def _judge(
        self,
        record: TaskRecord,
        task: Task[..., Any],
        context: TaskExecutionContext,
        exc: BaseException,
        *,
        log: bool,
    ) -> Outcome:
        """Decide the outcome of an attempt that raised ``exc``; the run's own cancellation propagates."""
        if isinstance(exc, NonRetryableError | SerializationError):
            return await self._failed(record, context, exc)
        if not isinstance(exc, Exception):
            if _is_own_cancellation(exc):
                raise exc
            _log_base_exception(record, exc)
        elif log and record.attempts <= record.max_retries:  # a final failure is logged by _failed
            logger.info(
                "task %s (%s) attempt %s failed: %r", record.id, record.task_name, record.attempts, exc
            )
            logger.debug("traceback of task %s attempt %s", record.id, record.attempts, exc_info=exc)
        return await self._retry_or_fail(record, task, context, exc)

    async def _failed(self, record: TaskRecord, context: TaskExecutionContext, exc: BaseException) -> Outcome:
        error = describe_error(exc)
        logger.warning(
            "task %s (%s) attempt %s failed for good: %s",
            record.id,
            record.task_name,
            record.attempts,
            error,
        )
        logger.debug("traceback of task %s attempt %s", record.id, record.attempts, exc_info=exc)
        await self.emit_quietly(context, "task.failed", message=error, level="error")
        return self._outcome(record, "fail", error=error, failure=exc)

    async def _retry_or_fail(
        self, record: TaskRecord, task: Task[..., Any], context: TaskExecutionContext, exc: BaseException
    ) -> Outcome:
        if record.attempts > record.max_retries:
            return await self._failed(record, context, exc)
        error = describe_error(exc)
        delay = task.backoff.delay(record.attempts)
        run_at = self._config.clock.now() + timedelta(seconds=delay)
        await self.emit_quietly(
            context,
            "task.retrying",
            message=error,
            level="warning",
            payload={"retryAt": _rfc3339(run_at), "delaySeconds": delay},
        )
        return self._outcome(record, "retry", error=error, run_at=run_at, failure=exc)

    def _outcome(
        self,
        record: TaskRecord,
        kind: OutcomeKind,
        *,
        error: str | None = None,
        failure: BaseException | None = None,
        **fields: Any,
    ) -> Outcome:
        if record.lease_id is None:
            raise QueueError(f"task {record.id} is not held under a lease")
        if kind == "complete" and record.runs == 1 and not record.history:
            # the common case keeps no history: the record's own worker_id, started_at and
            # finished_at describe its one run (and nothing is encoded, sent and stored per task)
            return Outcome(task_id=record.id, lease_id=record.lease_id, kind=kind, error=error, **fields)
        attempt = AttemptRecord(
            run=record.runs,
            worker_id=record.worker_id,
            started_at=record.started_at,
            finished_at=self._config.clock.now(),
            verdict=_VERDICTS[kind],
            error=error,
            traceback=_traceback_of(failure),
        )
        return Outcome(
            task_id=record.id,
            lease_id=record.lease_id,
            kind=kind,
            error=error,
            history=_history_with(record, attempt),
            **fields,
        )

    def released(self, record: TaskRecord) -> Outcome:
        """The outcome that gives a record back to the queue uncounted (shutdown after the grace)."""
        return self._outcome(record, "release")


_VERDICTS: dict[str, AttemptVerdict] = {
    "complete": "completed",
    "fail": "failed",
    "retry": "retried",
    "release": "released",
}


def _traceback_of(failure: BaseException | None) -> str | None:
    if failure is None:
        return None
    text = "".join(traceback.format_exception(failure))
    return text if len(text) <= TRACEBACK_LIMIT else "..." + text[-(TRACEBACK_LIMIT - 3) :]


def _history_with(record: TaskRecord, attempt: AttemptRecord) -> list[AttemptRecord]:
    """The record's history with ``attempt`` added, runs lost to expired leases filled in, bounded."""
    history = list(record.history)
    last_run = history[-1].run if history else 0
    lost_error = record.error if record.reclaims and record.error else None
    history.extend(
        AttemptRecord(run=run, verdict="lease_expired", error=lost_error)
        for run in range(max(last_run + 1, record.runs - HISTORY_LIMIT), record.runs)
    )
    history.append(attempt)
    return history[-HISTORY_LIMIT:]
