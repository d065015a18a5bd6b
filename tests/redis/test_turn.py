"""Turns of a duty on the Redis backend (``take_turn``): one holder at a time, by the caller's clock.

Beyond the contract kit: grant, refusal, extension and the end of a turn at its exact boundary,
the stored hash and its safety-net expiry, times far from the server's clock, and concurrent
calls from two clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import pytest

from litestar_queues_redis import RedisQueueBackend
from litestar_queues_redis._codec import to_us
from tests.redis._support import at

if TYPE_CHECKING:
    import redis.asyncio as aioredis

pytestmark = pytest.mark.anyio


async def take(
    backend: RedisQueueBackend, holder: str, now: float, until: float, duty: str = "sweep"
) -> bool:
    return await backend.take_turn(duty, holder=holder, now=at(now), until=at(until))


async def test_a_turn_is_granted_refused_extended_and_ends(backend: RedisQueueBackend) -> None:
    assert await take(backend, "w1", now=0, until=60)  # never held
    assert not await take(backend, "w2", now=30, until=90)  # w1's turn is live
    assert await take(backend, "w1", now=40, until=100)  # w1 again: moved to 100
    assert not await take(backend, "w2", now=70, until=130)  # live until 100 now, not 60
    assert not await take(backend, "w2", now=99.999, until=130)
    assert await take(backend, "w2", now=100, until=160)  # ended: until <= now
    assert not await take(backend, "w1", now=110, until=170)
    assert await take(backend, "w1", now=110, until=170, duty="other")  # duties are independent
    assert await take(backend, "w1", now=200, until=260)


async def test_the_turn_is_stored_with_a_safety_net_expiry(
    backend: RedisQueueBackend, raw: aioredis.Redis
) -> None:
    assert await take(backend, "worker-1", now=0, until=60)
    key = backend.keys.turn("sweep")
    assert await raw.hgetall(key) == {b"holder": b"worker-1", b"until": to_us(at(60)).encode()}
    ttl = await raw.pttl(key)
    assert 60_000 < ttl <= 60_000 * 1.1 + 1000  # a little longer than the turn
    await raw.delete(key)  # what the safety net does long after the turn: anyone may take it
    assert await take(backend, "worker-2", now=1, until=61)


async def test_only_the_callers_times_count(backend: RedisQueueBackend, raw: aioredis.Redis) -> None:
    """Times decades away from the server's clock: the stored end decides, never the server's."""
    past = datetime(1990, 1, 1, tzinfo=UTC)
    assert await backend.take_turn("d", holder="a", now=past, until=past + timedelta(seconds=5))
    assert not await backend.take_turn("d", holder="b", now=past + timedelta(seconds=4), until=past)
    assert await backend.take_turn(
        "d", holder="b", now=past + timedelta(seconds=5), until=past + timedelta(hours=1)
    )
    assert await raw.pttl(backend.keys.turn("d")) > 3_600_000
    far = datetime(2200, 1, 1, tzinfo=UTC)
    assert not await backend.take_turn("d", holder="a", now=past + timedelta(minutes=59), until=far)
    assert await backend.take_turn("d", holder="a", now=far, until=far + timedelta(seconds=1))


async def test_concurrent_calls_from_two_clients_grant_one_turn(redis_url: str) -> None:
    """20 holders ask at once, 10 through each client: exactly one gets each turn."""
    clients = [RedisQueueBackend(url=redis_url), RedisQueueBackend(url=redis_url)]
    for client in clients:
        await client.open()
    try:
        for round_ in range(10):
            granted: list[str] = []
            start = float(round_ * 100)

            async def ask(
                client: RedisQueueBackend, holder: str, start: float = start, granted: list[str] = granted
            ) -> None:
                if await client.take_turn("sweep", holder=holder, now=at(start), until=at(start + 60)):
                    granted.append(holder)

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(ask, clients[i % 2], f"h{round_}-{i}")
            assert len(granted) == 1, granted
            # and nobody else while it lasts, whoever asks through either client
            for i, client in enumerate(clients):
                assert not await client.take_turn(
                    "sweep", holder=f"late{i}", now=at(start + 59), until=at(start + 90)
                )
    finally:
        for client in clients:
            await client.close()
