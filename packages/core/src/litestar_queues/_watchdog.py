"""Keeping a worker's leases alive from a thread while a task blocks its event loop."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from litestar_queues._loading import backend_from_url

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from uuid import UUID

    from litestar_queues.models import WorkerInfo
    from litestar_queues.ports import Clock, QueueBackend

__all__ = ("LeaseWatchdog",)

logger = logging.getLogger("litestar_queues.worker")

_TICK = 0.1


class LeaseWatchdog:
    """Extends a worker's leases from its own thread when the worker's event loop stops beating.

    An ``async def`` task that blocks the event loop (a CPU loop, a blocking call) stops the
    worker's heartbeat; past the lease another worker would reclaim and re-run it, and the first
    run's outcome would be refused. The watchdog runs in a daemon thread with its own event loop
    and its own connection to the queue backend (built from the same URL, opened only the first
    time it is needed): when the worker's heartbeat is late by half an interval, it extends the
    leases the worker holds. It never decides anything else: lost leases, cancellations and
    outcomes stay with the worker once its loop runs again.

    Args:
        url: The queue backend's URL (a backend instance cannot be copied into another thread).
        worker_id: For the thread's name and the logs.
        interval: The worker's heartbeat interval in seconds.
        lease_seconds: The lease length the extensions grant.
        clock: The service's clock.
        held: Returns the ``(task_id, lease_id)`` pairs the worker holds.
        presence: Returns the worker's presence as of now, recorded after each extension, so
            that a worker kept alive by the watchdog stays in the operators' list as well.
    """

    def __init__(
        self,
        url: str,
        *,
        worker_id: str,
        interval: float,
        lease_seconds: float,
        clock: Clock,
        held: Callable[[], Sequence[tuple[UUID, str]]],
        presence: Callable[[], WorkerInfo] | None = None,
    ) -> None:
        self._url = url
        self._worker_id = worker_id
        self._interval = interval
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._held = held
        self._presence = presence
        self._last_beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"lq-watchdog-{worker_id}", daemon=True)
        self.extensions = 0
        """How many times the watchdog extended leases (for logs and tests)."""

    def start(self) -> None:
        """Start the thread."""
        self._last_beat = time.monotonic()
        self._thread.start()

    def beat(self) -> None:
        """Record that the worker's event loop ran its heartbeat (called from the loop)."""
        self._last_beat = time.monotonic()

    def stop(self) -> None:
        """Stop the thread and close its connection (blocks until it has ended)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _main(self) -> None:
        try:
            anyio.run(self._watch)
        except Exception:
            logger.exception("worker %s: the lease watchdog stopped", self._worker_id)

    async def _watch(self) -> None:
        backend: QueueBackend | None = None
        stalled_since: float | None = None
        next_extension = 0.0
        try:
            while not self._stop.is_set():
                await anyio.sleep(_TICK)
                now = time.monotonic()
                late = now - self._last_beat
                if late <= self._interval * 1.5:
                    if stalled_since is not None:
                        logger.warning(
                            "worker %s: its event loop ran again after %.1f s blocked",
                            self._worker_id,
                            time.monotonic() - stalled_since,
                        )
                        stalled_since = None
                    continue
                if now < next_extension:
                    continue
                leases = _snapshot(self._held)
                if not leases:
                    continue
                if stalled_since is None:
                    stalled_since = self._last_beat
                    logger.warning(
                        "worker %s: its event loop is blocked (heartbeat %.1f s late): a task blocks it "
                        "(make a blocking task a plain def, it then runs in a thread); the watchdog "
                        "keeps its %d leases alive",
                        self._worker_id,
                        late,
                        len(leases),
                    )
                if backend is None:
                    backend = backend_from_url(self._url)
                    await backend.open()
                try:
                    await backend.extend_leases(leases, until=self._clock.now() + self._lease)
                except Exception as exc:
                    logger.warning("worker %s: watchdog could not extend leases: %r", self._worker_id, exc)
                    continue
                self.extensions += 1
                next_extension = now + self._interval / 2
                if self._presence is not None:
                    try:
                        await backend.record_worker(self._presence())
                    except Exception as exc:
                        logger.debug(
                            "worker %s: watchdog could not record its presence: %r", self._worker_id, exc
                        )
        finally:
            if backend is not None:
                with anyio.CancelScope(shield=True):
                    await backend.close()


def _snapshot(held: Callable[[], Sequence[tuple[UUID, str]]]) -> list[tuple[UUID, str]]:
    # read from another thread: the loop may resume and change the worker's tables meanwhile
    for _ in range(3):
        try:
            return list(held())
        except RuntimeError:
            continue
    return []
