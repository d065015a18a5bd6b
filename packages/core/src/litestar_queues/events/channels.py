"""Canonical channel names for queue events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar_queues.events.envelope import QueueEvent

__all__ = ("CHANNEL_PREFIX", "QueueChannels", "resolve_channels")

CHANNEL_PREFIX = "litestar_queues"


class QueueChannels:
    """Builds the canonical channel names: ``litestar_queues:<scope>[:<key>]:events``."""

    __slots__ = ()

    @staticmethod
    def task(task_id: object) -> str:
        """Channel of one task's events."""
        return f"{CHANNEL_PREFIX}:task:{task_id}:events"

    @staticmethod
    def queue(name: str) -> str:
        """Channel of one queue's events."""
        return f"{CHANNEL_PREFIX}:queue:{name}:events"

    @staticmethod
    def worker(worker_id: str) -> str:
        """Channel of one worker's events."""
        return f"{CHANNEL_PREFIX}:worker:{worker_id}:events"

    @staticmethod
    def global_channel() -> str:
        """The global channel (lifecycle of every task when enabled)."""
        return f"{CHANNEL_PREFIX}:global:events"

    @staticmethod
    def custom(scope_key: str) -> str:
        """A custom channel."""
        return f"{CHANNEL_PREFIX}:custom:{scope_key}:events"


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
    event: QueueEvent, *, include_global: bool = False, extra: Iterable[str] = ()
) -> list[str]:
    """Return the channels ``event`` is published on, without duplicates, in order.

    Args:
        event: The event.
        include_global: Add the global channel (lifecycle events with ``publish_global_lifecycle``).
        extra: Explicit channels, appended after the canonical ones.
    """
    channels: list[str] = []
    canonical = _scope_channel(event)
    if canonical is not None:
        channels.append(canonical)
    if include_global:
        channels.append(QueueChannels.global_channel())
    channels.extend(extra)
    return list(dict.fromkeys(channels))
