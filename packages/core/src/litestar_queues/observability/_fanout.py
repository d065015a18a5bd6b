"""Telling every configured observer, so that one failing observer changes nothing else."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from litestar_queues.models import EnqueueResult, Outcome, TaskRecord
    from litestar_queues.observability.observer import QueueObserver
    from litestar_queues.service import QueueService

__all__ = ("ObserverFanout", "fanout", "lag_of")

logger = logging.getLogger("litestar_queues.observers")


def lag_of(record: TaskRecord) -> float:
    """Seconds from when ``record`` was due to when its latest attempt started (never negative)."""
    if record.started_at is None:
        return 0.0
    return max(0.0, (record.started_at - record.run_at).total_seconds())


def fanout(observers: Sequence[QueueObserver]) -> ObserverFanout | None:
    """The fan-out over ``observers``; ``None`` when there is none (then the core calls nothing)."""
    return ObserverFanout(observers) if observers else None


def _failed(observer: QueueObserver, hook: str) -> None:
    logger.warning("observer %s failed in %s (ignored)", type(observer).__name__, hook, exc_info=True)


class ObserverFanout:
    """Calls each observer in turn; an exception one raises is logged and goes no further."""

    __slots__ = ("observers",)

    def __init__(self, observers: Sequence[QueueObserver]) -> None:
        self.observers = tuple(observers)

    def enqueuing(self, record: TaskRecord) -> None:
        """Tell each observer that ``record`` is about to be stored."""
        for observer in self.observers:
            try:
                observer.enqueuing(record)
            except Exception:
                _failed(observer, "enqueuing")

    def enqueued(self, record: TaskRecord, *, created: bool, error: BaseException | None) -> None:
        """Tell each observer that the store of ``record`` is over."""
        for observer in self.observers:
            try:
                observer.enqueued(record, created=created, error=error)
            except Exception:
                _failed(observer, "enqueued")

    async def store(
        self,
        records: Sequence[TaskRecord],
        enqueue: Callable[[Sequence[TaskRecord]], Awaitable[Sequence[EnqueueResult]]],
    ) -> Sequence[EnqueueResult]:
        """Store ``records`` with ``enqueue``, telling the observers before and after."""
        for record in records:
            self.enqueuing(record)
        try:
            stored = await enqueue(records)
        except BaseException as exc:
            for record in records:
                self.enqueued(record, created=False, error=exc)
            raise
        for record, result in zip(records, stored, strict=True):
            self.enqueued(record, created=result.created, error=None)
        return stored

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        """Tell each observer that an attempt of ``record`` starts."""
        for observer in self.observers:
            try:
                observer.started(record, worker_id=worker_id, lag=lag)
            except Exception:
                _failed(observer, "started")

    def finished(
        self, record: TaskRecord, *, outcome: Outcome | None, error: BaseException | None, duration: float
    ) -> None:
        """Tell each observer, last started first, that the attempt of ``record`` is over."""
        # reverse order: context an observer set in started is reset in the order it nests
        for observer in reversed(self.observers):
            try:
                observer.finished(record, outcome=outcome, error=error, duration=duration)
            except Exception:
                _failed(observer, "finished")

    def reclaimed(self, record: TaskRecord) -> None:
        """Tell each observer that a sweep took ``record`` back."""
        for observer in self.observers:
            try:
                observer.reclaimed(record)
            except Exception:
                _failed(observer, "reclaimed")

    def cancelled(self, record: TaskRecord) -> None:
        """Tell each observer that ``record`` was cancelled."""
        for observer in self.observers:
            try:
                observer.cancelled(record)
            except Exception:
                _failed(observer, "cancelled")

    async def watch(self, service: QueueService) -> None:
        """Run every observer's :meth:`~QueueObserver.watch` until cancelled."""
        async with anyio.create_task_group() as tg:
            for observer in self.observers:
                tg.start_soon(_watch, observer, service)


async def _watch(observer: QueueObserver, service: QueueService) -> None:
    try:
        await observer.watch(service)
    except Exception:
        _failed(observer, "watch")
