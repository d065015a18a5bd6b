"""Waiting on the server: wake-up lists for idle workers, pub/sub for finished records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from litestar_queues.exceptions import MalformedRecordError
from litestar_queues_redis._codec import decode_reply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.client import PubSub

    from litestar_queues.models import TaskRecord

_MAX_IDLE_SUBSCRIBERS = 16


def decode_done(task_id: UUID, data: bytes | str) -> TaskRecord | None:
    """The terminal record a done message carries, or ``None`` (the waiter reads the record).

    ``settle()`` in ``lua/common.lua`` sends ``<#rec>:<rec><#meta>:<meta><history>`` (the reply
    of ``get``, framed by byte lengths), or a word alone: the status while nobody subscribed or
    for a record too large to carry, ``deleted``, ``buried``. Anything that does not read as a
    terminal record of ``task_id`` is ``None``.
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        rec_size, _, rest = raw.partition(b":")
        rec, rest = rest[: int(rec_size)], rest[int(rec_size) :]
        meta_size, _, rest = rest.partition(b":")
        meta, history = rest[: int(meta_size)], rest[int(meta_size) :]
        if len(rec) != int(rec_size) or len(meta) != int(meta_size):
            return None  # cut short: not a message settle() wrote
        record = decode_reply([str(task_id).encode(), rec, meta, history or None])
    except (ValueError, MalformedRecordError):
        return None
    return record if record.is_terminal else None


async def _receive(pubsub: PubSub, channel: bytes, kind: str, deadline: float) -> dict[str, Any] | None:
    """Read messages until one of ``kind`` arrives on ``channel``; ``None`` at the deadline."""
    while True:
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return None
        message: dict[str, Any] | None = await pubsub.get_message(timeout=remaining)
        if message is not None and message["type"] == kind and message["channel"] == channel:
            return message


class FinishWaiter:
    """Waits for a record's ``done`` channel, reusing idle pub/sub connections."""

    __slots__ = ("_client", "_idle")

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._idle: list[PubSub] = []

    async def wait(
        self,
        channel: str,
        look: Callable[[], Awaitable[TaskRecord | None]],
        read: Callable[[bytes], TaskRecord | None],
        timeout: float,
    ) -> TaskRecord | None:
        """Subscribe to ``channel``, then look at the record, then wait for a message.

        The subscription is confirmed by the server before ``look`` reads the record, so a
        completion between the read and the wait cannot be missed.

        Returns:
            The record ``look`` found when it is terminal (or ``None`` when it found none), else
            what ``read`` makes of the message, else ``None`` (the deadline passed).
        """
        deadline = anyio.current_time() + timeout
        name = channel.encode()
        pubsub = self._idle.pop() if self._idle else self._client.pubsub()
        reusable = False
        found: TaskRecord | None = None
        try:
            await pubsub.subscribe(channel)
            if await _receive(pubsub, name, "subscribe", deadline) is not None:
                found = await look()
                if found is not None and not found.is_terminal:
                    message = await _receive(pubsub, name, "message", deadline)
                    found = None if message is None else read(message["data"])
            await pubsub.unsubscribe(channel)
            reusable = True
        finally:
            if reusable and len(self._idle) < _MAX_IDLE_SUBSCRIBERS:
                self._idle.append(pubsub)
            else:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
        return found

    async def close(self) -> None:
        """Close the idle pub/sub connections."""
        idle, self._idle = self._idle, []
        for pubsub in idle:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
