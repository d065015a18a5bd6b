"""Fixtures of the Redis backend tests: an open backend and a raw client on the session server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from litestar_queues_redis import RedisQueueBackend

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisQueueBackend]:
    backend = RedisQueueBackend(url=redis_url)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url.split("?", 1)[0])
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def short_lived(redis_url: str) -> AsyncIterator[RedisQueueBackend]:
    """A backend whose finished records Redis expires after 50 ms."""
    backend = RedisQueueBackend(url=redis_url, result_ttl=0.05)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
