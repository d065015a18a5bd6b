"""The task execution context: how a running task publishes progress, logs and custom events.

Every publishing helper works from async and sync tasks alike. In async code it returns a
coroutine to ``await``. A sync task runs in a worker thread (``anyio.to_thread.run_sync`` in the
worker's event loop); called there, a helper detects that no event loop runs in its thread,
publishes at once through the worker's loop (``anyio.from_thread.run``), blocking the task's
thread until the sinks took the event, and returns an already finished awaitable
(:class:`PublishedEvent`) that the sync task may ignore.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread

from litestar_queues.events._progress import check_progress
from litestar_queues.events.envelope import QueueEvent
from litestar_queues.exceptions import EventPublishError, NoTaskContextError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
    from uuid import UUID

    from litestar_queues.events.publisher import QueueEventPublisher
    from litestar_queues.ports import Clock

__all__ = (
    "PublishedEvent",
    "TaskExecutionContext",
    "current_task_context",
    "publish_task_event",
    "publish_task_log",
    "publish_task_progress",
    "reset_task_context",
    "set_task_context",
)

logger = logging.getLogger("litestar_queues.events")

_SEQUENCE_STRIDE = 1 << 20
"""Sequence numbers of run ``n`` start at ``n * stride``, so they increase across attempts."""


class PublishedEvent:
    """An event a sync task already published: awaiting it returns the event at once.

    What the publishing helpers return when called from a sync task's worker thread, so that
    the same call works unchanged in sync and async tasks.

    Attributes:
        event: The event published, or ``None`` when events are disabled.
    """

    __slots__ = ("event",)

    def __init__(self, event: QueueEvent | None) -> None:
        self.event = event

    def __await__(self) -> Generator[Any, None, QueueEvent | None]:
        return _already(self.event).__await__()


async def _already(event: QueueEvent | None) -> QueueEvent | None:
    return event


def _in_event_loop() -> bool:
    try:
        anyio.get_current_task()
    except RuntimeError:  # no event loop runs in this thread
        return False
    return True


def _publish_now_or_later(
    make: Callable[[], Coroutine[Any, Any, QueueEvent | None]],
) -> Awaitable[QueueEvent | None]:
    """Return the coroutine in async code; from a sync task's thread, run it on the loop and wait."""
    if _in_event_loop():
        return make()
    try:
        return PublishedEvent(anyio.from_thread.run(make))
    except anyio.NoEventLoopError:
        raise NoTaskContextError(
            "task events can be published from the task itself (await them in an async task, call "
            "them in a sync task's own thread), not from a thread the task started"
        ) from None


_current: contextvars.ContextVar[TaskExecutionContext | None] = contextvars.ContextVar(
    "litestar_queues_task_context", default=None
)


