"""Publishing events to the configured sinks, best effort or strict."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from litestar_queues.events.channels import resolve_channels
from litestar_queues.events.envelope import LIFECYCLE_EVENT_TYPES
from litestar_queues.exceptions import EventPublishError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from litestar_queues.events.config import QueueEventConfig
    from litestar_queues.events.envelope import QueueEvent
    from litestar_queues.ports import EventSink

__all__ = ("QueueEventPublisher",)

logger = logging.getLogger("litestar_queues.events")


class QueueEventPublisher:
    """Resolves an event's channels and hands it to every sink.

    In best-effort mode (the default) a failing or slow sink is logged and skipped after
    ``publish_timeout``; in strict mode the failure raises :class:`EventPublishError`.

    Args:
        sinks: Where events go.
        publish_global_lifecycle: Also publish lifecycle events on the global channel.
        publish_queue_channel: Also publish task-scoped events on their queue's channel (off
            here; :class:`QueueEventConfig` turns it on by default and passes its setting).
        strict: Raise on publish failures.
        publish_timeout: Seconds one sink may take for one event.
    """

    __slots__ = ("publish_global_lifecycle", "publish_queue_channel", "publish_timeout", "sinks", "strict")

    def __init__(
        self,
        sinks: Sequence[EventSink],
        *,
        publish_global_lifecycle: bool = False,
        publish_queue_channel: bool = False,
        strict: bool = False,
        publish_timeout: float = 2.0,
    ) -> None:
        self.sinks = list(sinks)
        self.publish_global_lifecycle = publish_global_lifecycle
        self.publish_queue_channel = publish_queue_channel
        self.strict = strict
        self.publish_timeout = publish_timeout

    @classmethod
    def from_config(cls, config: QueueEventConfig | None) -> QueueEventPublisher | None:
        """Build a publisher, or ``None`` when events are disabled."""
        if config is None or not config.enabled:
            return None
        return cls(
            config.build_sinks(),
            publish_global_lifecycle=config.publish_global_lifecycle,
            publish_queue_channel=config.publish_queue_channel,
            strict=config.strict,
            publish_timeout=config.publish_timeout,
        )

    def channels_for(self, event: QueueEvent, extra: Iterable[str] = ()) -> list[str]:
        """Return the channels ``event`` goes to: canonical, queue, global (lifecycle), then ``extra``."""
        include_global = self.publish_global_lifecycle and event.type in LIFECYCLE_EVENT_TYPES
        return resolve_channels(
            event, include_queue=self.publish_queue_channel, include_global=include_global, extra=extra
        )

    async def publish(self, event: QueueEvent, channels: Iterable[str] = ()) -> None:
        """Publish ``event`` to every sink.

        Raises:
            EventPublishError: A sink failed or timed out, in strict mode only.
        """
        resolved = self.channels_for(event, channels)
        for sink in self.sinks:
            try:
                with anyio.fail_after(self.publish_timeout):
                    # by keyword: sinks may declare ``channels`` keyword-only (as 0.1.0 users did)
                    await sink.publish(event, channels=resolved)
            except Exception as exc:
                if self.strict:
                    raise EventPublishError(
                        f"event sink {type(sink).__name__} failed to publish {event.type}: {exc!r}"
                    ) from exc
                logger.warning(
                    "event sink %s failed to publish %s for task %s: %r",
                    type(sink).__name__,
                    event.type,
                    event.task_id,
                    exc,
                )
