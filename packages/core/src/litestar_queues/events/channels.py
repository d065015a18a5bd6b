"""Canonical channel names for queue events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar_queues.events.envelope import QueueEvent

__all__ = ("CHANNEL_PREFIX", "DEFAULT_TOPIC", "QueueChannels", "resolve_channels")

CHANNEL_PREFIX = "litestar_queues"


DEFAULT_TOPIC = "events"
"""The topic of the canonical channels, the only names litestar-queues 0.1.0 had."""


def _topic(topic: str) -> str:
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"a channel topic must be a non-empty string, got {topic!r}")
    return topic


class QueueChannels:
    """Builds channel names: ``litestar_queues:<scope>:<key>:<topic>``, global ones without a key.

    The topic defaults to ``events``, which gives the canonical channel of a scope, the one the
    publisher resolves for every event (``QueueChannels.task(id)`` is
    ``litestar_queues:task:<id>:events``). Any other topic names a sub-channel
    (``QueueChannels.task(id, topic="progress")`` is ``litestar_queues:task:<id>:progress``):
    nothing is published there unless a task passes it as an explicit channel.
    """

    __slots__ = ()

    @staticmethod
    def task(task_id: object, *, topic: str = DEFAULT_TOPIC) -> str:
        """Channel of one task's events (``topic``: a sub-channel instead of ``events``)."""
        return f"{CHANNEL_PREFIX}:task:{task_id}:{_topic(topic)}"

    @staticmethod
    def queue(name: str, *, topic: str = DEFAULT_TOPIC) -> str:
        """Channel of one queue's events (``topic``: a sub-channel instead of ``events``)."""
        return f"{CHANNEL_PREFIX}:queue:{name}:{_topic(topic)}"

    @staticmethod
    def worker(worker_id: str, *, topic: str = DEFAULT_TOPIC) -> str:
        """Channel of one worker's events (``topic``: a sub-channel instead of ``events``)."""
        return f"{CHANNEL_PREFIX}:worker:{worker_id}:{_topic(topic)}"

    @staticmethod
    def global_channel(*, topic: str = DEFAULT_TOPIC) -> str:
        """The global channel (lifecycle of every task when enabled); it has no key."""
        return f"{CHANNEL_PREFIX}:global:{_topic(topic)}"

    @staticmethod
    def custom(scope_key: str, *, topic: str = DEFAULT_TOPIC) -> str:
        """A custom channel (``topic``: a sub-channel instead of ``events``)."""
        return f"{CHANNEL_PREFIX}:custom:{scope_key}:{_topic(topic)}"


def _scope_channel(event: QueueEvent) -> str | None:
    if event.scope == "global":
        return QueueChannels.global_channel()
    key = event.scope_key
    if event.scope == "task":
        key = key or event.task_id
        return QueueChannels.task(key) if key else None
    if event.scope == "queue":
        key = key or event.queue
        return QueueChannels.queue(key) if key else None
    if event.scope == "worker":
        key = key or event.worker_id
        return QueueChannels.worker(key) if key else None
    return QueueChannels.custom(key) if key else None


def resolve_channels(
    event: QueueEvent,
    *,
    include_queue: bool = False,
    include_global: bool = False,
    extra: Iterable[str] = (),
) -> list[str]:
    """Return the channels ``event`` is published on, without duplicates, in order.

    The order is: the canonical channel of the event's scope, its queue's channel, the global
    channel, then ``extra``.

    Args:
        event: The event.
        include_queue: Add the channel of the event's queue when it is task-scoped and has one
            (``publish_queue_channel``).
        include_global: Add the global channel (lifecycle events with ``publish_global_lifecycle``).
        extra: Explicit channels, appended after the canonical ones.
    """
    channels: list[str] = []
    canonical = _scope_channel(event)
    if canonical is not None:
        channels.append(canonical)
    if include_queue and event.scope == "task" and event.queue:
        channels.append(QueueChannels.queue(event.queue))
    if include_global:
        channels.append(QueueChannels.global_channel())
    channels.extend(extra)
    return list(dict.fromkeys(channels))
