"""Fixtures of the Litestar adapter tests: Redis and shared-queue URLs, registry and polling helpers."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.servers import RedisServer


def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition", interval: float = 0.01
) -> None:
    """Poll ``predicate`` (the app runs on another thread in TestClient) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def litestar_redis_url(redis_server: RedisServer) -> str:
    """The URL of this session's redis-server (tests/fixtures/redis.py) for Channels backends."""
    return redis_server.url


@pytest.fixture
def shared_queue_url(sqlite_url: str) -> str:
    """A queue backend URL that several processes share: a fresh SQLite file."""
    return sqlite_url
