"""Running one claimed record: context, injection, timeout, retry decision and lifecycle events."""

from __future__ import annotations

import functools
import logging
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
from litestar_queues.models import Outcome
from litestar_queues.serialization import to_json_value

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from litestar_queues.config import QueueConfig
    from litestar_queues.events.publisher import QueueEventPublisher
    from litestar_queues.models import TaskRecord
    from litestar_queues.ports import ExecutionBackend
    from litestar_queues.task import Task

logger = logging.getLogger("litestar_queues.worker")


class _Here:
    """Runs the task in this process (the ``run-task`` command's placement)."""

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def execute(self, record: TaskRecord, run_here: Callable[[], Awaitable[Any]]) -> Any:
        return await run_here()


_HERE = _Here()


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def describe_error(exc: BaseException) -> str:
    """Render an exception as the error text stored on a record."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TaskRunner:
    """Runs claimed records with the core's rules; shared by workers and immediate execution."""

    __slots__ = ("_config", "_execution_backends", "_limiter", "publisher")

    def __init__(
        self,
        config: QueueConfig,
        execution_backends: Mapping[str, ExecutionBackend],
        publisher: QueueEventPublisher | None,
        *,
        sync_threads: int,
    ) -> None:
        self._config = config
        self._execution_backends = execution_backends
        self.publisher = publisher
        self._limiter = anyio.CapacityLimiter(sync_threads)

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

    async def announce_cancelled(self, record: TaskRecord) -> None:
        """Publish ``task.cancelled`` for a record cancelled while it waited (not running).

        Its events continue after those of its last run, so ``sequence`` keeps increasing.
        """
        context = self.context_for(record, None, run_number=record.runs + 1)
        await self.emit_quietly(context, "task.cancelled", message="cancelled before it ran")

    async def emit_quietly(self, context: TaskExecutionContext, event_type: str, **fields: Any) -> None:
        """Publish a lifecycle event, logging instead of raising (after the outcome is decided)."""
        try:
            await self.emit(context, event_type, **fields)
        except EventPublishError as exc:
            logger.warning("%s", exc)

    async def run(
        self,
        record: TaskRecord,
        worker_id: str | None,
        *,
        here: bool = False,
        context: TaskExecutionContext | None = None,
    ) -> Outcome | None:
        """Run ``record`` once and decide its outcome.

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
            return self._outcome(record, "fail", error=f"{exc}; the worker does not run it")
        if context is None:
            context = self.context_for(record, worker_id)
        backend_name = record.execution_backend or self._config.execution_backend
        backend: ExecutionBackend | None = _HERE if here else self._execution_backends.get(backend_name)
        if backend is None:
            return self._outcome(record, "fail", error=f"unknown execution backend {backend_name!r}")
        run_here = functools.partial(self._call, task, record, context)
        if getattr(backend, "writes_outcomes", False):
            return await self._run_remote(record, task, context, backend, run_here)
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
        except (NonRetryableError, SerializationError) as exc:
            return await self._failed(record, context, describe_error(exc))
        except Exception as exc:
            if not timed_out:
                logger.info(
                    "task %s (%s) attempt %s failed: %r", record.id, record.task_name, record.attempts, exc
                )
            return await self._retry_or_fail(record, task, context, describe_error(exc))
        await self.emit_quietly(context, "task.completed")
        return self._outcome(record, "complete", result=result)

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
        try:
            await backend.execute(record, run_here)
        except NonRetryableError as exc:
            return await self._failed(record, context, describe_error(exc))
        except Exception as exc:
            logger.info(
                "task %s (%s) attempt %s failed: %s", record.id, record.task_name, record.attempts, exc
            )
            return await self._retry_or_fail(record, task, context, describe_error(exc))
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

    async def _failed(self, record: TaskRecord, context: TaskExecutionContext, error: str) -> Outcome:
        await self.emit_quietly(context, "task.failed", message=error, level="error")
        return self._outcome(record, "fail", error=error)

    async def _retry_or_fail(
        self, record: TaskRecord, task: Task[..., Any], context: TaskExecutionContext, error: str
    ) -> Outcome:
        if record.attempts > record.max_retries:
            return await self._failed(record, context, error)
        delay = task.backoff.delay(record.attempts)
        run_at = self._config.clock.now() + timedelta(seconds=delay)
        await self.emit_quietly(
            context,
            "task.retrying",
            message=error,
            level="warning",
            payload={"retryAt": _rfc3339(run_at), "delaySeconds": delay},
        )
        return self._outcome(record, "retry", error=error, run_at=run_at)

    @staticmethod
    def _outcome(record: TaskRecord, kind: Any, **fields: Any) -> Outcome:
        if record.lease_id is None:
            raise QueueError(f"task {record.id} is not held under a lease")
        return Outcome(task_id=record.id, lease_id=record.lease_id, kind=kind, **fields)
