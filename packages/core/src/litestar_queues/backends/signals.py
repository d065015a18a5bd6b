"""In-process wake-ups for queue backends: a broadcast signal and a latch that is never lost.

Backend authors use them for ``wait_for_work`` (a :class:`Latch`: a wake-up fired while no worker
waits must make the next wait return), ``wait_for_finish`` (:class:`FinishSignals`, which hands
the finished record to its waiters, or a plain :class:`Broadcast`) and ``wait_for_cancel``
(:class:`CancelSignals`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from uuid import UUID

    from litestar_queues.models import TaskRecord

__all__ = ("Broadcast", "CancelSignals", "FinishSignals", "FinishWait", "Latch")


class Broadcast:
    """A broadcast wake-up: every waiter returns on the next :meth:`fire`; nothing is remembered."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = anyio.Event()

    async def wait(self, timeout: float) -> None:
        """Return on the next fire, or after ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            await self._event.wait()


class Latch:
    """A latched wake-up: a fire while nobody waits makes the next :meth:`wait` return at once."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        """Wake every waiter, or the next one."""
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return on a fire (past or future), or after ``timeout`` seconds; consume the fire."""
        event = self._event
        if not event.is_set():
            with anyio.move_on_after(timeout):
                await event.wait()
        if event.is_set() and self._event is event:
            self._event = anyio.Event()


class CancelSignals:
    """Cancels of running records per worker, kept until that worker's next ``wait_for_cancel``.

    Only workers that waited here (those of this process) are remembered, so notifications
    about other processes' workers cost nothing and are not kept.
    """

    __slots__ = ("_events", "_known", "_pending")

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pending: dict[str, set[UUID]] = {}
        self._events: dict[str, anyio.Event] = {}

    def fire(self, worker_id: str | None, task_ids: Iterable[UUID]) -> None:
        """Records of ``worker_id`` were cancelled while it ran them."""
        if worker_id is None or worker_id not in self._known:
            return
        self._pending.setdefault(worker_id, set()).update(task_ids)
        event = self._events.get(worker_id)
        if event is not None:
            event.set()

    async def wait(self, worker_id: str, timeout: float) -> set[UUID]:
        """The cancels fired for ``worker_id`` since its last wait, as soon as there is one."""
        self._known.add(worker_id)
        pending = self._pending.pop(worker_id, None)
        if pending:
            return pending
        event = self._events[worker_id] = anyio.Event()
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            if self._events.get(worker_id) is event:
                del self._events[worker_id]
        return self._pending.pop(worker_id, set())


class FinishWait:
    """One waiter of :class:`FinishSignals`: woken by a fire, with the finished record when known."""

    __slots__ = ("_event", "_record")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._record: TaskRecord | None = None

    def _wake(self, record: TaskRecord | None) -> None:
        if record is not None:
            self._record = record  # a later wake without a record keeps it: it was true then
        self._event.set()

    async def wait(self, timeout: float) -> TaskRecord | None:
        """The terminal record handed over, or ``None`` (woken without one, or after ``timeout``)."""
        with anyio.move_on_after(timeout):
            await self._event.wait()
        return self._record


class FinishSignals:
    """Per-task finish wake-ups that carry the terminal record when the finishing code has it.

    ``wait_for_finish`` subscribes, looks at the stored record, then waits::

        with self._finished.subscribe(task_id) as waiting:
            record = ...  # the stored record
            if record is None or record.is_terminal:
                return record
            return await waiting.wait(timeout)

    and the code that finished records calls :meth:`deliver` with them once they are stored
    (after the commit), or :meth:`fire` with ids when it only knows they may have changed.
    """

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: dict[UUID, set[FinishWait]] = {}

    @contextlib.contextmanager
    def subscribe(self, task_id: UUID) -> Iterator[FinishWait]:
        """A waiter of ``task_id`` for as long as the block runs."""
        waiting = FinishWait()
        self._waiters.setdefault(task_id, set()).add(waiting)
        try:
            yield waiting
        finally:
            waiters = self._waiters.get(task_id)
            if waiters is not None:
                waiters.discard(waiting)
                if not waiters:
                    del self._waiters[task_id]

    def deliver(self, records: Iterable[TaskRecord]) -> None:
        """Hand these stored records to their waiters: the terminal ones (the others are left out)."""
        if not self._waiters:
            return
        for record in records:
            if record.is_terminal:
                for waiting in self._waiters.get(record.id, ()):
                    waiting._wake(record)

    def fire(self, task_ids: Iterable[UUID]) -> None:
        """Wake the waiters of these tasks without a record: they read it again."""
        if not self._waiters:
            return
        for task_id in task_ids:
            for waiting in self._waiters.get(task_id, ()):
                waiting._wake(None)

    def fire_all(self) -> None:
        """Wake every waiter without a record (a notification may have been missed, or closing)."""
        for waiters in self._waiters.values():
            for waiting in waiters:
                waiting._wake(None)

    def waited(self) -> list[UUID]:
        """The tasks someone waits for now."""
        return list(self._waiters)
