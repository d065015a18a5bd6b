"""Waiting on the server: wake-up lists for idle workers, pub/sub for finished records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.client import PubSub

_MAX_IDLE_SUBSCRIBERS = 16


async def _receive(pubsub: PubSub, channel: bytes, kind: str, deadline: float) -> bool:
    """Read messages until one of ``kind`` arrives on ``channel``; ``False`` at the deadline."""
    while True:
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return False
        message: dict[str, Any] | None = await pubsub.get_message(timeout=remaining)
        if message is not None and message["type"] == kind and message["channel"] == channel:
            return True


class FinishWaiter:
    """Waits for a record's ``done`` channel, reusing idle pub/sub connections."""

    __slots__ = ("_client", "_idle")

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._idle: list[PubSub] = []

    async def wait(self, channel: str, is_done: Callable[[], Awaitable[bool]], timeout: float) -> None:
        """Subscribe to ``channel``, then return at once if ``is_done()``, else on a message.

        The subscription is confirmed by the server before ``is_done`` reads the record, so a
        completion between the read and the wait cannot be missed.
        """
        deadline = anyio.current_time() + timeout
        name = channel.encode()
        pubsub = self._idle.pop() if self._idle else self._client.pubsub()
        reusable = False
        try:
            await pubsub.subscribe(channel)
            if await _receive(pubsub, name, "subscribe", deadline) and not await is_done():
                await _receive(pubsub, name, "message", deadline)
            await pubsub.unsubscribe(channel)
            reusable = True
        finally:
            if reusable and len(self._idle) < _MAX_IDLE_SUBSCRIBERS:
                self._idle.append(pubsub)
            else:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the idle pub/sub connections."""
        idle, self._idle = self._idle, []
        for pubsub in idle:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