class TaskExecutionContext:
    """What a running task knows about itself, and its way to publish events.

    A task receives it by declaring a ``_task_context`` parameter, or reaches it through
    :func:`publish_task_event` and friends. With events disabled every method is a no-op.

    Attributes:
        task_id: Id of the running task.
        task_name: Registered name.
        queue: Queue it was claimed from.
        attempt: Attempt number (1 for the first).
        worker_id: Worker running it (``None`` for runs without a worker).
        execution_backend: Where it runs.
        execution_profile: Its execution profile.
        metadata: Metadata stored at enqueue.
    """

    __slots__ = (
        "_clock",
        "_next",
        "_publisher",
        "_warned",
        "attempt",
        "execution_backend",
        "execution_profile",
        "metadata",
        "queue",
        "task_id",
        "task_name",
        "worker_id",
    )

    def __init__(
        self,
        *,
        task_id: UUID,
        task_name: str,
        queue: str,
        attempt: int,
        run_number: int,
        worker_id: str | None,
        execution_backend: str | None,
        execution_profile: str | None,
        metadata: dict[str, Any],
        publisher: QueueEventPublisher | None,
        clock: Clock,
    ) -> None:
        self.task_id = task_id
        self.task_name = task_name
        self.queue = queue
        self.attempt = attempt
        self.worker_id = worker_id
        self.execution_backend = execution_backend
        self.execution_profile = execution_profile
        self.metadata = metadata
        self._publisher = publisher
        self._clock = clock
        self._next = run_number * _SEQUENCE_STRIDE
        self._warned: set[str] = set()

    @property
    def events_enabled(self) -> bool:
        """Whether events are published at all."""
        return self._publisher is not None

    def build_event(self, event_type: str, **fields: Any) -> QueueEvent:
        """Build a task-scoped event with this run's identity and the next sequence number."""
        self._next += 1
        return QueueEvent(
            type=event_type,
            scope="task",
            scope_key=str(self.task_id),
            task_id=str(self.task_id),
            task_name=self.task_name,
            queue=self.queue,
            worker_id=self.worker_id,
            execution_backend=self.execution_backend,
            execution_profile=self.execution_profile,
            attempt=self.attempt,
            sequence=self._next,
            occurred_at=self._clock.now(),
            **fields,
        )

    def event(
        self,
        event_type: str,
        *,
        message: str | None = None,
        payload: Any = None,
        channels: Iterable[str] = (),
        event_key: str | None = None,
        actor: str | None = None,
        entity: str | None = None,
        level: str | None = None,
    ) -> Awaitable[QueueEvent | None]:
        """Publish a custom event for this task.

        ``await`` it in an async task; in a sync task call it as it is (it publishes before it
        returns). See the module docstring.

        Returns:
            An awaitable of the event published, or of ``None`` when events are disabled.
        """
        return _publish_now_or_later(
            lambda: self._event(
                event_type,
                message=message,
                payload=payload,
                channels=channels,
                event_key=event_key,
                actor=actor,
                entity=entity,
                level=level,
            )
        )

    async def _event(
        self,
        event_type: str,
        *,
        message: str | None,
        payload: Any,
        channels: Iterable[str],
        event_key: str | None,
        actor: str | None,
        entity: str | None,
        level: str | None,
    ) -> QueueEvent | None:
        if self._publisher is None:
            return None
        event = self.build_event(
            event_type,
            message=message,
            payload=payload,
            event_key=event_key,
            actor=actor,
            entity=entity,
            level=level,
        )
        await self._publisher.publish(event, channels)
        return event

    def log(
        self,
        message: str,
        *,
        level: str = "info",
        payload: Any = None,
        channels: Iterable[str] = (),
        event_key: str | None = None,
    ) -> Awaitable[QueueEvent | None]:
        """Publish a ``task.log`` event (``await`` it in async tasks; a plain call in sync tasks)."""
        return self.event(
            "task.log", message=message, level=level, payload=payload, channels=channels, event_key=event_key
        )

    def progress(
        self,
        current: float | None = None,
        total: float | None = None,
        *,
        percent: float | None = None,
        message: str | None = None,
        payload: Any = None,
        channels: Iterable[str] = (),
        event_key: str | None = None,
    ) -> Awaitable[QueueEvent | None]:
        """Publish a ``task.progress`` event (``await`` it in async tasks; a plain call in sync tasks).

        Every progress field is optional: ``current=None`` (units unknown yet), ``total=None``,
        and ``percent`` for tasks that only know a percentage. ``progressPercent`` is ``percent``
        when given, else ``100 * current / total`` when both are known and ``total`` is
        positive, clamped to 0..100 either way.

        A malformed value (not ``None`` nor a finite number, such as ``"3"``, ``nan`` or
        ``True``) never fails the task in best-effort mode: it is published as null and logged
        once per run and argument (logger ``litestar_queues.events``). In strict mode it raises
        :class:`EventPublishError` before anything is published.

        Raises:
            EventPublishError: In strict mode, a malformed value or a failed publish.
        """
        return _publish_now_or_later(
            lambda: self._progress(current, total, percent, message, payload, channels, event_key)
        )

    async def _progress(
        self,
        current: float | None,
        total: float | None,
        percent: float | None,
        message: str | None,
        payload: Any,
        channels: Iterable[str],
        event_key: str | None,
    ) -> QueueEvent | None:
        if self._publisher is None:
            return None
        values = check_progress(current, total, percent)
        if values.problems:
            self._malformed_progress(values.problems)
        event = self.build_event(
            "task.progress",
            message=message,
            payload=payload,
            event_key=event_key,
            progress_current=values.current,
            progress_total=values.total,
            progress_percent=values.percent,
        )
        await self._publisher.publish(event, channels)
        return event

    def _malformed_progress(self, problems: list[str]) -> None:
        text = f"malformed progress {', '.join(problems)} for task {self.task_id} ({self.task_name})"
        if self._publisher is not None and self._publisher.strict:
            raise EventPublishError(f"{text}: progress values must be finite numbers or None")
        new = [problem for problem in problems if problem.split(" ", 1)[0] not in self._warned]
        if new:
            self._warned.update(problem.split(" ", 1)[0] for problem in new)
            logger.warning("%s: published as null (further ones in this run are not logged)", text)


