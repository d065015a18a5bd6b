"""Configuration of event publishing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar_queues.exceptions import QueueConfigurationError

if TYPE_CHECKING:
    from litestar_queues.ports import EventSink

__all__ = ("QueueEventConfig",)


@dataclass(kw_only=True, slots=True)
class QueueEventConfig:
    """Whether and where queue events are published.

    Attributes:
        enabled: Publish events at all (off by default).
        sink: One event sink or several; events go to each in turn.
        channels_backend: An app-owned Litestar Channels plugin or backend; builds a
            ``ChannelsQueueEventSink`` (needs ``litestar-queues-litestar``).
        publish_global_lifecycle: Also publish lifecycle events on the global channel.
        publish_queue_channel: Also publish every task-scoped event (lifecycle, progress, log,
            custom) on its queue's channel, ``QueueChannels.queue(queue)``, right after the task
            channel. On by default, as in litestar-queues 0.1.0 (the queue channel it documents
            carried exactly these events); ``False`` halves the Channels traffic of apps that
            only stream per-task channels.
        strict: A publish failure fails the task's attempt (default: log a warning, go on).
        publish_timeout: Seconds one publish may take before it is abandoned (best-effort mode)
            or fails (strict mode), so a slow sink cannot stall a worker.
    """

    enabled: bool = False
    sink: EventSink | Sequence[EventSink] | None = None
    channels_backend: Any = None
    publish_global_lifecycle: bool = False
    publish_queue_channel: bool = True
    strict: bool = False
    publish_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not self.publish_timeout > 0:
            raise QueueConfigurationError("publish_timeout must be > 0")
        if self.enabled and self.sink is None and self.channels_backend is None:
            raise QueueConfigurationError("events are enabled but neither sink nor channels_backend is set")

    def build_sinks(self) -> list[EventSink]:
        """Return the sinks events go to (empty when disabled)."""
        if not self.enabled:
            return []
        sinks: list[EventSink] = []
        if self.sink is not None:
            if isinstance(self.sink, Sequence):
                sinks.extend(self.sink)
            else:
                sinks.append(self.sink)
        if self.channels_backend is not None:
            from litestar_queues.events import ChannelsQueueEventSink

            sinks.append(ChannelsQueueEventSink(self.channels_backend))
        return sinks
