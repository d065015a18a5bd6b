"""A worker configuration for the fault tests, run by ``litestar-queues worker`` in subprocesses.

Environment: ``LQ_REDIS_URL`` (backend URL with key prefix), ``LQ_LEASE`` (lease seconds).
Tasks record their executions in Redis (``HINCRBY``), so the test can count them.
"""

from __future__ import annotations

import os
import uuid  # noqa: TC003 (the task signature is inspected at runtime)

import anyio
import redis.asyncio as aioredis

from litestar_queues import Backoff, QueueConfig, TaskRegistry, WorkerConfig, task

URL = os.environ.get("LQ_REDIS_URL", "redis://127.0.0.1:6379/0?key_prefix=unset")
registry = TaskRegistry()
_clients: dict[str, aioredis.Redis] = {}


def raw_client() -> aioredis.Redis:
    if "raw" not in _clients:
        _clients["raw"] = aioredis.Redis.from_url(URL.split("?", 1)[0])
    return _clients["raw"]


@task("fault.count", registry=registry, retries=10, backoff=Backoff(initial=0.2, maximum=1.0, jitter=0))
async def count(tag: str, seconds: float = 0.0, _job_id: uuid.UUID | None = None) -> str:
    """Mark the start, optionally sleep, then count one finished execution of this task."""
    client = raw_client()
    if seconds:
        await client.hincrby(f"{tag}:started", str(_job_id), 1)
        await anyio.sleep(seconds)
    await client.hincrby(f"{tag}:executions", str(_job_id), 1)
    return str(_job_id)


config = QueueConfig(
    queue_backend=URL,
    registry=registry,
    worker=WorkerConfig(
        lease_seconds=float(os.environ.get("LQ_LEASE", "30")),
        concurrency=10,
        shutdown_grace=5.0,
        poll_interval=0.5,
    ),
)
