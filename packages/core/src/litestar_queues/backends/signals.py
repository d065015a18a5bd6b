"""In-process wake-ups for queue backends: a broadcast signal and a latch that is never lost.

Backend authors use them for ``wait_for_work`` (a :class:`Latch`: a wake-up fired while no worker
waits must make the next wait return), ``wait_for_finish`` (a :class:`Broadcast`) and
``wait_for_cancel`` (:class:`CancelSignals`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

__all__ = ("Broadcast", "CancelSignals", "Latch")


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
