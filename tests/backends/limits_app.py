"""A worker configuration for the limits tests, run by ``litestar-queues worker`` in subprocesses.

Environment: ``LQ_URL`` (the queue backend), ``LQ_COUNTER`` (a Redis URL: the counters the tasks
keep, outside the queue backend), ``LQ_LEASE`` (lease seconds). The queues ``capped`` (at most 3
running), ``rated`` (60 starts a second) and ``keyed`` (one running per limit key) are limited
by the configuration, which each worker writes to the store when it starts.

Each run of ``limits.work`` counts itself running in Redis from its first line to its last
(``INCR``, and the highest value seen, in one script; ``DECR`` at the end, before its worker
reports the outcome), and notes its start time: what the tasks see, independently of the store.
"""

from __future__ import annotations

import os
import time

import anyio
import redis.asyncio as aioredis

from litestar_queues import QueueConfig, QueueLimit, TaskRegistry, WorkerConfig, task

URL = os.environ.get("LQ_URL", "memory://")
COUNTER = os.environ.get("LQ_COUNTER", "redis://127.0.0.1:6379/0")
LIMITS = {
    "capped": QueueLimit(concurrency=3),
    "rated": QueueLimit(rate=60, per=1.0),
    "keyed": QueueLimit(key_concurrency=1),
}
registry = TaskRegistry()
_clients: dict[str, aioredis.Redis] = {}

# one running more, and the highest number seen running at once
_ENTER = """
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n
"""


def counters() -> aioredis.Redis:
    """The Redis client of the counters (one per process)."""
    if "counter" not in _clients:
        _clients["counter"] = aioredis.Redis.from_url(COUNTER)
    return _clients["counter"]


@task("limits.work", registry=registry)
async def work(tag: str, seconds: float = 0.0) -> None:
    """Count this run in ``{tag}:running`` (its peak in ``{tag}:max``) while it sleeps ``seconds``."""
    client = counters()
    await client.eval(_ENTER, 2, f"{tag}:running", f"{tag}:max")  # type: ignore[misc]
    await client.rpush(f"{tag}:starts", repr(time.time()))  # type: ignore[misc]
    try:
        await anyio.sleep(seconds)
    finally:
        await client.decr(f"{tag}:running")
    await client.incr(f"{tag}:done")


config = QueueConfig(
    queue_backend=URL,
    registry=registry,
    limits=LIMITS,
    worker=WorkerConfig(
        lease_seconds=float(os.environ.get("LQ_LEASE", "30")),
        concurrency=10,
        shutdown_grace=5.0,
        poll_interval=0.5,
        # a reclaimed record runs beside others: the kill test watches the freed slots, not isolation
        isolate_reclaimed=False,
        scheduler=False,
    ),
)