def current_task_context() -> TaskExecutionContext:
    """Return the context of the task running in the current asyncio task or thread.

    Raises:
        NoTaskContextError: Called outside a running task.
    """
    context = _current.get()
    if context is None:
        raise NoTaskContextError(
            "no task is running here: publish_task_* helpers work only inside a task run by a worker"
        )
    return context


def set_task_context(context: TaskExecutionContext | None) -> contextvars.Token[TaskExecutionContext | None]:
    """Bind ``context`` to the current execution context; return the token to reset it."""
    return _current.set(context)


def reset_task_context(token: contextvars.Token[TaskExecutionContext | None]) -> None:
    """Undo :func:`set_task_context`."""
    _current.reset(token)


def publish_task_event(
    event_type: str,
    *,
    message: str | None = None,
    payload: Any = None,
    channels: Iterable[str] = (),
    event_key: str | None = None,
) -> Awaitable[QueueEvent | None]:
    """Publish a custom event for the running task.

    ``await publish_task_event(...)`` in an async task; in a sync task call it without ``await``:
    it publishes before it returns.

    Raises:
        NoTaskContextError: Called outside a running task.
    """
    return current_task_context().event(
        event_type, message=message, payload=payload, channels=channels, event_key=event_key
    )


def publish_task_log(
    message: str,
    *,
    level: str = "info",
    payload: Any = None,
    channels: Iterable[str] = (),
    event_key: str | None = None,
) -> Awaitable[QueueEvent | None]:
    """Publish a ``task.log`` event for the running task.

    ``await publish_task_log(...)`` in an async task; in a sync task call it without ``await``:
    it publishes before it returns.

    Raises:
        NoTaskContextError: Called outside a running task.
    """
    return current_task_context().log(
        message, level=level, payload=payload, channels=channels, event_key=event_key
    )


def publish_task_progress(
    current: float | None = None,
    total: float | None = None,
    *,
    percent: float | None = None,
    message: str | None = None,
    payload: Any = None,
    channels: Iterable[str] = (),
    event_key: str | None = None,
) -> Awaitable[QueueEvent | None]:
    """Publish a ``task.progress`` event for the running task (see :meth:`TaskExecutionContext.progress`).

    ``await`` it in an async task; in a sync task call it without ``await``: it publishes before
    it returns.

    Raises:
        NoTaskContextError: Called outside a running task.
        EventPublishError: In strict mode, a malformed value or a failed publish.
    """
    return current_task_context().progress(
        current,
        total,
        percent=percent,
        message=message,
        payload=payload,
        channels=channels,
        event_key=event_key,
    )
