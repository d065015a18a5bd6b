"""Live progress of running tasks: the dashboard follows the event channel of each task whose page is open.

Task records do not hold progress: a running task publishes it as events
(``publish_task_progress``), which reach a Litestar app through its ``ChannelsPlugin``. When a
task page (or its refreshing fragment) asks for a running task, :class:`ProgressWatch`
subscribes to that task's channel, seeds itself from the channel's history when the Channels
backend keeps one, and keeps the latest progress and the last events. A task nobody has looked
at for ``idle`` seconds is unsubscribed. Without a Channels plugin (events off, or the
standalone dashboard) :attr:`ProgressWatch.unavailable` says why, and the task page falls back
to what the record holds (status, attempt, start time, lease).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import msgspec

from litestar_queues.events import QueueChannels, QueueEvent, decode_event
from litestar_queues_litestar._subscription import subscribe_shielded, unsubscribe

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import TaskGroup
    from litestar.channels import ChannelsPlugin

__all__ = ("ProgressWatch", "TaskProgress")

logger = logging.getLogger("litestar_queues.litestar")


@dataclass(slots=True)
class TaskProgress:
    """What the events of one task said so far.

    Attributes:
        percent: The latest progress percent (0 to 100), or ``None``.
        current: Units done, or ``None``.
        total: Units in all, or ``None``.
        message: The latest progress message.
        attempt: The attempt the progress belongs to.
        events: The last events of the task, oldest first.
        updated_at: When the latest event arrived (monotonic seconds).
    """

    percent: float | None = None
    current: float | None = None
    total: float | None = None
    message: str | None = None
    attempt: int | None = None
    events: deque[QueueEvent] = field(default_factory=deque)
    updated_at: float = 0.0

    def take(self, event: QueueEvent) -> None:
        """Fold ``event`` in (a new attempt starts its progress afresh)."""
        if event.attempt is not None and self.attempt is not None and event.attempt > self.attempt:
            self.percent = self.current = self.total = None
            self.message = None
        if event.attempt is not None:
            self.attempt = max(event.attempt, self.attempt or 0)
        if event.type == "task.progress":
            self.percent = event.progress_percent
            self.current = event.progress_current
            self.total = event.progress_total
            self.message = event.message
        self.events.append(event)
        self.updated_at = time.monotonic()


class ProgressWatch:
    """Follows the event channels of the running tasks whose pages are open.

    Args:
        keep_events: Events kept per task.
        idle: Seconds after the last look at a task before its channel is left.
        limit: Tasks followed at once (more pages open show no live progress).
    """

    __slots__ = (
        "_group",
        "_last_look",
        "_progress",
        "_scopes",
        "channels",
        "idle",
        "keep_events",
        "limit",
        "unavailable",
    )

    def __init__(self, *, keep_events: int = 20, idle: float = 60.0, limit: int = 200) -> None:
        self.keep_events = keep_events
        self.idle = idle
        self.limit = limit
        self.channels: ChannelsPlugin | None = None
        self.unavailable: str | None = "the app is not running"
        self._group: TaskGroup | None = None
        self._progress: dict[str, TaskProgress] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._last_look: dict[str, float] = {}

    @asynccontextmanager
    async def running(self, channels: ChannelsPlugin | None, unavailable: str | None) -> AsyncIterator[None]:
        """Follow channels while the app runs (the dashboard's lifespan); leave them all on exit."""
        self.channels = channels
        self.unavailable = unavailable if channels is None else None
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._forget_idle)
                try:
                    yield
                finally:
                    self._group = None
                    group.cancel_scope.cancel()
        finally:
            self.channels = None
            self.unavailable = "the app is not running"
            self._progress.clear()
            self._last_look.clear()

    def look(self, task_id: str, *, running: bool) -> TaskProgress | None:
        """The progress of ``task_id`` so far; while it runs, follow its channel (from now on)."""
        self._last_look[task_id] = time.monotonic()
        follow = running and task_id not in self._scopes and len(self._scopes) < self.limit
        if follow and self._group is not None and self.channels is not None:
            self._scopes[task_id] = anyio.CancelScope()
            self._progress.setdefault(task_id, TaskProgress(events=deque(maxlen=self.keep_events)))
            self._group.start_soon(self._follow, task_id, self.channels)
        return self._progress.get(task_id)

    @property
    def followed(self) -> int:
        """Tasks whose channel is followed now."""
        return len(self._scopes)

    async def _follow(self, task_id: str, plugin: ChannelsPlugin) -> None:
        names = [QueueChannels.task(task_id)]
        scope = self._scopes[task_id]
        try:
            with scope:
                subscriber = await subscribe_shielded(plugin, names)
                try:
                    await self._seed(task_id, plugin, names[0])
                    async for data in subscriber.iter_events():
                        self._take(task_id, data)
                finally:
                    with anyio.CancelScope(shield=True):
                        await unsubscribe(plugin, subscriber, names)
        except Exception:
            logger.exception("the dashboard stopped following the events of task %s", task_id)
        finally:
            self._scopes.pop(task_id, None)

    async def _seed(self, task_id: str, plugin: ChannelsPlugin, channel: str) -> None:
        try:
            history = await plugin._backend.get_history(channel, self.keep_events)
        except (NotImplementedError, AttributeError):
            return  # a backend without history: progress shows from the next event on
        for data in history:
            self._take(task_id, data)

    def _take(self, task_id: str, data: bytes | str) -> None:
        try:
            event = decode_event(data)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return  # not a queue event: someone else's message on the channel
        progress = self._progress.get(task_id)
        if progress is None:
            progress = self._progress[task_id] = TaskProgress(events=deque(maxlen=self.keep_events))
        if any(seen.dedup_key == event.dedup_key for seen in progress.events):
            return  # in the history and live both
        progress.take(event)

    async def _forget_idle(self) -> None:
        while True:
            await anyio.sleep(min(self.idle / 4, 5.0))
            now = time.monotonic()
            for task_id, seen in list(self._last_look.items()):
                if now - seen > self.idle:
                    del self._last_look[task_id]
                    self._progress.pop(task_id, None)
                    scope = self._scopes.get(task_id)
                    if scope is not None:
                        scope.cancel()
