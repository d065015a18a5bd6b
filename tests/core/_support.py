"""Helpers shared by the core and events tests: a manual clock and a small config builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from litestar_queues import MemoryQueueBackend, QueueConfig, TaskRegistry, WorkerConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

START = datetime(2030, 1, 1, tzinfo=UTC)


class ManualClock:
    """A real implementation of the Clock port whose time moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def fast_worker(**overrides: Any) -> WorkerConfig:
    """Worker settings for tests: quick polls and heartbeats, short grace."""
    values: dict[str, Any] = {
        "poll_interval": 0.05,
        "lease_seconds": 5.0,
        "heartbeat_interval": 0.05,
        "reclaim_interval": 0.05,
        "shutdown_grace": 5.0,
    }
    values.update(overrides)
    return WorkerConfig(**values)


def make_config(registry: TaskRegistry, **overrides: Any) -> QueueConfig:
    """A config on a fresh memory backend with the given registry."""
    overrides.setdefault("queue_backend", MemoryQueueBackend())
    overrides.setdefault("worker", fast_worker())
    return QueueConfig(registry=registry, **overrides)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(0.01)
