"""A worker's presence in the queue backend: which workers serve, where, and how busy they are.

The worker records a :class:`~litestar_queues.models.WorkerInfo` when it starts serving, at each
tick of its heartbeat (the timer that extends its leases, so no call is added per task), and
once more when it begins draining (``stopping``); on a clean stop it forgets it. Operators read
the live ones with :meth:`QueueService.workers <litestar_queues.QueueService.workers>`.

A presence lasts :data:`PRESENCE_BEATS` heartbeat intervals. One interval would drop a worker
whose beat is merely late (its tick waits for the lease extension before it, and a busy event
loop delays timers); three let two beats in a row be missed before the worker is taken for gone.
With the default interval (a third of the lease) that is exactly ``lease_seconds``: a worker
killed without a clean stop leaves the list at about the time its leases expire and other
workers take its tasks over.

A presence that cannot be written is logged (a warning at the first failure, then at debug level
until it works again) and never stops the worker: it is for operators, not for the queue.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from litestar_queues.models import WorkerInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from litestar_queues.ports import Clock, QueueBackend

__all__ = ("PRESENCE_BEATS", "WorkerPresence")

logger = logging.getLogger("litestar_queues.worker")

PRESENCE_BEATS = 3
"""Heartbeat intervals a recorded presence lasts (``expires_at = seen_at + 3 * interval``)."""


class WorkerPresence:
    """Records and forgets one worker's presence; never raises.

    Args:
        backend: The queue backend.
        clock: The service's clock (``seen_at``, ``started_at`` and ``expires_at`` come from it).
        worker_id: The worker's identity.
        queues: The queues it serves (``None``: every queue).
        concurrency: Tasks it runs at once, at most.
        interval: Its heartbeat interval in seconds.
        running: Returns how many tasks it runs now.
        stopping: Returns whether it is draining.
    """

    __slots__ = (
        "_backend",
        "_clock",
        "_concurrency",
        "_failing",
        "_hostname",
        "_interval",
        "_queues",
        "_running",
        "_stopping",
        "_worker_id",
        "started_at",
    )

    def __init__(
        self,
        backend: QueueBackend,
        clock: Clock,
        *,
        worker_id: str,
        queues: Sequence[str] | None,
        concurrency: int,
        interval: float,
        running: Callable[[], int],
        stopping: Callable[[], bool],
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._worker_id = worker_id
        self._queues = None if queues is None else tuple(queues)
        self._concurrency = concurrency
        self._interval = interval
        self._running = running
        self._stopping = stopping
        self._hostname = socket.gethostname()
        self._failing = False
        self.started_at: datetime | None = None
        """When the worker started serving (set by the first :meth:`beat`)."""

    def describe(self) -> WorkerInfo:
        """The presence as of now (read from the worker's state; safe from another thread)."""
        now = self._clock.now()
        if self.started_at is None:
            self.started_at = now
        return WorkerInfo(
            worker_id=self._worker_id,
            hostname=self._hostname,
            pid=os.getpid(),
            queues=self._queues,
            concurrency=self._concurrency,
            started_at=self.started_at,
            seen_at=now,
            expires_at=now + timedelta(seconds=PRESENCE_BEATS * self._interval),
            running=self._running(),
            stopping=self._stopping(),
        )

    async def beat(self) -> None:
        """Record the presence; a failure (or a call longer than one interval) is only logged."""
        info = self.describe()
        with anyio.move_on_after(self._interval) as scope:
            try:
                await self._backend.record_worker(info)
            except Exception as exc:
                self._failed("record", exc)
                return
        if scope.cancelled_caught:
            self._failed("record", TimeoutError(f"record_worker took longer than {self._interval:g} s"))
            return
        if self._failing:
            self._failing = False
            logger.info("worker %s records its presence again", self._worker_id)

    async def forget(self) -> None:
        """Remove the presence (a clean stop); a failure is only logged (it then expires)."""
        with anyio.move_on_after(self._interval):
            try:
                await self._backend.forget_worker(self._worker_id)
            except Exception as exc:
                self._failed("forget", exc)

    def _failed(self, what: str, exc: BaseException) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        logger.log(
            level,
            "worker %s could not %s its presence (operators' worker lists may be wrong until it "
            "expires; the queue is not affected): %r",
            self._worker_id,
            what,
            exc,
        )
