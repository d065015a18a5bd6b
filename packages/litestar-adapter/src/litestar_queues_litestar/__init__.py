"""Litestar adapter of litestar-queues: plugin, DI, background tasks, CLI and Channels event streams.

The names are also reachable from the core: ``from litestar_queues import QueuePlugin,
QueuedBackgroundTask`` and ``from litestar_queues.events import ChannelsQueueEventSink,
stream_queue_events``.
"""

from __future__ import annotations

from litestar_queues_litestar.background import QueuedBackgroundTask
from litestar_queues_litestar.channels_sink import ChannelsQueueEventSink
from litestar_queues_litestar.plugin import QueuePlugin
from litestar_queues_litestar.streaming import stream_queue_events

__all__ = ("ChannelsQueueEventSink", "QueuePlugin", "QueuedBackgroundTask", "stream_queue_events")
