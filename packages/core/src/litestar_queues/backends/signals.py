"""In-process wake-ups for queue backends: a broadcast signal and a latch that is never lost.

Backend authors use them for ``wait_for_work`` (a :class:`Latch`: a wake-up fired while no worker
waits must make the next wait return) and ``wait_for_finish`` (a :class:`Broadcast`).
"""

from __future__ import annotations

import anyio

__all__ = ("Broadcast", "Latch")


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
