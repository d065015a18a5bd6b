"""The observer port: what metrics, traces and audit hooks are told about tasks.

An observer is told where the core decides things, never by a backend: at enqueue (the
service's one store path and the scheduler's fires), around each attempt (the one attempt
driver, whatever runs it: a worker, ``immediate`` execution, ``litestar-queues run-task``), when
a sweep reclaims an expired lease, and when a waiting or running task is cancelled.

Every hook but :meth:`QueueObserver.watch` is synchronous and must be quick: it runs on the
event loop, in the middle of the queue's work. An exception an observer raises is logged on
``litestar_queues.observers`` and never changes what happens to the task. With no observer
configured the core makes no call at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from litestar_queues.models import Outcome, TaskRecord
    from litestar_queues.service import QueueService

__all__ = ("QueueObserver",)


class QueueObserver(Protocol):
    """Is told what happens to tasks: enqueued, started, finished, reclaimed, cancelled.

    Subclass it and override what you need: every method has a default that does nothing. A
    class that implements the protocol without subclassing it declares every method itself; the
    configuration refuses an observer that lacks one. Configure observers with
    ``QueueConfig(observers=[...])``.

    The records handed over are the core's own: read them, never change them (except
    ``record.metadata`` in :meth:`enqueuing`).
    """

    def enqueuing(self, record: TaskRecord) -> None:
        """A record is about to be stored (built and validated; nothing stored yet).

        The one hook that may change the record: it may add JSON values to ``record.metadata``
        (a trace context, a correlation id), which is stored with it. Keep them small: they are
        not counted against ``max_payload_bytes``.
        """
        return None

    def enqueued(self, record: TaskRecord, *, created: bool, error: BaseException | None) -> None:
        """The store of a record seen by :meth:`enqueuing` is over.

        Args:
            record: The record as built (for a deduplicated enqueue, not the one stored).
            created: A new record was stored. ``False``: an active record held its dedup key
                (or, for a schedule's fire, another scheduler fired that due time first).
            error: The store failed with this error (nothing was stored; it propagates).
        """
        return None

    def started(self, record: TaskRecord, *, worker_id: str | None, lag: float) -> None:
        """An attempt starts in this process; :meth:`finished` follows in the same asyncio task.

        Called just before the task function runs (and the ``task.started`` event is
        published), in the task that runs it: a context variable set here (an active span) is
        seen by the task's own code, and can be reset in :meth:`finished`.

        Args:
            record: The claimed record (``attempts`` counts this attempt; ``runs`` numbers it).
            worker_id: The worker running it (``None``: ``immediate`` or ``run-task`` without one).
            lag: Seconds from when the record was due (``run_at``) to this start (``started_at``),
                never negative.
        """
        return None

    def finished(
        self,
        record: TaskRecord,
        *,
        outcome: Outcome | None,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """The attempt :meth:`started` announced is over.

        The outcome is decided but not applied yet: a worker reports outcomes in batches, and
        one whose lease was lost meanwhile is rejected (logged).

        Args:
            record: The record, as :meth:`started` saw it.
            outcome: The decided outcome (``outcome.kind``: ``complete``, ``fail`` or ``retry``);
                ``None`` when the run was stopped before one was decided: its lease was lost
                (the task was cancelled, or another worker reclaimed it), or the worker shut
                down past its grace period and gives the task back.
            error: What the task raised, for ``fail`` and ``retry`` (a timeout is a
                ``TimeoutError``).
            duration: Seconds the attempt ran here (monotonic clock).
        """
        return None

    def reclaimed(self, record: TaskRecord) -> None:
        """A sweep found ``record``'s lease expired (its worker died or stalled) and took it back.

        ``record`` is the record after the sweep: back in its queue (``pending``), or ``failed``
        when it had lost its lease more than ``max_reclaims`` times.
        """
        return None

    def cancelled(self, record: TaskRecord) -> None:
        """``QueueService.cancel`` cancelled ``record``, which was waiting or running.

        A running one is stopped by its worker, whose attempt then :meth:`finished` with no
        outcome.
        """
        return None

    async def watch(self, service: QueueService) -> None:
        """Runs in each worker for as long as it serves; cancelled when the worker stops.

        For work on a timer (read ``await service.stats()`` into gauges). An exception is
        logged and ends only this watch. The default returns at once.
        """
        return None
