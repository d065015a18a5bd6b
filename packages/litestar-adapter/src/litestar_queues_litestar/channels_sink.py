"""``ChannelsQueueEventSink``: queue events to an app-owned Litestar Channels plugin or backend."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend

from litestar_queues.events import encode_event
from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from litestar_queues.events import QueueEvent

__all__ = ("ChannelsQueueEventSink",)


class ChannelsQueueEventSink:
    """Publishes each event's JSON wire form (:func:`~litestar_queues.events.encode_event`) to Channels.

    With a :class:`~litestar.channels.ChannelsPlugin` the bytes go through
    ``plugin.wait_published`` (straight to its backend, awaited); with a bare
    :class:`~litestar.channels.backends.base.ChannelsBackend` through ``backend.publish``. The
    application owns the plugin or backend and its lifecycle; :meth:`started` starts it for
    processes that run no app, such as ``litestar queues worker``.

    Args:
        channels: The app's Channels plugin, or a Channels backend.

    Raises:
        QueueConfigurationError: ``channels`` is neither.
    """

    __slots__ = ("backend", "plugin")

    def __init__(self, channels: ChannelsPlugin | ChannelsBackend) -> None:
        if isinstance(channels, ChannelsPlugin):
            self.plugin: ChannelsPlugin | None = channels
            self.backend: ChannelsBackend = channels._backend
        elif isinstance(channels, ChannelsBackend):
            self.plugin = None
            self.backend = channels
        else:
            raise QueueConfigurationError(
                f"channels_backend must be a litestar ChannelsPlugin or ChannelsBackend, "
                f"got {type(channels).__name__}"
            )

    async def publish(self, event: QueueEvent, channels: Sequence[str]) -> None:
        """Publish ``event`` on ``channels``."""
        if not channels:
            return
        data = encode_event(event)
        if self.plugin is not None:
            await self.plugin.wait_published(data, list(channels))
        else:
            await self.backend.publish(data, list(channels))

    @asynccontextmanager
    async def started(self) -> AsyncIterator[ChannelsQueueEventSink]:
        """Start the backend (or plugin) for a process without an app, and stop it on exit."""
        if self.plugin is not None:
            async with self.plugin:
                yield self
            return
        await self.backend.on_startup()
        try:
            yield self
        finally:
            await self.backend.on_shutdown()
