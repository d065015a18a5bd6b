"""Event sinks that ship with the core."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar_queues.events.envelope import QueueEvent

__all__ = ("InMemoryQueueEventSink",)


class InMemoryQueueEventSink:
    """Keeps every published event in order, for tests.

    Attributes:
        events: Events in publish order.
        published: ``(event, channels)`` pairs in publish order.
    """

    __slots__ = ("_changed", "events", "published")

    def __init__(self) -> None:
        self.events: list[QueueEvent] = []
        self.published: list[tuple[QueueEvent, list[str]]] = []
        self._changed: anyio.Event | None = None

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        """Record ``event`` and the channels it was published on."""
        self.events.append(event)
        self.published.append((event, list(channels)))
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def for_task(self, task_id: object) -> list[QueueEvent]:
        """Return the events of one task, in order."""
        key = str(task_id)
        return [e for e in self.events if e.task_id == key]

    async def wait_for(self, event_type: str, timeout: float = 5.0) -> QueueEvent:
        """Wait until an event of ``event_type`` has been published and return the first one.

        Raises:
            TimeoutError: None arrived in time.
        """
        with anyio.fail_after(timeout):
            while True:
                for event in self.events:
                    if event.type == event_type:
                        return event
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()

    def clear(self) -> None:
        """Forget every recorded event."""
        self.events.clear()
        self.published.clear()
