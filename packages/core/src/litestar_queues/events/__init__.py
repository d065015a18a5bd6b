"""Queue events: the envelope, channel names, sinks and the task-side helpers.

``stream_queue_events`` and ``ChannelsQueueEventSink`` come from the Litestar adapter
(``litestar-queues-litestar``) and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar_queues._lazy import adapter_exports
from litestar_queues.events.channels import QueueChannels
from litestar_queues.events.config import QueueEventConfig
from litestar_queues.events.context import (
    TaskExecutionContext,
    current_task_context,
    publish_task_event,
    publish_task_log,
    publish_task_progress,
)
from litestar_queues.events.envelope import (
    LIFECYCLE_EVENT_TYPES,
    SCHEMA_VERSION,
    QueueEvent,
    decode_event,
    encode_event,
)
from litestar_queues.events.publisher import QueueEventPublisher
from litestar_queues.events.sinks import InMemoryQueueEventSink

if TYPE_CHECKING:
    from litestar_queues_litestar.channels_sink import ChannelsQueueEventSink
    from litestar_queues_litestar.streaming import stream_queue_events

__all__ = (
    "LIFECYCLE_EVENT_TYPES",
    "SCHEMA_VERSION",
    "ChannelsQueueEventSink",
    "InMemoryQueueEventSink",
    "QueueChannels",
    "QueueEvent",
    "QueueEventConfig",
    "QueueEventPublisher",
    "TaskExecutionContext",
    "current_task_context",
    "decode_event",
    "encode_event",
    "publish_task_event",
    "publish_task_log",
    "publish_task_progress",
    "stream_queue_events",
)

_LAZY = {
    "ChannelsQueueEventSink": "litestar_queues_litestar.channels_sink",
    "stream_queue_events": "litestar_queues_litestar.streaming",
}


__getattr__ = adapter_exports(__name__, _LAZY, globals())
